/**
 * Invoking the in-VPC probe and polling it until an expected outcome. VerifyAllow and VerifyDeny
 * differ only in the outcome they wait for and how they explain a miss.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  type Check,
  type ExecutionInput,
  type Outcome,
  type ProbeEvent,
  type ProbeResult,
  ProbeResultSchema,
} from '../../statemachine/contract.ts';
import { client } from './clients.ts';
import type { Logger } from './log.ts';
import { errorCode, explainOutcome, isTransient } from './outcomes.ts';
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
const retryableInvoke = (err: unknown) =>
  isTransient(err) ||
  ['ResourceConflictException', 'ENINotReadyException', 'ResourceNotReadyException'].includes(errorCode(err));

export interface PollProbeOptions {
  input: ExecutionInput;
  functionName: string;
  expected: Outcome;
  /** A passing observation must also satisfy this (e.g. the host resolved to the endpoint's private IPs). */
  accept?: (r: ProbeResult) => boolean;
  timeoutMs: number;
  log: Logger;
}

export interface PollProbeResult {
  satisfied: boolean;
  attempts: number;
  elapsedMs: number;
  last?: ProbeResult;
  firstMatchAt?: number;
  outcomesSeen: Outcome[];
  lastError?: string;
}

export async function pollProbe(o: PollProbeOptions): Promise<PollProbeResult> {
  const seen: Outcome[] = [];
  let firstMatchAt: number | undefined;
  const accept = o.accept ?? (() => true);
  const interval = o.input.options.probeIntervalSeconds * 1000;
  const result = await waitUntil({
    what: `probe ${o.expected}`,
    poll: () =>
      invokeProbe(o.input.region, o.functionName, { region: o.input.region, modelId: o.input.modelId }),
    done: (r) => {
      if (seen[seen.length - 1] !== r.outcome) seen.push(r.outcome);
      const ok = r.outcome === o.expected && accept(r);
      if (ok) firstMatchAt = Date.now();
      return ok;
    },
    timeoutMs: o.timeoutMs,
    // Steady polling: the point is to notice the change soon after it happens.
    minDelayMs: interval,
    maxDelayMs: interval,
    random: () => 1,
    retryOn: retryableInvoke,
    onAttempt: (r, attempt, err) =>
      o.log.info('probe observed', {
        attempt,
        outcome: r?.outcome,
        resolved: r?.resolvedAddresses,
        error: err ? errorCode(err) : undefined,
      }),
  });
  return {
    satisfied: result.satisfied,
    attempts: result.attempts,
    elapsedMs: result.elapsedMs,
    last: result.value,
    firstMatchAt,
    outcomesSeen: seen,
    lastError: result.lastError
      ? `${errorCode(result.lastError)}: ${(result.lastError as Error).message}`
      : undefined,
  };
}

export function checkFrom(
  name: Check['name'],
  expected: Outcome,
  p: PollProbeResult,
  passReason: string,
  missReason: (last?: ProbeResult) => string,
): Check {
  return {
    name,
    status: p.satisfied ? 'passed' : 'failed',
    expected,
    observed: p.last?.outcome,
    reason: p.satisfied ? passReason : missReason(p.last),
    attempts: p.attempts,
    elapsedSeconds: Math.round(p.elapsedMs / 100) / 10,
    evidence: p.last,
    outcomesSeen: p.outcomesSeen,
  };
}

export { explainOutcome };
