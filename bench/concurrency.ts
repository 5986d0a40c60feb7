/**
 * Concurrency on the event clock: 5, 10 and 25 verifications at once in one emulator with the
 * default quota of 5 VPCs per region (the default VPC holds one, so 4 slots are free), realistic
 * profile, no time cap. Prints per N: successes, leftovers, makespan against the quota-bound
 * ideal ⌈N / free VPC slots⌉ × one run's VPC-holding time (the median of an uncontended run,
 * from CreateNetwork's exit to the end), wall time, peak RSS (the kernel's high-water mark), what
 * each run adds to the resident set after the product is deployed ((peak − deployed) ÷ N), and
 * how much of the growth is given back once the runs ended and their sandboxes were reclaimed
 * (1.5 s and 10 s after: the memory of ended worker threads comes back over seconds).
 * Figures only; no pass/fail. Run one N per process for its own peak: `node bench/concurrency.ts 10`.
 * `node bench/concurrency.ts [N ...]` (default 5 10 25).
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { deployProduct } from '../cli/deploy.ts';
import { profileNamed } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { TAG_KEYS } from '../statemachine/contract.ts';
import { rssNowMb, rssSampler, runConcurrently } from './concurrent-runs.ts';

/** The resident set after a full collection when the process runs with --expose-gc. */
function settledRssMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return rssNowMb();
}

/** The emulator's own live objects (V8 heap in use, main thread): records it keeps, as AWS keeps them. */
const heapUsedMb = () => process.memoryUsage().heapUsed / 1048576;

export async function main(sizes = [5, 10, 25]): Promise<void> {
  // One run's VPC-holding time, alone (no queueing): the unit of the quota-bound ideal.
  const solo = await measure(1, 'solo');
  const hold = (solo.runs[0]!.end - solo.runs[0]!.vpcAt) / 1000;
  console.log(
    `one run alone: ${solo.runs[0]!.outcome}, ${((solo.runs[0]!.end - solo.runs[0]!.start) / 1000).toFixed(0)} s simulated, holds its VPC ${hold.toFixed(0)} s; wall ${solo.wallS.toFixed(1)} s, peak RSS ${solo.peakMb.toFixed(0)} MB (deployed ${solo.deployedMb.toFixed(0)} MB, after ${solo.afterMb.toFixed(0)} MB)`,
  );
  for (const n of sizes) {
    const r = await measure(n, `c${n}`);
    const ideal = Math.ceil(n / Math.max(1, r.free)) * hold;
    const outcomes: Record<string, number> = {};
    for (const run of r.runs) outcomes[run.outcome] = (outcomes[run.outcome] ?? 0) + 1;
    const makespan = (Math.max(...r.runs.map((x) => x.end)) - Math.min(...r.runs.map((x) => x.start))) / 1000;
    for (const run of r.runs) if (run.why) console.log(`  ${run.runId}: ${run.why}`);
    console.log(
      `N=${n}: passed ${outcomes.pass ?? 0}/${n} ${JSON.stringify(outcomes)}, leftovers ${r.leftovers}, queued for a VPC ${r.runs.filter((x) => x.quotaWaitSeconds > 0).length}; makespan ${makespan.toFixed(0)} s simulated vs ideal ⌈${n}/${r.free}⌉ × ${hold.toFixed(0)} s = ${ideal.toFixed(0)} s (ratio ${(makespan / ideal).toFixed(2)}); wall ${r.wallS.toFixed(1)} s, peak RSS ${r.peakMb.toFixed(0)} MB; deployed ${r.deployedMb.toFixed(0)} MB, ${((r.peakMb - r.deployedMb) / n).toFixed(0)} MB per run; after the runs ${r.afterMb.toFixed(0)} MB (${(r.peakMb - r.afterMb).toFixed(0)} of ${(r.peakMb - r.deployedMb).toFixed(0)} MB of growth given back), ${r.after10Mb.toFixed(0)} MB 10 s after (${(r.peakMb - r.after10Mb).toFixed(0)} given back); the emulator's heap holds ${r.heapGrowthMb.toFixed(0)} MB more: executions, histories, resources`,
    );
  }
}

async function measure(n: number, prefix: string) {
  const rss = rssSampler();
  const wallStart = performance.now();
  const emu = await Emulator.start({ port: 0, profile: profileNamed('realistic'), timeScale: 0 });
  try {
    const vpcs = (await new EC2Client(emu.clientConfig('us-east-1')).send(new DescribeVpcsCommand({}))).Vpcs;
    const free = emu.ctx.quotas.vpcsPerRegion - (vpcs?.length ?? 0);
    const deployed = await deployProduct(emu, { region: 'us-east-1' });
    const deployedMb = settledRssMb();
    const deployedHeapMb = heapUsedMb();
    const runIds = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const runs = await runConcurrently(emu, deployed.stateMachineArn, runIds);
    const leftovers = runIds.flatMap((id) => emu.leftovers(TAG_KEYS.runId, id)).length;
    const wallS = (performance.now() - wallStart) / 1000;
    const peakMb = rss.peakMb();
    // Idle sandboxes are reclaimed 400 ms (real) after their last invocation: wait that out.
    await new Promise((r) => setTimeout(r, 1500));
    const afterMb = settledRssMb();
    const heapGrowthMb = heapUsedMb() - deployedHeapMb;
    // Ended worker threads' memory comes back over seconds (released lazily): look again at 10 s.
    await new Promise((r) => setTimeout(r, 8500));
    return {
      runs,
      leftovers,
      free,
      wallS,
      peakMb,
      deployedMb,
      afterMb,
      after10Mb: settledRssMb(),
      heapGrowthMb,
    };
  } finally {
    rss.stop();
    await emu.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  await main(sizes.length ? sizes : undefined);
}
