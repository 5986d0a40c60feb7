/**
 * The safety net, locally: the same state machine (statemachine/safety-net.asl.json) the CDK stack
 * starts from its EventBridge rule, deployed into the emulator and started with the status-change
 * event EventBridge would deliver for an execution that ended ABORTED, TIMED_OUT or FAILED.
 */
import { readFileSync } from 'node:fs';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListStateMachinesCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { Emulator } from '../emulator/emulator.ts';
import {
  type CleanupOutput,
  CleanupOutputSchema,
  type ExecutionInputArgs,
} from '../statemachine/contract.ts';
import { REPO_ROOT } from '../tasks/build.ts';
import { type DeployedProduct, resolveDefinition, STATE_MACHINE_NAME } from './deploy.ts';
import { SAFETY_NET_STATE_MACHINE, synthesizedProduct } from './synth-roles.ts';

export const SAFETY_NET_NAME = SAFETY_NET_STATE_MACHINE;
const SAFETY_NET_ASL = `${REPO_ROOT}statemachine/safety-net.asl.json`;

/** Deploy (once per emulator) the safety-net state machine next to the product. */
export async function deploySafetyNet(
  emu: Emulator,
  sfn: SFNClient,
  deployed: DeployedProduct,
): Promise<string> {
  const existing = (await sfn.send(new ListStateMachinesCommand({}))).stateMachines?.find(
    (m) => m.name === SAFETY_NET_NAME,
  );
  if (existing?.stateMachineArn) return existing.stateMachineArn;
  // The role the CDK stack gives the safety net, installed by the local deployer (cli/deploy.ts).
  const { safetyNetRoleArn: roleArn } = await synthesizedProduct(
    emu.ctx.accountId,
    deployed.region,
    STATE_MACHINE_NAME,
  );
  const definition = resolveDefinition(readFileSync(SAFETY_NET_ASL, 'utf8'), {
    CleanupFunctionArn: deployed.functionArns.CleanupFunctionArn!,
  });
  const sm = await sfn.send(
    new CreateStateMachineCommand({ name: SAFETY_NET_NAME, definition, roleArn, type: 'STANDARD' }),
  );
  return sm.stateMachineArn!;
}

export interface SafetyNetResult {
  status: string;
  /** The last Cleanup output: the final inventory the safety net saw. */
  cleanup?: CleanupOutput;
}

/** Start the safety net as the EventBridge rule would, and wait for it to end. */
export async function runSafetyNet(
  sfn: SFNClient,
  safetyNetArn: string,
  ended: {
    executionArn: string;
    status: string;
    input: ExecutionInputArgs;
    stopDate: number;
    error?: string;
  },
  opts: { pollMs?: number; timeoutMs?: number } = {},
): Promise<SafetyNetResult> {
  const event = {
    version: '0',
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    time: new Date(ended.stopDate).toISOString(),
    detail: {
      executionArn: ended.executionArn,
      status: ended.status,
      input: JSON.stringify(ended.input),
      stopDate: ended.stopDate,
      ...(ended.error ? { error: ended.error } : {}),
    },
  };
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: safetyNetArn, input: JSON.stringify(event) }),
  );
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let status = 'RUNNING';
  while (status === 'RUNNING' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    status = (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status ?? 'RUNNING';
  }
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: executionArn!, includeExecutionData: true, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const lastCleanup = events
    .filter((e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'Cleanup')
    .at(-1)?.stateExitedEventDetails?.output;
  let cleanup: CleanupOutput | undefined;
  if (lastCleanup) {
    const parsed = CleanupOutputSchema.safeParse((JSON.parse(lastCleanup) as { cleanup?: unknown }).cleanup);
    if (parsed.success) cleanup = parsed.data;
  }
  return { status, ...(cleanup ? { cleanup } : {}) };
}
