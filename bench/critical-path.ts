/**
 * How close a realistic run gets to the fastest possible, given the delays the latency profile
 * drew for that very run, and what the blog walkthrough's sequential way with fixed 2-minute waits
 * would take for the same delays.
 *
 * Lower bound (nothing can beat it): the policies can go on once the endpoint is `available` and
 * the probe Active (role assumable, then function Active; in parallel with the endpoint); allow
 * succeeds once the endpoint is usable and the allow policy has propagated; then the Deny must
 * propagate; then teardown waits for the probe's ENIs to detach or the endpoint to be deleted,
 * whichever is later.
 *
 * Sequential baseline (the walkthrough by hand): each of those waits done one after another, each
 * rounded up to whole 2-minute "wait up to 2 minutes" steps.
 */
import { runLocal } from '../cli/local.ts';
import type { LatencyRanges } from '../emulator/core/latency.ts';

type Draw = { key: keyof LatencyRanges; ms: number; at: number };

const TWO_MINUTES = 120;

export function criticalPath(draws: Draw[]) {
  const s = (key: keyof LatencyRanges, nth = 0) => (draws.filter((d) => d.key === key)[nth]?.ms ?? 0) / 1000;
  const all = (key: keyof LatencyRanges) => draws.filter((d) => d.key === key).map((d) => d.ms / 1000);
  const endpointReady = s('endpointAvailable') + s('endpointUsable');
  // The probe function is the last function created; the probe role the last role.
  const fa = all('functionActive');
  const ra = all('roleAssumable');
  const probeReady = (ra[ra.length - 1] ?? 0) + (fa[fa.length - 1] ?? 0);
  const allowPropagation = s('endpointPolicyPropagation', 0);
  const denyPropagation = s('endpointPolicyPropagation', 1);
  const teardown = Math.max(...all('eniDetach'), s('endpointDelete'), 0);
  const policiesAt = Math.max(s('endpointAvailable'), probeReady);
  const allowAt = Math.max(endpointReady, policiesAt + allowPropagation);
  const lowerBound = allowAt + denyPropagation + teardown;
  const step = (x: number) => Math.ceil(x / TWO_MINUTES) * TWO_MINUTES;
  const sequential =
    step(endpointReady) + step(probeReady) + step(allowPropagation) + step(denyPropagation) + step(teardown);
  return { endpointReady, probeReady, allowPropagation, denyPropagation, teardown, lowerBound, sequential };
}

export async function main(): Promise<Record<string, number>> {
  const timeScale = Number(process.env.BENCH_TIME_SCALE ?? 0.02);
  const seeds = [1, 2, 3];
  const rows: Record<string, number>[] = [];
  for (const seed of seeds) {
    let draws: Draw[] = [];
    let virtualStart = 0;
    const result = await runLocal(
      {
        scenario: 'correct',
        input: {
          runId: `bench-${seed}`,
          region: 'us-east-1',
          modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        },
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
        },
        onFinished: (emu) => {
          draws = emu.ctx.draws.filter((d) => d.at >= virtualStart);
        },
      },
    );
    const cp = criticalPath(draws);
    const row = {
      seed,
      verdict: result.report.verdict === 'pass' ? 1 : 0,
      simulatedSeconds: result.figures.simulatedSeconds,
      lowerBoundSeconds: cp.lowerBound,
      ratio: result.figures.simulatedSeconds / cp.lowerBound,
      sequentialBaselineSeconds: cp.sequential,
      baselineRatio: cp.sequential / cp.lowerBound,
      wallSeconds: result.figures.wallSeconds,
      peakRssMb: result.figures.peakRssMb,
      stateTransitions: result.figures.stateTransitions,
    };
    rows.push(row);
    console.log(
      `seed ${seed}: verdict ${result.report.verdict}, simulated ${row.simulatedSeconds.toFixed(0)} s, lower bound ${cp.lowerBound.toFixed(0)} s ` +
        `(endpoint ${cp.endpointReady.toFixed(0)} | probe ${cp.probeReady.toFixed(0)}, +allow ${cp.allowPropagation.toFixed(0)}, +deny ${cp.denyPropagation.toFixed(0)}, +teardown ${cp.teardown.toFixed(0)}), ` +
        `ratio ${row.ratio.toFixed(3)}; sequential 2-minute baseline ${cp.sequential} s (ratio ${row.baselineRatio.toFixed(2)}); ` +
        `wall ${row.wallSeconds.toFixed(1)} s, peak RSS ${row.peakRssMb.toFixed(0)} MB, ${row.stateTransitions} states entered`,
    );
  }
  const mean = (k: string) => rows.reduce((a, r) => a + r[k]!, 0) / rows.length;
  const summary = {
    'critical-path ratio, mean of 3 seeds': mean('ratio'),
    'sequential baseline ratio, mean of 3 seeds': mean('baselineRatio'),
    'simulated seconds, mean': mean('simulatedSeconds'),
    'wall seconds, mean': mean('wallSeconds'),
  };
  for (const [k, v] of Object.entries(summary)) console.log(`${k.padEnd(48)} ${v.toFixed(3)}`);
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
