/**
 * The fault-matrix world: one emulator (instant profile), the product and the safety net deployed
 * once, and one verification per case with the emulator's fault settings (emulator/core/faults.ts).
 * After each case the safety net runs as the EventBridge rule would, the run's inventory is taken
 * from the emulator itself, and anything left is removed as the admin so cases stay independent.
 */
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { deployProduct } from '../../cli/deploy.ts';
import { reportWithout } from '../../cli/local.ts';
import { deploySafetyNet, runSafetyNet, type SafetyNetResult } from '../../cli/safety-net.ts';
import type { FaultRule } from '../../emulator/core/faults.ts';
import { profileNamed } from '../../emulator/core/latency.ts';
import type { InventoryItem } from '../../emulator/core/service.ts';
import { Emulator } from '../../emulator/emulator.ts';
import { type ExecutionInputArgs, type Report, runOutcomeOf, TAG_KEYS } from '../../statemachine/contract.ts';
import { startOrAttach, type WatchResult, watchExecution } from '../../workflows-src/action/execution.ts';

export interface FaultWorld {
  emu: Emulator;
  sfn: SFNClient;
  stateMachineArn: string;
  safetyNetArn: string;
  /** Operations answered with an error status while the current case ran. */
  failedOps: Set<string>;
  close(): Promise<void>;
}

export async function startFaultWorld(): Promise<FaultWorld> {
  const emu = await Emulator.start({ port: 0, profile: profileNamed('instant'), timeScale: 0.01 });
  // Leftovers of refused cases must never make the next case meet the quota.
  (emu.ctx.quotas as { vpcsPerRegion: number }).vpcsPerRegion = 100;
  const sfn = new SFNClient({ ...emu.clientConfig('us-east-1'), maxAttempts: 1 });
  const deployed = await deployProduct(emu, { region: 'us-east-1' });
  const safetyNetArn = await deploySafetyNet(emu, sfn, deployed);
  const failedOps = new Set<string>();
  // Injected faults also reach calls that never cross HTTP (Step Functions invoking its task
  // Lambdas): count an operation as failed whenever the fault hook throws for it.
  const faults = emu.ctx.faults;
  const before = faults.beforeOperation.bind(faults);
  faults.beforeOperation = (service, operation) => {
    try {
      return before(service, operation);
    } catch (err) {
      failedOps.add(operation);
      throw err;
    }
  };
  const original = emu.ctx.log;
  (emu.ctx as { log: typeof original }).log = (line) => {
    if (typeof line.status === 'number' && line.status >= 400) failedOps.add(String(line.operation));
    original(line);
  };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  return {
    emu,
    sfn,
    stateMachineArn: deployed.stateMachineArn,
    safetyNetArn,
    failedOps,
    close: () => emu.close(),
  };
}

export interface FaultCase {
  name: string;
  faults: FaultRule[];
  /** Stop the execution once this state is entered. */
  stopAt?: string;
  deadlines?: ExecutionInputArgs['deadlines'];
  /** Set the faults only once this state is entered (resources exist by then), not at the start. */
  armAt?: string;
  /** Clear the faults when the execution ends, before the safety net runs (a fault of the run only). */
  faultsEndWithRun?: boolean;
  /** Start the run on this state machine instead of the deployed product (a copy with a shorter timeout). */
  stateMachineArn?: string;
}

/**
 * A copy of the product's state machine whose execution times out after `timeoutSeconds`: the
 * product's own 7200 s outlasts the longest cleanup deadline it accepts, so only a shorter
 * execution timeout (an operator's edit, or a stack deployed with one) makes a run end TIMED_OUT.
 */
export async function shortTimeoutCopy(w: FaultWorld, timeoutSeconds: number): Promise<string> {
  const d = await w.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: w.stateMachineArn }));
  const definition = { ...JSON.parse(d.definition!), TimeoutSeconds: timeoutSeconds };
  const created = await w.sfn.send(
    new CreateStateMachineCommand({
      name: `${d.name}-timeout-${timeoutSeconds}`,
      definition: JSON.stringify(definition),
      roleArn: d.roleArn!,
      type: d.type,
    }),
  );
  return created.stateMachineArn!;
}

