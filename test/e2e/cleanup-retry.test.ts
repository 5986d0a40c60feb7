/**
 * A Cleanup invocation that hangs past its Lambda timeout is killed (Sandbox.Timedout) and the
 * Cleanup state's Retry runs it again: the run still passes and leaves nothing. The same ASL
 * deploys to AWS (infra/ reads this file), so the Retry is the one AWS runs. The world where the
 * Retry does not cover it — the same state machine with that retrier removed — ends without a
 * pass and with the run's resources still there.
 */
import { readFileSync } from 'node:fs';
import {
  CreateStateMachineCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASL_PATH, type DeployedProduct, deployProduct, resolveDefinition } from '../../cli/deploy.ts';
import type { FaultRule } from '../../emulator/core/faults.ts';
import { profileNamed } from '../../emulator/core/latency.ts';
import { Emulator } from '../../emulator/emulator.ts';
import { type ExecutionInputArgs, runOutcomeOf, TAG_KEYS } from '../../statemachine/contract.ts';
import { TASKS } from '../../tasks/manifest.ts';
import { startOrAttach, type WatchResult, watchExecution } from '../../workflows-src/action/execution.ts';

const CLEANUP_TIMEOUT_MS = TASKS.find((t) => t.name === 'Cleanup')!.timeoutSeconds * 1000;
/** Cleanup's first DeleteFunction hangs past the Cleanup function's own timeout, once. */
const HANG_ONCE: FaultRule = {
  kind: 'delay',
  service: 'lambda',
  operation: 'DeleteFunction',
  delayMs: CLEANUP_TIMEOUT_MS + 10_000,
  times: 1,
};
const CRASH_ERRORS = ['States.Timeout', 'Sandbox.Timedout', 'Lambda.Unknown', 'States.TaskFailed'];
const TIMEOUTS = ['Sandbox.Timedout', 'States.Timeout'];

let emu: Emulator;
let sfn: SFNClient;
let deployed: DeployedProduct;

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, profile: profileNamed('instant'), timeScale: 0.01 });
  sfn = new SFNClient({ ...emu.clientConfig('us-east-1'), maxAttempts: 1 });
  deployed = await deployProduct(emu, { region: 'us-east-1' });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
}, 180_000);
afterAll(() => emu?.close());

async function run(
  stateMachineArn: string,
  runId: string,
  octet: number,
): Promise<{ watch: WatchResult; events: HistoryEvent[] }> {
  const input: ExecutionInputArgs = {
    runId,
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    vpcCidr: `10.42.${octet}.0/24`,
    deadlines: { cleanupSeconds: 120 },
  };
  emu.setFaults([HANG_ONCE]);
  try {
    const { executionArn } = await startOrAttach(sfn, { stateMachineArn, name: runId, input });
    const silent = { info() {}, warning() {}, startGroup() {}, endGroup() {} };
    const watch = await watchExecution(sfn, executionArn, {
      mode: 'complete',
      timeoutSeconds: 600,
      pollIntervalSeconds: 0.05,
      maxPollIntervalSeconds: 0.3,
      log: silent,
    });
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return { watch, events };
  } finally {
    emu.setFaults([]);
  }
}

/** Outcomes of each Cleanup invocation, in order: the error name, or `succeeded`. */
function cleanupInvocations(events: HistoryEvent[]): string[] {
  const cleanupArn = deployed.functionArns.CleanupFunctionArn;
  const out: string[] = [];
  let inCleanup = false;
  for (const e of events) {
    if (e.type === 'LambdaFunctionScheduled')
      inCleanup = e.lambdaFunctionScheduledEventDetails?.resource === cleanupArn;
    if (!inCleanup) continue;
    if (e.type === 'LambdaFunctionFailed') out.push(e.lambdaFunctionFailedEventDetails?.error ?? '?');
    if (e.type === 'LambdaFunctionTimedOut') out.push(e.lambdaFunctionTimedOutEventDetails?.error ?? '?');
    if (e.type === 'LambdaFunctionSucceeded') out.push('succeeded');
  }
  return out;
}

const live = (runId: string) =>
  emu
    .leftovers(TAG_KEYS.runId, runId)
    .concat(
      emu
        .inventory()
        .filter((i) => (i.type === 'function' || i.type === 'role') && i.id === `plv-probe-${runId}`),
    );

describe('Cleanup retries a timed-out or crashed invocation', () => {
  it('the ASL Cleanup state retries every timeout and crash name', () => {
    const cleanup = JSON.parse(readFileSync(ASL_PATH, 'utf8')).States.Cleanup;
    const covered = (cleanup.Retry as { ErrorEquals: string[]; MaxAttempts: number }[])
      .filter((r) => r.MaxAttempts > 0)
      .flatMap((r) => r.ErrorEquals);
    for (const name of CRASH_ERRORS) expect(covered).toContain(name);
  });

  it('a Cleanup killed at its timeout is retried, and the run passes with nothing left', async () => {
    const { watch, events } = await run(deployed.stateMachineArn, 'cleanup-retry', 71);
    const invocations = cleanupInvocations(events);
    // Lambda kills the invocation at the function's timeout (Sandbox.Timedout; States.Timeout had
    // the state its own TimeoutSeconds): either is a timed-out Cleanup, and either is retried.
    expect(TIMEOUTS).toContain(invocations[0]);
    expect(invocations.at(-1)).toBe('succeeded');
    expect(watch.status).toBe('SUCCEEDED');
    expect(watch.report && runOutcomeOf(watch.report)).toBe('pass');
    expect(watch.report?.cleanup).toEqual({ status: 'complete', leftovers: [] });
    expect(live('cleanup-retry')).toEqual([]);
  }, 240_000);

  it('without that retrier the same hang ends the run without a pass, its resources left', async () => {
    const asl = JSON.parse(readFileSync(ASL_PATH, 'utf8'));
    const retry = asl.States.Cleanup.Retry as { ErrorEquals: string[] }[];
    asl.States.Cleanup.Retry = retry.filter((r) => !r.ErrorEquals.some((e) => CRASH_ERRORS.includes(e)));
    expect(asl.States.Cleanup.Retry.length).toBe(retry.length - 1);
    const { roleArn } = await sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: deployed.stateMachineArn }),
    );
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'privatelink-verify-no-cleanup-retry',
        roleArn,
        definition: resolveDefinition(JSON.stringify(asl), deployed.functionArns),
      }),
    );
    const { watch, events } = await run(stateMachineArn!, 'no-cleanup-retry', 72);
    const invocations = cleanupInvocations(events);
    expect(invocations).toHaveLength(1);
    expect(TIMEOUTS).toContain(invocations[0]);
    expect(watch.report && runOutcomeOf(watch.report)).not.toBe('pass');
    expect(live('no-cleanup-retry').length).toBeGreaterThan(0);
  }, 240_000);
});
