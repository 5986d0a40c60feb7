/**
 * The proof in every zone. The service's regional name resolves to all of the endpoint's ENIs and
 * the client picks one, so a call by that name proves one zone only; each ENI enforces the
 * endpoint policy on its own (a Deny can reach the zones at different times, or one zone not at
 * all) and an endpoint can lose its ENI in a subnet. So the probe also calls each zone by the
 * endpoint's zonal DNS name from `DnsEntries` (`vpce-<id>-<suffix>-<az>.<service>.<region>.vpce.amazonaws.com`),
 * which resolves to that zone's ENI only: the allow must succeed, and the run's Deny refuse and
 * keep refusing, through the ENI of every zone the run built a subnet in.
 *
 * Zonal names and their syntax (endpoint_id-zone.endpoint_service_id.region.vpce.amazonaws.com):
 * https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-share-your-services.html (DNS
 * hostnames); requests may be sent to a zonal-specific DNS hostname, one per Availability Zone:
 * https://docs.aws.amazon.com/whitepapers/latest/aws-privatelink/creating-highly-available-endpoint-services.html
 */
import type { ExecutionInput, Observation, ProbeResult } from '../../statemachine/contract.ts';
import type { Logger } from './log.ts';
import { errorCode, isUnobservedOutcome } from './outcomes.ts';
import {
  endedUnobserved,
  explainOutcome,
  invokeProbe,
  type PollProbeResult,
  pollProbe,
  retryableInvoke,
  type TimelineEntry,
  timelineLines,
  unobservedLast,
} from './probe-runs.ts';
import type { EndpointEni, EndpointReading } from './readback.ts';

/** One zone to prove: its name, the endpoint's zonal DNS name there and its ENI. */
export interface ZoneTarget {
  zone: string;
  dnsName: string;
  eni: EndpointEni;
}

/** A zonal name's first label ends with its zone: `vpce-0a1b…-x1y2z3-us-east-1a`. */
export function zonalDnsName(reading: EndpointReading, zone: string): string | undefined {
  return reading.dnsNames.find(
    (n) => n.endsWith('.vpce.amazonaws.com') && (n.split('.')[0] ?? '').endsWith(`-${zone}`),
  );
}

/**
 * The zones to prove (the zones of the run's subnets) and, for each, the endpoint's ENI and zonal
 * name there; a zone without either is one no call can be proven through.
 */
export function zoneTargets(
  reading: EndpointReading,
  zones: string[],
): { targets: ZoneTarget[]; missing: { zone: string; why: string }[] } {
  const targets: ZoneTarget[] = [];
  const missing: { zone: string; why: string }[] = [];
  for (const zone of zones) {
    const eni = reading.enis.find((n) => n.availabilityZone === zone);
    const dnsName = zonalDnsName(reading, zone);
    if (!eni) missing.push({ zone, why: `${reading.vpcEndpointId} has no network interface in ${zone}` });
    else if (!dnsName)
      missing.push({ zone, why: `${reading.vpcEndpointId}'s DnsEntries have no zonal name for ${zone}` });
    else targets.push({ zone, dnsName, eni });
  }
  return { targets, missing };
}

const eniOf = (t: ZoneTarget) => `${t.eni.networkInterfaceId}, ${t.eni.privateIp}`;

/** The call went to this zone's ENI and nowhere else. */
export const throughZoneEni = (r: ProbeResult, t: ZoneTarget) =>
  r.resolvedAddresses.length > 0 && r.resolvedAddresses.every((a) => a === t.eni.privateIp);

// ---- allow: one success through every zone's ENI ------------------------------------------

export interface ZonesAllowed {
  observation: Observation;
  attempts: number;
}

/**
 * Call every zone by its zonal name until the allowed call succeeds there (or the time left
 * runs out): obligation 1 holds only if it succeeded through the ENI of each zone.
 */
