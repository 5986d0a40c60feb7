/**
 * Verify allow: the probe's InvokeModel succeeds through the endpoint. An endpoint is usable some
 * seconds after it says `available`, so poll until success or the deadline.
 */
import type { Check } from '../statemachine/contract.ts';
import { createLogger } from './lib/log.ts';
import { checkFrom, explainOutcome, pollProbe } from './lib/probe-runs.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs } from './lib/waiter.ts';

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<Check> {
  const state = parseRunState(event);
  const { input } = state;
  const probe = required(state.provisioned?.probe, 'probe');
  const log = createLogger('VerifyAllow', { runId: input.runId });
  const p = await pollProbe({
    input,
    functionName: probe.functionName,
    expected: 'allowed',
    // Success over the public internet would prove nothing about the endpoint.
    accept: (r) => r.resolvedPrivate,
    timeoutMs: budgetMs(input.deadlines.verifyAllowSeconds, context),
    log,
  });
  const check = checkFrom(
    'allow',
    'allowed',
    p,
    `InvokeModel succeeded from inside the VPC through the endpoint (${p.last?.resolvedAddresses.join(', ')})`,
    (last) => {
      if (!last)
        return `the probe could not be invoked within ${input.deadlines.verifyAllowSeconds} s${p.lastError ? ` (${p.lastError})` : ''}`;
      if (last.outcome === 'allowed')
        return 'InvokeModel succeeded but the host name resolved to public addresses: the call did not use the endpoint';
      return `InvokeModel did not succeed within ${input.deadlines.verifyAllowSeconds} s: ${explainOutcome(last.outcome)}`;
    },
  );
  log.info('allow check finished', { status: check.status, reason: check.reason });
  return check;
}
