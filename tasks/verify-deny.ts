/**
 * Verify deny: after the flip, poll until the endpoint policy refuses the probe (a 403 that names
 * the VPC endpoint policy), and measure how long the change took to propagate. A timeout, a DNS
 * failure, "no access to model" or an identity-policy refusal is NOT a passing deny.
 */
import type { VerifyDenyOutput } from '../statemachine/contract.ts';
import { createLogger } from './lib/log.ts';
import { checkFrom, explainOutcome, pollProbe } from './lib/probe-runs.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs } from './lib/waiter.ts';

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<VerifyDenyOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const probe = required(state.provisioned?.probe, 'probe');
  const flip = required(state.flip, 'the policy flip');
  const log = createLogger('VerifyDeny', { runId: input.runId });
  const p = await pollProbe({
    input,
    functionName: probe.functionName,
    expected: 'denied-by-endpoint-policy',
    timeoutMs: budgetMs(input.deadlines.verifyDenySeconds, context),
    log,
  });
  const check = checkFrom(
    'deny',
    'denied-by-endpoint-policy',
    p,
    'after the flip, the VPC endpoint policy refused InvokeModel with 403 AccessDeniedException',
    (last) => {
      if (!last)
        return `the probe could not be invoked within ${input.deadlines.verifyDenySeconds} s${p.lastError ? ` (${p.lastError})` : ''}`;
      // Any success after the flip means the Deny was not enforced, whatever the last poll saw.
      if (p.outcomesSeen.includes('allowed'))
        return `the endpoint policy Deny was not enforced: InvokeModel kept succeeding after the flip and the endpoint policy never refused it within ${input.deadlines.verifyDenySeconds} s`;
      return `no refusal by the endpoint policy within ${input.deadlines.verifyDenySeconds} s; last outcome: ${explainOutcome(last.outcome)} (not a deny)`;
    },
  );
  const propagationSeconds =
    p.satisfied && p.firstMatchAt !== undefined
      ? Math.round((p.firstMatchAt - Date.parse(flip.flippedAt)) / 100) / 10
      : undefined;
  log.info('deny check finished', { status: check.status, propagationSeconds, reason: check.reason });
  return { ...check, ...(propagationSeconds !== undefined ? { propagationSeconds } : {}) };
}