export async function proveAllowedInEveryZone(o: {
  input: ExecutionInput;
  functionName: string;
  reading: EndpointReading;
  zones: string[];
  timeoutMs: number;
  startedMs: number;
  log: Logger;
}): Promise<ZonesAllowed> {
  const { targets, missing } = zoneTargets(o.reading, o.zones);
  const id = o.reading.vpcEndpointId;
  const deadline = Date.now() + o.timeoutMs;
  const lines: string[] = missing.map((m) => `${m.zone}: ${m.why}`);
  const failed: string[] = missing.map((m) => m.why);
  const unobserved: string[] = [];
  const passed: string[] = [];
  let attempts = 0;
  for (const t of targets) {
    const p = await pollProbe({
      input: o.input,
      functionName: o.functionName,
      endpointHost: t.dnsName,
      what: `probe allowed in ${t.zone}`,
      done: (r) => r.outcome === 'allowed',
      timeoutMs: Math.max(0, deadline - Date.now()),
      log: o.log,
    });
    attempts += p.attempts;
    lines.push(
      `${t.zone}: ${t.dnsName} (ENI ${eniOf(t)})`,
      ...timelineLines(
        p.timeline.map((e) => ({ ...e, zone: t.zone })),
        o.startedMs,
        'allow',
      ),
    );
    if (p.firstMatch) {
      if (throughZoneEni(p.firstMatch, t)) passed.push(`${t.zone} (${eniOf(t)})`);
      else
        failed.push(
          `the allowed call by ${t.dnsName} went to ${p.firstMatch.resolvedAddresses.join(', ') || 'no address'}, not to ${id}'s ENI in ${t.zone} (${t.eni.privateIp})`,
        );
    } else if (endedUnobserved(p)) {
      unobserved.push(`${t.zone}: ${unobservedLast(p.timeline[p.timeline.length - 1])}`);
    } else {
      failed.push(
        `the allowed call never succeeded through ${id}'s ENI in ${t.zone} (${eniOf(t)}): ${explainOutcome(p.last!.outcome)}`,
      );
    }
  }
  const observation: Observation = failed.length
    ? {
        obligation: 'reached-through-this-endpoint',
        result: 'failed',
        observed: `not in every zone: ${failed.join('; ')}${passed.length ? ` (it did succeed in ${passed.join(', ')})` : ''}`,
        evidence: lines,
      }
    : unobserved.length
      ? {
          obligation: 'reached-through-this-endpoint',
          result: 'could-not-verify',
          observed: `the allowed call through each zone's ENI could not be observed: ${unobserved.join('; ')}`,
          evidence: lines,
        }
      : {
          obligation: 'reached-through-this-endpoint',
          result: 'passed',
          observed: `the allowed call succeeded through ${id}'s ENI in every zone, each called by its zonal DNS name: ${passed.join(', ')}`,
          evidence: lines,
        };
  return { observation, attempts };
}

// ---- deny: refused in every zone, and kept refusing there ---------------------------------

export interface DenyRounds {
  calls: TimelineEntry[];
  /** When every zone had just refused: the settle window starts then. */
  everywhereAtMs?: number;
  attempts: number;
  elapsedMs: number;
}

/**
 * Rounds of one call per zone, every probe interval, until every zone's latest call was the run's
 * Deny; then the settle window (its length asked when it starts, to fit the Lambda's time left),
 * in every zone. Stops at the deadline if the Deny never reached every zone.
 */
