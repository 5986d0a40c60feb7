/** Poll the probe function until it is Active (about a minute for a function in a VPC). */
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { ProbeFunctionOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { resourceFailed, timedOut } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { aws, isNotFound } from './lib/outcomes.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<ProbeFunctionOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const probe = required(state.provisioned?.probe, 'the created probe');
  const log = createLogger('WaitForProbe', { runId: input.runId, functionName: probe.functionName });
  const result = await waitUntil({
    what: 'probe Active',
    poll: () =>
      aws('GetFunctionConfiguration', () =>
        client(LambdaClient, input.region).send(
          new GetFunctionConfigurationCommand({ FunctionName: probe.functionName }),
        ),
      ),
    done: (c) => {
      if (c.State === 'Failed')
        throw resourceFailed(`probe function failed: ${c.StateReasonCode}: ${c.StateReason}`);
      return c.State === 'Active' && (c.LastUpdateStatus ?? 'Successful') === 'Successful';
    },
    timeoutMs: budgetMs(input.deadlines.probeActiveSeconds, context),
    // The probe is the long pole when the endpoint is quick: notice Active within a few seconds.
    minDelayMs: 2_000,
    maxDelayMs: 5_000,
    retryOn: isNotFound,
    onAttempt: (c, attempt) => log.info('probe state', { attempt, state: c?.State }),
  });
  if (!result.satisfied) {
    throw timedOut(
      `probe function ${probe.functionName} was not Active after ${Math.round(result.elapsedMs / 1000)} s (state ${result.value?.State})`,
    );
  }
  return { ...probe, state: 'Active', waitedSeconds: Math.round(result.elapsedMs / 100) / 10 };
}
