/**
 * Queueing under the VPC quota: N concurrent runs (default 25) against one emulator with the
 * default quota of 5 VPCs per region (the default VPC holds one), realistic profile, compressed.
 * Prints successes, leftovers, and the makespan against the quota-bound ideal:
 * ⌈N / free VPC slots⌉ × one run's VPC-holding time (median, from CreateNetwork's exit to the end).
 * Figures only; no pass/fail. `node bench/queue.ts [runs] [time-scale]`.
 */

import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { deployProduct } from '../cli/deploy.ts';
import { fullHistory as history } from '../cli/local.ts';
import { profileNamed } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { runOutcomeOf, TAG_KEYS } from '../statemachine/contract.ts';
import { startOrAttach, watchExecution } from '../workflows-src/action/execution.ts';

export async function main(runs = 25, timeScale = 0.01): Promise<void> {
  const wallStart = performance.now();
  const emu = await Emulator.start({ port: 0, profile: profileNamed('realistic'), timeScale });
  try {
    const quota = emu.ctx.quotas.vpcsPerRegion;
    // The default VPC counts against the quota: count what EC2 itself lists.
    const taken =
      (await new EC2Client(emu.clientConfig('us-east-1')).send(new DescribeVpcsCommand({}))).Vpcs?.length ??
      0;
    const free = quota - taken;
    const deployed = await deployProduct(emu, { region: 'us-east-1' });
    const sfn = new SFNClient({ ...emu.clientConfig('us-east-1'), maxAttempts: 8 });
    const silent = { info() {}, warning() {}, startGroup() {}, endGroup() {} };
    const results = await Promise.all(
      Array.from({ length: runs }, async (_, i) => {
        const runId = `queue-${i}`;
        const input = { runId, region: 'us-east-1', modelId: 'anthropic.claude-3-haiku-20240307-v1:0' };
        const { executionArn } = await startOrAttach(sfn, {
          stateMachineArn: deployed.stateMachineArn,
          name: runId,
          input,
        });
        const watch = await watchExecution(sfn, executionArn, {
          mode: 'complete',
          timeoutSeconds: 3600,
          pollIntervalSeconds: 0.5,
          maxPollIntervalSeconds: 2,
          log: silent,
        });
        const events = await history(sfn, executionArn);
        const t = (e: HistoryEvent | undefined) =>
          e?.timestamp ? new Date(e.timestamp).getTime() : Number.NaN;
        const start = t(events[0]);
        const end = t(events.at(-1));
        const vpcAt = t(
          events.find(
            (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'CreateNetwork',
          ),
        );
        const queued = events.filter(
          (e) =>
            e.type === 'LambdaFunctionFailed' &&
            /WaitingForQuota/.test(e.lambdaFunctionFailedEventDetails?.error ?? ''),
        ).length;
        return {
          runId,
          outcome: watch.report ? runOutcomeOf(watch.report) : `no report (${watch.status})`,
          start,
          end,
          holdSeconds: (end - vpcAt) / 1000,
          quotaWaitSeconds: watch.report?.quotaWaitSeconds ?? 0,
          queued,
        };
      }),
    );
    const leftovers = results.flatMap((r) => emu.leftovers(TAG_KEYS.runId, r.runId));
    const holds = results
      .map((r) => r.holdSeconds)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const medianHold = holds[Math.floor(holds.length / 2)] ?? Number.NaN;
    const makespan =
      (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) / 1000;
    const ideal = Math.ceil(runs / Math.max(1, free)) * medianHold;
    const outcomes: Record<string, number> = {};
    for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    console.log(
      `runs: ${runs} concurrent, VPC quota ${quota} (free slots ${free}), realistic profile at time scale ${timeScale}`,
    );
    console.log(`outcomes: ${JSON.stringify(outcomes)}`);
    console.log(`leftovers: ${leftovers.length}`);
    console.log(
      `runs that queued for a VPC slot: ${results.filter((r) => r.quotaWaitSeconds > 0).length}; longest wait ${Math.max(...results.map((r) => r.quotaWaitSeconds))} s (simulated)`,
    );
    console.log(`VPC-holding time of one run (median): ${medianHold.toFixed(0)} s (simulated)`);
    console.log(
      `makespan: ${makespan.toFixed(0)} s simulated; quota-bound ideal ⌈${runs}/${free}⌉ × ${medianHold.toFixed(0)} s = ${ideal.toFixed(0)} s; ratio ${(makespan / ideal).toFixed(2)}`,
    );
    console.log(
      `wall: ${((performance.now() - wallStart) / 1000).toFixed(0)} s, peak RSS now ${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`,
    );
  } finally {
    await emu.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main(Number(process.argv[2] ?? 25), Number(process.argv[3] ?? 0.01));
}
