/**
 * Same seed, same simulated timeline, whatever the load: one verification alone, the same one
 * beside a CPU hog, and the same one as one of N concurrent runs in one emulator. Compares the
 * state entry times (simulated, from the execution's start) and prints the largest gap.
 * `npm run test:determinism` runs the full check (realistic profile, 10 concurrent) and exits 1
 * when a gap passes 1 simulated second; test/e2e/determinism.test.ts runs a quick one.
 */
import { deployProduct } from '../cli/deploy.ts';
import { profileNamed } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { compareTimelines, cpuHog, type RunTimeline, runConcurrently } from './concurrent-runs.ts';

export interface DeterminismResult {
  alone: RunTimeline;
  besideHog: RunTimeline;
  concurrent: RunTimeline[];
  /** The same run among the concurrent ones. */
  inCrowd: RunTimeline;
  hog: { sameStates: boolean; maxGapMs: number };
  crowd: { sameStates: boolean; maxGapMs: number };
  /** A different run (its own random streams) against the lone run: shows the comparison can fail. */
  other: { sameStates: boolean; maxGapMs: number };
}

async function inEmulator<T>(
  profile: 'instant' | 'realistic',
  seed: number,
  fn: (emu: Emulator, stateMachineArn: string) => Promise<T>,
): Promise<T> {
  // Quota for N runs at once, so none queues for a VPC (queueing is its own benchmark).
  const emu = await Emulator.start({
    port: 0,
    profile: profileNamed(profile),
    timeScale: 0,
    seed,
    quotas: { vpcsPerRegion: 64 },
  });
  try {
    const deployed = await deployProduct(emu, { region: 'us-east-1' });
    return await fn(emu, deployed.stateMachineArn);
  } finally {
    await emu.close();
  }
}

export async function checkDeterminism(o: {
  profile: 'instant' | 'realistic';
  concurrent: number;
  seed?: number;
}): Promise<DeterminismResult> {
  const seed = o.seed ?? 20261124;
  const id = 'det-run';
  const [alone] = await inEmulator(o.profile, seed, (emu, arn) => runConcurrently(emu, arn, [id]));
  const hog = cpuHog();
  let besideHog: RunTimeline | undefined;
  try {
    [besideHog] = await inEmulator(o.profile, seed, (emu, arn) => runConcurrently(emu, arn, [id]));
  } finally {
    hog.stop();
  }
  const ids = [id, ...Array.from({ length: o.concurrent - 1 }, (_, i) => `det-other-${i}`)];
  const concurrent = await inEmulator(o.profile, seed, (emu, arn) => runConcurrently(emu, arn, ids));
  const inCrowd = concurrent[0]!;
  return {
    alone: alone!,
    besideHog: besideHog!,
    concurrent,
    inCrowd,
    hog: compareTimelines(alone!.entries, besideHog!.entries),
    crowd: compareTimelines(alone!.entries, inCrowd.entries),
    other: compareTimelines(alone!.entries, concurrent[1]?.entries ?? []),
  };
}

export function describeResult(r: DeterminismResult): string[] {
  const s = (t: RunTimeline) =>
    `${t.outcome}, ${t.entries.length} states, ${((t.end - t.start) / 1000).toFixed(1)} s simulated`;
  const gap = (g: { sameStates: boolean; maxGapMs: number }) =>
    `${g.sameStates ? 'same states' : 'DIFFERENT states'}, largest entry-time gap ${(g.maxGapMs / 1000).toFixed(3)} s`;
  return [
    `alone:            ${s(r.alone)}`,
    `beside a CPU hog: ${s(r.besideHog)}; vs alone: ${gap(r.hog)}`,
    `1 of ${r.concurrent.length} concurrent: ${s(r.inCrowd)}; vs alone: ${gap(r.crowd)}; the crowd: ${r.concurrent.filter((t) => t.outcome === 'pass').length}/${r.concurrent.length} passed`,
    `a different run (its own streams) vs alone: ${gap(r.other)}`,
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const concurrent = Number(process.argv[2] ?? 10);
  const profile = (process.argv[3] ?? 'realistic') as 'instant' | 'realistic';
  const started = performance.now();
  const r = await checkDeterminism({ profile, concurrent });
  console.log(`determinism: ${profile} profile, uncapped event clock, ${concurrent} concurrent`);
  for (const line of describeResult(r)) console.log(line);
  console.log(`wall: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const ok = r.hog.sameStates && r.crowd.sameStates && r.hog.maxGapMs <= 1000 && r.crowd.maxGapMs <= 1000;
  process.exitCode = ok ? 0 : 1;
}
