/**
 * ReleaseProbe: runs beside VerdictKnown, once the last probe call is made, so Lambda starts
 * releasing the probe's hyperplane ENIs — what holds the run's VPC longest after the verdict — one
 * task earlier than Cleanup could. It detaches the probe from the VPC, then deletes the function;
 * the role stays (Lambda releases the ENIs with it) and Cleanup does everything else. Never fails
 * the run: whatever it could not do, Cleanup does.
 */
import { DeleteFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { errorCode, isNotFound } from './lib/outcomes.ts';
import { parseInput, probeName } from './lib/run-state.ts';
import { detachFromVpc } from './lib/teardown.ts';

export interface ReleaseProbeOutput {
  detached: boolean;
  deleted: boolean;
}

export async function handler(event: unknown): Promise<ReleaseProbeOutput> {
  const input = parseInput((event as { input?: unknown })?.input);
  const name = probeName(input.runId);
  const log = createLogger('ReleaseProbe', { runId: input.runId, functionName: name });
  const lambdaApi = client(LambdaClient, input.region);
  const detached = await detachFromVpc(lambdaApi, name, log);
  let deleted = false;
  try {
    await lambdaApi.send(new DeleteFunctionCommand({ FunctionName: name }));
    deleted = true;
  } catch (err) {
    if (!isNotFound(err)) log.warn('deleting the probe failed; Cleanup will', { error: errorCode(err) });
  }
  log.info('probe released', { detached, deleted });
  return { detached, deleted };
}
