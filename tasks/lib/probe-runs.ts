/**
 * Invoking the in-VPC probe and polling it until an expected outcome. VerifyAllow and VerifyDeny
 * differ only in the outcome they wait for and how they explain a miss.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  type Check,
  type ExecutionInput,
  type Observation,
  type Outcome,
  type ProbeEvent,
  type ProbeResult,
  ProbeResultSchema,
} from '../../statemachine/contract.ts';
import { client } from './clients.ts';
import type { Logger } from './log.ts';
import { errorCode, explainOutcome, isTransient, isUnobservedOutcome } from './outcomes.ts';
import { waitUntil } from './waiter.ts';

export async function invokeProbe(
  region: string,
  functionName: string,
  event: ProbeEvent,
): Promise<ProbeResult> {
  const r = await client(LambdaClient, region).send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  const text = new TextDecoder().decode(r.Payload ?? new Uint8Array());
  if (r.FunctionError) throw new Error(`probe function error: ${text.slice(0, 500)}`);
  return ProbeResultSchema.parse(JSON.parse(text));
}

/** Invoke errors that mean "try again" (function updating, throttled, 5xx). */
export const retryableInvoke = (err: unknown) =>
  isTransient(err) ||
  ['ResourceConflictException', 'ENINotReadyException', 'ResourceNotReadyException'].includes(errorCode(err));

export interface PollProbeOptions {
  input: ExecutionInput;
  functionName: string;
  /** When a call is the observation the poll waits for. */
  done: (r: ProbeResult) => boolean;
  /** What the poll waits for, for the log. */
  what: string;
  timeoutMs: number;
  log: Logger;
  /** Keep polling when `done` never matches (the settle window): default stop at the first match. */
  neverDone?: boolean;
  /** Call this endpoint-specific name (a zone's DNS name) instead of the regional one. */
  endpointHost?: string;
}

/** One poll, for the timeline: what came back (or the invoke error), and when. */
export interface TimelineEntry {
  atMs: number;
  /** The Availability Zone whose endpoint ENI the call was sent to (per-zone calls only). */
  zone?: string;
  outcome?: Outcome;
  result?: ProbeResult;
  invokeError?: string;
}

export interface PollProbeResult {
  satisfied: boolean;
  attempts: number;
  elapsedMs: number;
  last?: ProbeResult;
  firstMatchAt?: number;
  firstMatch?: ProbeResult;
  outcomesSeen: Outcome[];
  timeline: TimelineEntry[];
  lastError?: string;
}

export async function pollProbe(o: PollProbeOptions): Promise<PollProbeResult> {
  const seen: Outcome[] = [];
  const timeline: TimelineEntry[] = [];
  let firstMatchAt: number | undefined;
  let firstMatch: ProbeResult | undefined;
  const interval = o.input.options.probeIntervalSeconds * 1000;
  const result = await waitUntil({
    what: o.what,
    poll: () =>
      invokeProbe(o.input.region, o.functionName, {
        region: o.input.region,
        modelId: o.input.modelId,
        ...(o.endpointHost ? { endpointHost: o.endpointHost } : {}),
      }),
    done: (r) => {
      if (seen[seen.length - 1] !== r.outcome) seen.push(r.outcome);
      timeline.push({ atMs: Date.now(), outcome: r.outcome, result: r });
      const ok = o.done(r);
      if (ok && firstMatchAt === undefined) {
        firstMatchAt = Date.now();
        firstMatch = r;
      }
      return ok && !o.neverDone;
    },
    timeoutMs: o.timeoutMs,
    // Steady polling: the point is to notice the change soon after it happens. Calls start one
    // interval apart: a call that hung until its timeout (an endpoint not yet carrying traffic)
    // is followed by the next at once, not after a further interval.
    minDelayMs: interval,
    maxDelayMs: interval,
    random: () => 1,
    paceFrom: 'start',
    retryOn: retryableInvoke,
    onAttempt: (r, attempt, err) => {
      if (err)
        timeline.push({ atMs: Date.now(), invokeError: `${errorCode(err)}: ${(err as Error).message}` });
      o.log.info('probe observed', {
        attempt,
        outcome: r?.outcome,
        resolved: r?.resolvedAddresses,
        error: err ? errorCode(err) : undefined,
      });
    },
  });
  return {
    satisfied: firstMatchAt !== undefined,
    attempts: result.attempts,
    elapsedMs: result.elapsedMs,
    last: result.value,
    ...(firstMatchAt !== undefined ? { firstMatchAt, firstMatch } : {}),
    outcomesSeen: seen,
    timeline,
    lastError: result.lastError
      ? `${errorCode(result.lastError)}: ${(result.lastError as Error).message}`
      : undefined,
  };
}

/** True when the last thing the poll saw answered nothing about the perimeter (throttled, 5xx, invoke errors). */
export function endedUnobserved(p: PollProbeResult): boolean {
  const last = p.timeline[p.timeline.length - 1];
  if (!last) return true;
  if (last.invokeError) return true;
  return isUnobservedOutcome(last.outcome!, last.result?.httpStatus);
}

/** Why a phase that ended unobserved saw nothing, from its last poll: for the could-not-verify reason. */
export function unobservedLast(last: TimelineEntry | undefined): string {
  if (last?.invokeError) return `the probe could not be invoked (${last.invokeError})`;
  if (last)
    return `${explainOutcome(last.outcome!)} (${last.result?.errorCode ?? ''} HTTP ${last.result?.httpStatus ?? '?'})`;
  return 'no call was made';
}

/** The timeline in words, seconds from `fromMs`: evidence behind the fold. */
export function timelineLines(t: TimelineEntry[], fromMs: number, label: string): string[] {
  return t.map((e) => {
    const at = `${label} +${(Math.round((e.atMs - fromMs) / 100) / 10).toFixed(1)} s${e.zone ? ` ${e.zone}` : ''}`;
    if (e.invokeError) return `${at}: probe not invoked (${e.invokeError})`;
    const r = e.result!;
    return `${at}: ${e.outcome}${r.httpStatus !== undefined ? ` (HTTP ${r.httpStatus})` : ''} via ${r.resolvedAddresses.join(', ') || 'no address'}${r.errorMessage ? ` — ${r.errorCode ?? ''} ${r.errorMessage}` : ''}`;
  });
}

export function checkFrom(
  name: Check['name'],
  expected: Outcome,
  p: PollProbeResult,
  status: Check['status'],
  reason: string,
  observations: Observation[],
  evidence: ProbeResult | undefined = p.last,
): Check {
  return {
    name,
    status,
    expected,
    observed: evidence?.outcome,
    reason,
    attempts: p.attempts,
    elapsedSeconds: Math.round(p.elapsedMs / 100) / 10,
    ...(evidence ? { evidence } : {}),
    outcomesSeen: p.outcomesSeen,
    observations,
  };
}

export { explainOutcome };