export async function pollDenyRounds(o: {
  input: ExecutionInput;
  functionName: string;
  targets: { zone: string; endpointHost?: string }[];
  isOwnDeny: (r: ProbeResult, zone: string) => boolean;
  timeoutMs: number;
  settleMs: () => number;
  log: Logger;
}): Promise<DenyRounds> {
  const started = Date.now();
  const deadline = started + o.timeoutMs;
  const interval = o.input.options.probeIntervalSeconds * 1000;
  const calls: TimelineEntry[] = [];
  let everywhereAtMs: number | undefined;
  let settleUntil = Number.POSITIVE_INFINITY;
  let attempts = 0;
  for (;;) {
    const round: TimelineEntry[] = [];
    for (const t of o.targets) {
      attempts++;
      try {
        const r = await invokeProbe(o.input.region, o.functionName, {
          region: o.input.region,
          modelId: o.input.modelId,
          ...(t.endpointHost ? { endpointHost: t.endpointHost } : {}),
        });
        round.push({ atMs: Date.now(), zone: t.zone, outcome: r.outcome, result: r });
        o.log.info('probe observed', { zone: t.zone, outcome: r.outcome, resolved: r.resolvedAddresses });
      } catch (err) {
        if (!retryableInvoke(err)) throw err;
        round.push({
          atMs: Date.now(),
          zone: t.zone,
          invokeError: `${errorCode(err)}: ${(err as Error).message}`,
        });
        o.log.info('probe observed', { zone: t.zone, error: errorCode(err) });
      }
    }
    calls.push(...round);
    const now = Date.now();
    if (
      everywhereAtMs === undefined &&
      round.every((e) => e.result !== undefined && o.isOwnDeny(e.result, e.zone!))
    ) {
      everywhereAtMs = round[round.length - 1]!.atMs;
      settleUntil = now + Math.max(0, o.settleMs());
    }
    if (everywhereAtMs !== undefined ? now >= settleUntil : now >= deadline) break;
    const until = everywhereAtMs !== undefined ? settleUntil : deadline;
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, until - now))));
  }
  return {
    calls,
    ...(everywhereAtMs !== undefined ? { everywhereAtMs } : {}),
    attempts,
    elapsedMs: Date.now() - started,
  };
}

const answered = (e: TimelineEntry) =>
  e.result !== undefined && !isUnobservedOutcome(e.outcome!, e.result.httpStatus);

export interface DenyFinding {
  status: 'passed' | 'failed' | 'could-not-verify';
  /** Absent when no zone's call was ever the run's Deny: the caller explains the miss from the last call. */
  reason?: string;
  /** First refusal by the run's Deny in any zone. */
  firstRefusalAtMs?: number;
  firstRefusal?: ProbeResult;
  /** From then on every answered call in every zone was the run's Deny. */
  everywhereFromMs?: number;
  /** Per zone: first refusal, in words, for the evidence. */
  zoneLines: string[];
}

/**
 * What the rounds show, zone by zone. Any answer other than the run's Deny in a zone after that
 * zone's first refusal is "Deny not stable"; a zone never refused by the deadline means the Deny
 * did not reach it; a call not answered in the settle window leaves stability unobserved.
 */
