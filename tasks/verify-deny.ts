/**
 * Verify deny: after the flip, read the endpoint policy back, then poll every zone's endpoint ENI
 * (by its zonal name) until the run's own Deny refuses the probe there — a 403 "with an explicit
 * deny in a VPC endpoint policy" naming one of the run's model ARNs, through that zone's ENI — and,
 * once it has in every zone, keep calling every zone for a settle window: any success or other
 * refusal in a zone after its first refusal means the Deny is not stable. Read the policy back
 * once more at the end. A timeout, a DNS failure, "no access to model", an implicit refusal or an
 * identity-policy refusal is NOT the run's Deny.
 */
import type { MatrixCell, Observation, ProbeResult, VerifyDenyOutput } from '../statemachine/contract.ts';
import { createLogger } from './lib/log.ts';
import { notRunCells } from './lib/matrix-cells.ts';
import { cellDeadlineMs, runMatrixPhase } from './lib/matrix-run.ts';
import { policyReadback, throughTheseEnis } from './lib/observations.ts';
import { refusedResource } from './lib/outcomes.ts';
import { arnMatches } from './lib/policy-compare.ts';
import {
  checkFrom,
  endedUnobserved,
  explainOutcome,
  timelineLines,
  unobservedLast,
} from './lib/probe-runs.ts';
import { type EndpointReading, readEndpoint, readOr } from './lib/readback.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs } from './lib/waiter.ts';
import { judgeDenyRounds, pollDenyRounds, roundsAsPoll, throughZoneEni, zoneTargets } from './lib/zones.ts';

