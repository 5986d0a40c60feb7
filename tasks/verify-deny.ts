/**
 * Verify deny: after the flip, read the endpoint policy back, then poll until the run's own Deny
 * refuses the probe — a 403 "with an explicit deny in a VPC endpoint policy" naming one of the
 * run's model ARNs, through this endpoint's ENIs — and keep calling for a settle window: any
 * success or other refusal after the first one means the Deny is not stable. Read the policy back
 * once more at the end. A timeout, a DNS failure, "no access to model", an implicit refusal or an
 * identity-policy refusal is NOT the run's Deny.
 */
import type { Observation, ProbeResult, VerifyDenyOutput } from '../statemachine/contract.ts';
import { createLogger } from './lib/log.ts';
import { policyReadback, throughTheseEnis } from './lib/observations.ts';
import { isUnobservedOutcome, refusedResource } from './lib/outcomes.ts';
import { arnMatches } from './lib/policy-compare.ts';
import {
  checkFrom,
  endedUnobserved,
  explainOutcome,
  type PollProbeResult,
  pollProbe,
  type TimelineEntry,
  timelineLines,
  unobservedLast,
} from './lib/probe-runs.ts';
import { type EndpointReading, readEndpoint, readOr } from './lib/readback.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs } from './lib/waiter.ts';

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

  /** The run's own Deny: explicit, in the endpoint policy, on one of the run's model ARNs, through this endpoint. */
  const isOwnDeny = (r: ProbeResult) =>
    r.outcome === 'denied-by-endpoint-policy' &&
    arns.some((a) => {
      const res = refusedResource(r.errorMessage);
      return res !== undefined && arnMatches(a, res);
    }) &&
    (enis === undefined ||
      (r.resolvedAddresses.length > 0 && r.resolvedAddresses.every((a) => ownAddresses.has(a))));

  const p = await pollProbe({
    input,
    functionName: probe.functionName,
    what: 'the run’s Deny',
    done: isOwnDeny,
    timeoutMs: budgetMs(input.deadlines.verifyDenySeconds, context),
    log,
  });

  // The settle window: keep calling after the first refusal, within the Lambda's remaining time.
  let settle: PollProbeResult | undefined;
  if (p.firstMatch) {
    const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const settleMs = Math.max(0, Math.min(input.options.denySettleSeconds * 1000, remaining - END_MARGIN_MS));
    settle = await pollProbe({
      input,
      functionName: probe.functionName,
      what: 'the Deny to hold',
      done: () => false,
      neverDone: true,
      timeoutMs: settleMs,
      log,
    });
  }

  await readBack('at the end of the deny window');

  const all: TimelineEntry[] = [...p.timeline, ...(settle?.timeline ?? [])];
  const timeline = timelineLines(all, flippedMs, 'flip');
  const observedAfterFirst = (settle?.timeline ?? []).filter(
    (e) => e.result && !isUnobservedOutcome(e.outcome!, e.result.httpStatus),
  );
  const breaks = observedAfterFirst.filter((e) => !isOwnDeny(e.result!));
  // A gap in the settle window (throttled, 5xx, probe not invoked) is a stretch where the Deny was not observed.
  const gaps = (settle?.timeline ?? []).length - observedAfterFirst.length;
  const seconds = (ms: number) => Math.round((ms - flippedMs) / 100) / 10;

  let status: VerifyDenyOutput['status'];
  let reason: string;
  let propagationSeconds: number | undefined;
  let stableAfterSeconds: number | undefined;
  if (p.firstMatch && p.firstMatchAt !== undefined) {
    propagationSeconds = seconds(p.firstMatchAt);
    if (breaks.length > 0) {
      const allowed = breaks.filter((e) => e.outcome === 'allowed');
      status = 'failed';
      reason = allowed.length
        ? `Deny not stable: after the first refusal at +${propagationSeconds} s, InvokeModel succeeded again ${allowed.length} time(s) (first at +${seconds(allowed[0]!.atMs)} s)`
        : `Deny not stable: after the first refusal at +${propagationSeconds} s, a call was answered ${breaks[0]!.outcome} at +${seconds(breaks[0]!.atMs)} s, not by the run's Deny`;
      // "Refused everywhere from then on": after the last break, if the window ended refusing.
      const lastBreak = breaks[breaks.length - 1]!;
      const after = observedAfterFirst.filter((e) => e.atMs > lastBreak.atMs);
      if (after.length > 0) stableAfterSeconds = seconds(after[0]!.atMs);
      observations.push({
        obligation: 'own-deny-refuses-stably',
        result: 'failed',
        observed: reason,
        evidence: timeline,
      });
    } else if (gaps > 0 || (observedAfterFirst.length === 0 && input.options.denySettleSeconds > 0)) {
      status = 'could-not-verify';
      reason = `the Deny refused the call at +${propagationSeconds} s and on every answered call after it, but ${gaps} of ${(settle?.timeline ?? []).length} call(s) in the ${input.options.denySettleSeconds} s settle window were not answered, so its stability could not be observed`;
      observations.push({
        obligation: 'own-deny-refuses-stably',
        result: 'could-not-verify',
        observed: reason,
        evidence: timeline,
      });
    } else {
      status = 'passed';
      stableAfterSeconds = propagationSeconds;
      reason = `after the flip, the run's explicit Deny in the VPC endpoint policy refused InvokeModel (403) at +${propagationSeconds} s and every one of ${observedAfterFirst.length} call(s) in the ${input.options.denySettleSeconds} s settle window`;
      observations.push({
        obligation: 'own-deny-refuses-stably',
        result: 'passed',
        observed: reason,
        evidence: timeline,
      });
    }
    if (enis) {
      const through = throughTheseEnis('refused call', p.firstMatch, enis);
      observations.push({ ...through, evidence: through.evidence });
    }
  } else if (endedUnobserved(p)) {
    status = 'could-not-verify';
    const last = all[all.length - 1];
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
  const merged: PollProbeResult = {
    ...p,
    attempts: p.attempts + (settle?.attempts ?? 0),
    elapsedMs: p.elapsedMs + (settle?.elapsedMs ?? 0),
    outcomesSeen: mergeSeen(p.outcomesSeen, settle?.outcomesSeen ?? []),
    last: settle?.last ?? p.last,
  };
  const check = checkFrom(
    'deny',
    'denied-by-endpoint-policy',
    merged,
    status,
    reason,
    observations,
    p.firstMatch ?? p.last,
  );
  log.info('deny check finished', { status: check.status, propagationSeconds, stableAfterSeconds, reason });
  return {
    ...check,
    ...(propagationSeconds !== undefined ? { propagationSeconds } : {}),
    ...(stableAfterSeconds !== undefined ? { stableAfterSeconds } : {}),
  };
}

function mergeSeen(a: VerifyDenyOutput['outcomesSeen'], b: VerifyDenyOutput['outcomesSeen']) {
  const out = [...a];
  for (const o of b) if (out[out.length - 1] !== o) out.push(o);
  return out;
}