export interface CaseResult {
  watch: WatchResult;
  report: Report;
  outcome: ReturnType<typeof runOutcomeOf>;
  safetyNet?: SafetyNetResult;
  /** The run's resources the emulator still holds after the run and its safety net. */
  live: InventoryItem[];
  failedOps: Set<string>;
  /** The run's resources the emulator held when the faults were armed (`armAt`). */
  liveWhenArmed?: InventoryItem[];
}

let counter = 0;

export async function runCase(w: FaultWorld, c: FaultCase): Promise<CaseResult> {
  const runId = `fm-${++counter}-${c.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 30)}`.replace(/-+$/, '');
  const input: ExecutionInputArgs = {
    runId,
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    // Inside the stack's default pool (10.42.0.0/16), which the synthesized Preflight enforces.
    vpcCidr: `10.42.${counter % 256}.0/24`,
    deadlines: { cleanupSeconds: 60, ...c.deadlines },
  };
  w.failedOps.clear();
  w.emu.setFaults(c.armAt ? [] : c.faults);
  try {
    const { executionArn } = await startOrAttach(w.sfn, {
      stateMachineArn: c.stateMachineArn ?? w.stateMachineArn,
      name: runId,
      input,
    });
    let liveWhenArmed: InventoryItem[] | undefined;
    if (c.armAt)
      await whenEntered(w.sfn, executionArn, c.armAt, async () => {
        w.emu.setFaults(c.faults);
        liveWhenArmed = liveOf(w.emu, runId);
      });
    if (c.stopAt)
      await whenEntered(w.sfn, executionArn, c.stopAt, async () => {
        await w.sfn.send(
          new StopExecutionCommand({
            executionArn,
            error: 'FaultMatrix.Stop',
            cause: `stopped at ${c.stopAt}`,
          }),
        );
      });
    const silent = { info() {}, warning() {}, startGroup() {}, endGroup() {} };
    const watch = await watchExecution(w.sfn, executionArn, {
      mode: 'complete',
      timeoutSeconds: 600,
      pollIntervalSeconds: 0.05,
      maxPollIntervalSeconds: 0.3,
      log: silent,
    });
    if (c.faultsEndWithRun) w.emu.setFaults([]);
    let safetyNet: SafetyNetResult | undefined;
    if (['ABORTED', 'TIMED_OUT', 'FAILED'].includes(watch.status)) {
      const d = await w.sfn.send(new DescribeExecutionCommand({ executionArn }));
      safetyNet = await runSafetyNet(w.sfn, w.safetyNetArn, {
        executionArn,
        status: watch.status,
        input,
        stopDate: (d.stopDate ?? new Date()).getTime(),
        ...(watch.error ? { error: watch.error } : {}),
      });
    }
    const live = liveOf(w.emu, runId);
    const failedOps = new Set(w.failedOps);
    return {
      watch,
      // What `local` and `run` report for an execution that ended without a report of its own.
      ...(() => {
        const report = watch.report ?? reportWithout(input, watch, safetyNet);
        return { report, outcome: runOutcomeOf(report) };
      })(),
      ...(safetyNet ? { safetyNet } : {}),
      live,
      failedOps,
      ...(liveWhenArmed ? { liveWhenArmed } : {}),
    };
  } finally {
    w.emu.setFaults([]);
    await removeAsAdmin(runId);
  }
}

function liveOf(emu: Emulator, runId: string): InventoryItem[] {
  return emu
    .leftovers(TAG_KEYS.runId, runId)
    .concat(
      emu
        .inventory()
        .filter((i) => (i.type === 'function' || i.type === 'role') && i.id === `plv-probe-${runId}`),
    );
}

async function removeAsAdmin(runId: string): Promise<void> {
  const { teardownPass } = await import('../../tasks/lib/teardown.ts');
  const { createLogger } = await import('../../tasks/lib/log.ts');
  const log = createLogger('fault-matrix');
  for (let i = 0; i < 5; i++) {
    const p = await teardownPass(runId, 'us-east-1', log);
    if (p.remaining.length === 0 && p.unlisted.length === 0) return;
  }
}

async function whenEntered(
  sfn: SFNClient,
  executionArn: string,
  state: string,
  action: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    if (
      h.events?.some((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === state)
    ) {
      await action();
      return;
    }
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