/** Margin left for the read-back and the return after the settle window (Lambda time). */
const END_MARGIN_MS = 20_000;

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<VerifyDenyOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const endpoint = required(state.provisioned?.endpoint, 'endpoint');
  const probe = required(state.provisioned?.probe, 'probe');
  const flip = required(state.flip, 'the policy flip');
  const log = createLogger('VerifyDeny', { runId: input.runId });
  const observations: Observation[] = [];
  const flippedMs = Date.parse(flip.flippedAt);
  const arns = preflight.modelResourceArns;

  /** Read the endpoint back and record whether its policy is still the Deny the run wrote (obligation 3). */
  const readBack = async (when: string): Promise<EndpointReading | undefined> => {
    const reading = await readOr(
      'policy-in-force-is-policy-written',
      `the endpoint ${endpoint.vpcEndpointId}`,
      () => readEndpoint(input.region, endpoint.vpcEndpointId),
    );
    if (!('value' in reading)) {
      observations.push(reading.unobserved);
      return undefined;
    }
    observations.push(policyReadback(when, reading.value, flip.endpointPolicy));
    return reading.value;
  };

  const enis = await readBack('after the flip');
  const ownAddresses = new Set(enis?.enis.map((n) => n.privateIp) ?? []);

  // One call per zone, by the endpoint's zonal name (tasks/lib/zones.ts); when the endpoint could
  // not be read, the regional name is all there is to call (the zones are then not proven).
  const { targets } = enis ? zoneTargets(enis, preflight.availabilityZones) : { targets: [] };
  const rounds =
    targets.length > 0
      ? targets.map((t) => ({ zone: t.zone, endpointHost: t.dnsName }))
      : [{ zone: 'regional name' }];
  const targetOf = new Map(targets.map((t) => [t.zone, t]));

  /** The run's own Deny: explicit, in the endpoint policy, on one of the run's model ARNs, through this endpoint (that zone's ENI). */
  const isOwnDeny = (r: ProbeResult, zone: string) => {
    if (r.outcome !== 'denied-by-endpoint-policy') return false;
    const res = refusedResource(r.errorMessage);
    if (res === undefined || !arns.some((a) => arnMatches(a, res))) return false;
    const t = targetOf.get(zone);
    if (t) return throughZoneEni(r, t);
    return (
      enis === undefined ||
      (r.resolvedAddresses.length > 0 && r.resolvedAddresses.every((a) => ownAddresses.has(a)))
    );
  };

  // The settle window, asked for when the Deny has reached every zone: within the Lambda's remaining time.
  const settleMs = () => {
    const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    return Math.max(0, Math.min(input.options.denySettleSeconds * 1000, remaining - END_MARGIN_MS));
  };
  const r = await pollDenyRounds({
    input,
    functionName: probe.functionName,
    targets: rounds,
    isOwnDeny,
    timeoutMs: budgetMs(input.deadlines.verifyDenySeconds, context),
    settleMs,
    log,
  });

  const zones = rounds.map((t) => t.zone);
  const finding = judgeDenyRounds(
    r,
    zones,
    isOwnDeny,
    flippedMs,
    input.options.denySettleSeconds,
    input.deadlines.verifyDenySeconds,
  );
  // The perimeter's after-deny rows: made once the run's own Deny is seen refusing everywhere,
  // before the last read-back, so the policy they ran under is the one read back.
  let matrix: MatrixCell[] | undefined;
  if (input.perimeter) {
    matrix =
      finding.status === 'passed'
        ? await runMatrixPhase({
            input,
            phase: 'after-deny',
            probe,
            reading: enis,
            intervalMs: input.options.probeIntervalSeconds * 1000,
            deadlineMs: cellDeadlineMs(context),
            log,
          })
        : notRunCells(
            input.perimeter,
            'after-deny',
            probe.unlistedModelId,
            "not run: the run's own Deny was not seen refusing in every zone, so no call after it would prove anything",
          );
  }

  await readBack('at the end of the deny window');

  const p = roundsAsPoll(r, finding);
  const timeline = [...finding.zoneLines, ...timelineLines(r.calls, flippedMs, 'flip')];
  const seconds = (ms: number) => Math.round((ms - flippedMs) / 100) / 10;

  let status: VerifyDenyOutput['status'];
  let reason: string;
  let propagationSeconds: number | undefined;
  let stableAfterSeconds: number | undefined;
  if (finding.firstRefusalAtMs !== undefined) {
    // First refusal anywhere; "refused everywhere from then on" only if the window ended refusing in every zone.
    propagationSeconds = seconds(finding.firstRefusalAtMs);
    if (finding.everywhereFromMs !== undefined) stableAfterSeconds = seconds(finding.everywhereFromMs);
    status = finding.status;
    reason = finding.reason!;
    observations.push({
      obligation: 'own-deny-refuses-stably',
      result: status,
      observed: reason,
      evidence: timeline,
    });
    if (enis && finding.firstRefusal)
      observations.push(throughTheseEnis('refused call', finding.firstRefusal, enis));
  } else if (endedUnobserved(p)) {
    status = 'could-not-verify';
    const last = r.calls[r.calls.length - 1];
    reason = `the deny phase could not be observed within ${input.deadlines.verifyDenySeconds} s: ${unobservedLast(last)}`;
    observations.push({
      obligation: 'own-deny-refuses-stably',
      result: 'could-not-verify',
      observed: reason,
      evidence: timeline,
    });
  } else {
    status = 'failed';
    const last = p.last!;
    if (p.outcomesSeen.includes('allowed') && last.outcome === 'allowed') {
      reason = `the endpoint policy Deny was not enforced: InvokeModel kept succeeding after the flip and the run's Deny never refused it within ${input.deadlines.verifyDenySeconds} s`;
    } else if (last.outcome === 'denied-by-endpoint-policy') {
      reason = `a VPC endpoint policy refused the call, but not the run's Deny on ${arns.join(', ')} through ${endpoint.vpcEndpointId} (${refusedResource(last.errorMessage) ?? 'no resource named'}; via ${last.resolvedAddresses.join(', ')})`;
    } else {
      reason = `the run's Deny never refused the call within ${input.deadlines.verifyDenySeconds} s; last outcome: ${explainOutcome(last.outcome)} (not the run's Deny)`;
    }
    observations.push({
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      observed: reason,
      evidence: timeline,
    });
  }
  const check = checkFrom(
    'deny',
    'denied-by-endpoint-policy',
    p,
    status,
    reason,
    observations,
    p.firstMatch ?? p.last,
  );
  log.info('deny check finished', { status: check.status, propagationSeconds, stableAfterSeconds, reason });
  return {
    ...check,
    ...(matrix ? { matrix } : {}),
    ...(propagationSeconds !== undefined ? { propagationSeconds } : {}),
    ...(stableAfterSeconds !== undefined ? { stableAfterSeconds } : {}),
  };
}
