/**
 * How close a realistic run gets to the fastest possible, given the delays the latency profile
 * drew for that very run, and what the blog walkthrough's sequential way with fixed 2-minute waits
 * would take for the same delays.
 *
 * Physical floor of the time to verdict (what no throw-away design can beat): the endpoint must go
 * created → `available` → usable while the probe goes created → Active (role assumable, then
 * function Active), in parallel; then the Deny must propagate; then one probe interval to see it.
 * The floor starts when the endpoint is created, so the headline figure is the time from
 * CreateVpcEndpoint to the verdict ÷ floor; the whole execution's time to verdict (Preflight and
 * the network before the endpoint included) ÷ floor is printed beside it.
 *
 * The floor leaves out the settle window the Deny obligation requires (after the first refusal,
 * every call for `denySettleSeconds` must be refused too: a Deny that lapses must fail), so a run
 * that proves that obligation cannot reach it; time to verdict ÷ (floor + settle window) is
 * printed beside it: how much of the excess is avoidable waiting rather than the obligation.
 *
 * The old critical-path lower bound, kept beside it for comparison: it also counts the allow
 * policy's propagation when the run drew one (a run that applies the allow policy after `available`
 * puts it on the path), and the teardown after the verdict; it is compared with the whole run.
 *
 * Blog-order baseline (the walkthrough by hand, to a verdict): endpoint, probe, allow policy and
 * Deny one after another, each rounded up to whole "wait up to 2 minutes" steps. Like the floor it
 * counts from the endpoint's creation; the ratio to the whole execution is printed too.
 *
 * VPC held after the verdict: from the verdict to the moment DeleteVpc succeeds (what bounds how
 * soon the region's VPC quota frees up for the next run), in three parts: the verdict until the
 * probe lets go of its ENIs (the emulator draws their detach delay at that moment), the detach
 * delay itself (AWS's, nothing we can shorten), and the tail from detach to the VPC deleted.
 */
import { runLocal } from '../cli/local.ts';
import type { LatencyRanges } from '../emulator/core/latency.ts';
import { ExecutionInputSchema } from '../statemachine/contract.ts';

type Draw = { key: keyof LatencyRanges; ms: number; at: number };

const TWO_MINUTES = 120;

