/**
 * Same seed, same simulated timeline (state entry times within 1 simulated second): a run alone,
 * the same run beside a CPU hog, and the same run as one of 3 concurrent runs in one emulator
 * (instant profile, uncapped event clock). The full check (realistic, 10 concurrent) is
 * `npm run test:determinism`.
 */
import { describe, expect, it } from 'vitest';
import { checkDeterminism, type DeterminismResult, describeResult } from '../../bench/determinism.ts';

describe('the simulated timeline depends on the seed, not on the load', () => {
  let r: DeterminismResult;

  it('runs the same verification alone, beside a CPU hog and among 3 concurrent runs', async () => {
    r = await checkDeterminism({ profile: 'instant', concurrent: 3 });
    for (const line of describeResult(r)) console.log(line);
    expect(r.alone.outcome).toBe('pass');
    expect(r.concurrent.map((t) => t.outcome)).toEqual(['pass', 'pass', 'pass']);
  }, 300_000);

  it('keeps every state entry within 1 simulated second beside a CPU hog', () => {
    expect(r.hog.sameStates).toBe(true);
    expect(r.hog.maxGapMs).toBeLessThanOrEqual(1000);
  });

  it('keeps every state entry within 1 simulated second among concurrent runs in one emulator', () => {
    expect(r.crowd.sameStates).toBe(true);
    expect(r.crowd.maxGapMs).toBeLessThanOrEqual(1000);
  });

  it('tells runs apart: another run, with its own random streams, has another timeline', () => {
    // The comparison can fail: a different run's draws put its states at other times.
    expect(r.other.sameStates && r.other.maxGapMs <= 1000).toBe(false);
  });
});
