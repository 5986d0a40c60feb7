/**
 * Runs per hour in one region under the default quota of 5 VPCs (the default VPC holds one, so 4
 * are free), with and without the network lease pool, on the event clock (realistic profile, no
 * time cap). N runs start at once with a backlog each way:
 *   - without the pool each run builds its VPC, queueing for one of the 4 free slots (the slot
 *     frees when the VPC is deleted, after the probe's Lambda ENIs detach);
 *   - with the pool, 4 pooled networks are built first (not counted: a pool is built once), and
 *     each run leases one, queueing for a free one; the lease is released once the run's endpoint
 *     is gone, while the run's Cleanup goes on deleting its ENIs.
 * Runs per hour = N ÷ makespan (first start to last end, simulated) × 3600. Figures only.
 * `node bench/throughput.ts [N]` (default 10).
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { deployProduct } from '../cli/deploy.ts';
import { ensurePool } from '../cli/pool.ts';
import { profileNamed } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { TAG_KEYS } from '../statemachine/contract.ts';
import { type RunTimeline, rssSampler, runConcurrently } from './concurrent-runs.ts';

const POOL = 'bench';

export async function main(n = 10): Promise<Record<string, number>> {
  const without = await measure(n, false);
  const withPool = await measure(n, true);
  const summary: Record<string, number> = {};
  for (const [label, r] of [
    ['without the pool', without],
    ['with the pool', withPool],
  ] as const) {
    const passed = r.runs.filter((x) => x.outcome === 'pass').length;
    const start = Math.min(...r.runs.map((x) => x.start));
    const makespan = (Math.max(...r.runs.map((x) => x.end)) - start) / 1000;
    // When each run's verdict was known, from the common start: the verdicts' own rate.
    const verdicts = r.runs
      .map((x) => x.entries.find((e) => e.name === 'VerdictKnown'))
      .filter((e): e is NonNullable<typeof e> => Boolean(e));
    for (const run of r.runs) if (run.why) console.log(`  ${run.runId}: ${run.why}`);
    const perHour = (n / makespan) * 3600;
    // The last verdict, from the common start: a run's cleanup after it holds no pooled network
    // any more once its endpoint is gone, so the makespan's tail undersells a pool's steady rate.
    const lastVerdict =
      Math.max(
        ...r.runs.map((x) => x.start + (x.entries.find((e) => e.name === 'VerdictKnown')?.at ?? Number.NaN)),
      ) - start;
    const verdictsPerHour = (n / (lastVerdict / 1000)) * 3600;
    const queued = r.runs.filter((x) => x.quotaWaitSeconds > 0).length;
    console.log(
      `${label}: N=${n}, ${r.free} free VPC slot(s)${r.pooled ? `, ${r.pooled} pooled network(s)` : ''}; passed ${passed}/${n}, leftovers ${r.leftovers}, queued ${queued}; ` +
        `makespan ${makespan.toFixed(0)} s simulated → ${perHour.toFixed(1)} runs/hour/region (last verdict at ${(lastVerdict / 1000).toFixed(0)} s → ${verdictsPerHour.toFixed(1)} verdicts/hour); median time to verdict ${median(verdicts.map((v) => v.at / 1000)).toFixed(0)} s; ` +
        `wall ${r.wallS.toFixed(1)} s, peak RSS ${r.peakMb.toFixed(0)} MB`,
    );
    summary[`runs per hour per region ${label} (N=${n})`] = perHour;
    summary[`verdicts per hour per region ${label} (N=${n})`] = verdictsPerHour;
  }
  return summary;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function measure(
  n: number,
  pool: boolean,
): Promise<{
  runs: RunTimeline[];
  leftovers: number;
  free: number;
  pooled: number;
  wallS: number;
  peakMb: number;
}> {
  const rss = rssSampler();
  const wallStart = performance.now();
  const emu = await Emulator.start({ port: 0, profile: profileNamed('realistic'), timeScale: 0 });
  try {
    const vpcs = (await new EC2Client(emu.clientConfig('us-east-1')).send(new DescribeVpcsCommand({}))).Vpcs;
    const free = emu.ctx.quotas.vpcsPerRegion - (vpcs?.length ?? 0);
    const deployed = await deployProduct(emu, { region: 'us-east-1' });
    // Every free slot becomes a pooled network.
    const pooled = pool
      ? (await ensurePool(emu.clientConfig('us-east-1'), { pool: POOL, region: 'us-east-1', size: free }))
          .length
      : 0;
    const prefix = pool ? 'pooled' : 'own';
    const runIds = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const runs = await runConcurrently(
      emu,
      deployed.stateMachineArn,
      runIds,
      'us-east-1',
      pool ? { pool: POOL } : {},
    );
    const leftovers = runIds.flatMap((id) => emu.leftovers(TAG_KEYS.runId, id)).length;
    return {
      runs,
      leftovers,
      free,
      pooled,
      wallS: (performance.now() - wallStart) / 1000,
      peakMb: rss.peakMb(),
    };
  } finally {
    rss.stop();
    await emu.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 10);
  await main(n > 0 ? n : 10);
}