export function criticalPath(draws: Draw[], probeIntervalSeconds: number) {
  const all = (key: keyof LatencyRanges) => draws.filter((d) => d.key === key).map((d) => d.ms / 1000);
  const first = (key: keyof LatencyRanges) => all(key)[0] ?? 0;
  const endpointReady = first('endpointAvailable') + first('endpointUsable');
  // The probe function is the last function created; the probe role the last role.
  const fa = all('functionActive');
  const ra = all('roleAssumable');
  const probeReady = (ra[ra.length - 1] ?? 0) + (fa[fa.length - 1] ?? 0);
  // The flip to Deny is the run's last policy change; an earlier one is an allow applied after creation.
  const propagations = all('endpointPolicyPropagation');
  const denyPropagation = propagations[propagations.length - 1] ?? 0;
  const allowPropagation = propagations.length > 1 ? propagations[0]! : 0;
  const teardown = Math.max(...all('eniDetach'), first('endpointDelete'), 0);

  const floor = Math.max(endpointReady, probeReady) + denyPropagation + probeIntervalSeconds;

  const policiesAt = Math.max(first('endpointAvailable'), probeReady);
  const allowAt = Math.max(endpointReady, allowPropagation ? policiesAt + allowPropagation : 0);
  const oldLowerBound = allowAt + denyPropagation + teardown;

  const step = (x: number) => Math.ceil(x / TWO_MINUTES) * TWO_MINUTES;
  // The walkthrough attaches the allow policy after the endpoint is up: it waits for a propagation
  // this run may not have drawn; the Deny's draw (same distribution) stands in for it then.
  const blogAllow = allowPropagation || denyPropagation;
  const blogToVerdict = step(endpointReady) + step(probeReady) + step(blogAllow) + step(denyPropagation);
  return {
    endpointReady,
    probeReady,
    allowPropagation,
    denyPropagation,
    teardown,
    floor,
    oldLowerBound,
    blogToVerdict,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function main(): Promise<Record<string, number>> {
  const timeScale = Number(process.env.BENCH_TIME_SCALE ?? 0.02);
  const seeds = (process.env.BENCH_SEEDS ?? '1,2,3').split(',').map(Number);
  const input = ExecutionInputSchema.parse({
    runId: 'bench',
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
  });
  const rows: Record<string, number>[] = [];
  for (const seed of seeds) {
    let draws: Draw[] = [];
    let virtualStart = 0;
    let vpcDeletedAt: number | undefined;
    let endpointCreatedAt: number | undefined;
    const result = await runLocal(
      {
        scenario: 'correct',
        input: { runId: `bench-${seed}`, region: input.region, modelId: input.modelId },
        profile: 'realistic',
        timeScale,
        seed,
        json: false,
        quiet: true,
      },
      () => {},
      {
        onStarted: (emu) => {
          virtualStart = emu.ctx.now();
          const original = emu.ctx.log;
          (emu.ctx as { log: typeof original }).log = (line) => {
            if (line.operation === 'DeleteVpc' && line.status === 200) vpcDeletedAt = emu.ctx.now();
            if (line.operation === 'CreateVpcEndpoint' && line.status === 200)
              endpointCreatedAt ??= emu.ctx.now();
            original(line);
          };
        },
        onFinished: (emu) => {
          draws = emu.ctx.draws.filter((d) => d.at >= virtualStart);
        },
      },
    );
    const cp = criticalPath(draws, input.options.probeIntervalSeconds);
    const settle = input.options.denySettleSeconds;
    const f = result.figures;
    const toVerdict = f.verdictSeconds ?? Number.NaN;
    const setup = endpointCreatedAt !== undefined ? (endpointCreatedAt - virtualStart) / 1000 : Number.NaN;
    const endpointToVerdict = toVerdict - setup;
    const vpcHeldAfterVerdict =
      vpcDeletedAt !== undefined ? (vpcDeletedAt - virtualStart) / 1000 - toVerdict : Number.NaN;
    // The probe's ENIs (one per subnet) are released together, each with its own detach delay.
    const eniDraws = draws.filter((d) => d.key === 'eniDetach');
    const releasedAt = eniDraws.at(-1)?.at;
    const detachMs = Math.max(
      ...eniDraws.filter((d) => releasedAt !== undefined && releasedAt - d.at < 1).map((d) => d.ms),
    );
    const releaseAfterVerdict =
      releasedAt !== undefined ? (releasedAt - virtualStart) / 1000 - toVerdict : Number.NaN;
    const tailAfterDetach = vpcHeldAfterVerdict - releaseAfterVerdict - detachMs / 1000;
    const row = {
      seed,
      verdict: result.report.verdict === 'pass' ? 1 : 0,
      timeToVerdictSeconds: toVerdict,
      setupSeconds: setup,
      endpointToVerdictSeconds: endpointToVerdict,
      floorSeconds: cp.floor,
      floorRatio: endpointToVerdict / cp.floor,
      floorWithSettleRatio: endpointToVerdict / (cp.floor + settle),
      wholeFloorRatio: toVerdict / cp.floor,
      simulatedSeconds: f.simulatedSeconds,
      oldLowerBoundSeconds: cp.oldLowerBound,
      oldRatio: f.simulatedSeconds / cp.oldLowerBound,
      blogToVerdictSeconds: cp.blogToVerdict,
      blogOverVerdict: cp.blogToVerdict / endpointToVerdict,
      blogOverWholeVerdict: cp.blogToVerdict / toVerdict,
      vpcHeldAfterVerdictSeconds: vpcHeldAfterVerdict,
      releaseAfterVerdictSeconds: releaseAfterVerdict,
      tailAfterDetachSeconds: tailAfterDetach,
      wallSeconds: f.wallSeconds,
      peakRssMb: f.peakRssMb,
      stateTransitions: f.stateTransitions,
    };
    rows.push(row);
    console.log(
      `seed ${seed}: verdict ${result.report.verdict}; endpoint created → verdict ${endpointToVerdict.toFixed(0)} s, floor ${cp.floor.toFixed(0)} s ` +
        `(max(endpoint ${cp.endpointReady.toFixed(0)}, probe ${cp.probeReady.toFixed(0)}) + deny ${cp.denyPropagation.toFixed(0)} + interval ${input.options.probeIntervalSeconds}), ` +
        `ratio ${row.floorRatio.toFixed(3)} (÷ floor + ${settle} s settle window: ${row.floorWithSettleRatio.toFixed(3)}); whole execution to verdict ${toVerdict.toFixed(0)} s (setup ${setup.toFixed(0)} s), ratio ${row.wholeFloorRatio.toFixed(3)}; old critical-path ratio ${row.oldRatio.toFixed(3)} (whole run ${f.simulatedSeconds.toFixed(0)} s ÷ ${cp.oldLowerBound.toFixed(0)} s` +
        `${cp.allowPropagation ? `, allow propagation ${cp.allowPropagation.toFixed(0)} s on the path` : ''}); ` +
        `blog-order baseline ${cp.blogToVerdict} s to a verdict (${row.blogOverVerdict.toFixed(2)}× ours from the endpoint, ${row.blogOverWholeVerdict.toFixed(2)}× the whole execution's); ` +
        `VPC held ${vpcHeldAfterVerdict.toFixed(0)} s after the verdict (ENIs released ${releaseAfterVerdict.toFixed(1)} s after it, detach ${(detachMs / 1000).toFixed(0)} s, then ${tailAfterDetach.toFixed(1)} s to DeleteVpc); ` +
        `wall ${f.wallSeconds.toFixed(1)} s, peak RSS ${f.peakRssMb.toFixed(0)} MB, ${f.stateTransitions} states entered`,
    );
  }
  const col = (k: string) => rows.map((r) => r[k]!);
  const summary = {
    [`endpoint created → verdict ÷ floor, median of ${rows.length} seeds`]: median(col('floorRatio')),
    'endpoint created → verdict ÷ floor, worst': Math.max(...col('floorRatio')),
    'endpoint created → verdict ÷ (floor + settle window), median': median(col('floorWithSettleRatio')),
    'whole execution to verdict ÷ floor, median': median(col('wholeFloorRatio')),
    'old critical-path ratio, median': median(col('oldRatio')),
    'blog-order baseline ÷ endpoint created → verdict, median': median(col('blogOverVerdict')),
    'blog-order baseline ÷ endpoint created → verdict, worst': Math.min(...col('blogOverVerdict')),
    'blog-order baseline ÷ whole execution to verdict, median': median(col('blogOverWholeVerdict')),
    'VPC held after the verdict (simulated s), median': median(col('vpcHeldAfterVerdictSeconds')),
    '  of which verdict → ENIs released, median': median(col('releaseAfterVerdictSeconds')),
    '  of which ENIs detached → VPC deleted, median': median(col('tailAfterDetachSeconds')),
    'time to verdict (simulated s), median': median(col('timeToVerdictSeconds')),
    'wall seconds of one run (first seed)': rows[0]!.wallSeconds!,
    'peak RSS MB of one run (first seed)': rows[0]!.peakRssMb!,
  };
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(52)} ${v.toFixed(3)}`);
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