export function judgeDenyRounds(
  r: DenyRounds,
  zones: string[],
  isOwnDeny: (res: ProbeResult, zone: string) => boolean,
  flippedMs: number,
  settleSeconds: number,
  /** The deny phase's deadline, for "never within N s". */
  deadlineSeconds?: number,
): DenyFinding {
  const at = (ms: number) => Math.round((ms - flippedMs) / 100) / 10;
  const own = (e: TimelineEntry) => e.result !== undefined && isOwnDeny(e.result, e.zone!);
  const perZone = zones.map((zone) => {
    const calls = r.calls.filter((e) => e.zone === zone);
    const firstIdx = calls.findIndex(own);
    const after = firstIdx < 0 ? [] : calls.slice(firstIdx + 1);
    const breaks = after.filter((e) => answered(e) && !own(e));
    // Refused from then on: the first own refusal after the zone's last break.
    const lastBreak = breaks[breaks.length - 1];
    const from = lastBreak
      ? calls.find((e) => e.atMs > lastBreak.atMs && own(e))
      : firstIdx >= 0
        ? calls[firstIdx]
        : undefined;
    return { zone, calls, first: firstIdx >= 0 ? calls[firstIdx] : undefined, breaks, from };
  });
  const zoneLines = perZone.map((z) =>
    z.first
      ? `${z.zone}: first refused by the run's Deny at +${at(z.first.atMs)} s${z.breaks.length ? `; ${z.breaks.length} call(s) after it were not` : ''}`
      : `${z.zone}: never refused by the run's Deny (${z.calls.length} call(s))`,
  );
  const firsts = perZone.flatMap((z) => (z.first ? [z.first] : []));
  if (firsts.length === 0) return { status: 'failed', zoneLines };
  const first = firsts.reduce((a, b) => (b.atMs < a.atMs ? b : a));
  const base = {
    firstRefusalAtMs: first.atMs,
    firstRefusal: first.result!,
    zoneLines,
  };
  const everywhereFromMs = perZone.every((z) => z.from)
    ? Math.max(...perZone.map((z) => z.from!.atMs))
    : undefined;
  const withEverywhere = everywhereFromMs !== undefined ? { everywhereFromMs } : {};

  const unstable = perZone.filter((z) => z.breaks.length > 0);
  if (unstable.length > 0) {
    const z = unstable[0]!;
    const allowed = z.breaks.filter((e) => e.outcome === 'allowed');
    const what = allowed.length
      ? `InvokeModel succeeded again ${allowed.length} time(s) (first at +${at(allowed[0]!.atMs)} s)`
      : `a call was answered ${z.breaks[0]!.outcome} at +${at(z.breaks[0]!.atMs)} s, not by the run's Deny`;
    return {
      ...base,
      ...withEverywhere,
      status: 'failed',
      reason: `Deny not stable: in ${z.zone}, after its first refusal at +${at(z.first!.atMs)} s, ${what}${
        unstable.length > 1
          ? ` (also in ${unstable
              .slice(1)
              .map((u) => u.zone)
              .join(', ')})`
          : ''
      }`,
    };
  }
  const never = perZone.filter((z) => !z.first);
  if (never.length > 0) {
    const z = never[0]!;
    const last = z.calls[z.calls.length - 1];
    const refusedIn = perZone
      .filter((y) => y.first)
      .map((y) => `${y.zone} (first at +${at(y.first!.atMs)} s)`)
      .join(', ');
    if (!last || !answered(last))
      return {
        ...base,
        status: 'could-not-verify',
        reason: `the run's Deny refused the call in ${refusedIn}, but the deny phase could not be observed in ${z.zone}: ${unobservedLast(last)}`,
      };
    const lastOutcome =
      last.outcome === 'allowed'
        ? `the endpoint policy Deny was not enforced there: InvokeModel kept succeeding through ${z.zone}'s ENI`
        : `last outcome there: ${explainOutcome(last.outcome!)} (not the run's Deny)`;
    return {
      ...base,
      status: 'failed',
      reason: `the run's Deny refused the call in ${refusedIn} but never in ${z.zone} within ${deadlineSeconds !== undefined ? `${deadlineSeconds} s` : 'the deny window'}; ${lastOutcome}`,
    };
  }
  const settle = r.everywhereAtMs === undefined ? [] : r.calls.filter((e) => e.atMs > r.everywhereAtMs!);
  const settleAnswered = settle.filter(answered);
  const gaps = settle.length - settleAnswered.length;
  const firstsText = perZone.map((z) => `${z.zone} at +${at(z.first!.atMs)} s`).join(', ');
  if (gaps > 0 || (settleAnswered.length === 0 && settleSeconds > 0))
    return {
      ...base,
      ...withEverywhere,
      status: 'could-not-verify',
      reason: `the Deny refused the call in every zone (${firstsText}) and on every answered call after it, but ${gaps} of ${settle.length} call(s) in the ${settleSeconds} s settle window were not answered, so its stability could not be observed`,
    };
  return {
    ...base,
    ...withEverywhere,
    status: 'passed',
    reason: `after the flip, the run's explicit Deny in the VPC endpoint policy refused InvokeModel (403) in every zone (${firstsText}): first refusal at +${at(first.atMs)} s, refused everywhere from +${at(everywhereFromMs ?? first.atMs)} s on, and every one of ${settleAnswered.length} call(s) in the ${settleSeconds} s settle window, in every zone`,
  };
}

/** The rounds as a poll result, for the check's attempts, outcomes seen and last observation. */
export function roundsAsPoll(r: DenyRounds, finding: DenyFinding): PollProbeResult {
  const seen: PollProbeResult['outcomesSeen'] = [];
  for (const e of r.calls) if (e.outcome && seen[seen.length - 1] !== e.outcome) seen.push(e.outcome);
  const last = [...r.calls].reverse().find((e) => e.result)?.result;
  return {
    satisfied: finding.status === 'passed',
    attempts: r.attempts,
    elapsedMs: r.elapsedMs,
    ...(last ? { last } : {}),
    ...(finding.firstRefusal
      ? { firstMatch: finding.firstRefusal, firstMatchAt: finding.firstRefusalAtMs }
      : {}),
    outcomesSeen: seen,
    timeline: r.calls,
  };
}
