/** The one waiting helper: deadline, full-jitter backoff, predicate, and which errors mean "not yet". */
import { describe, expect, it } from 'vitest';
import { budgetMs, fullJitterDelay, waitUntil } from '../../tasks/lib/waiter.ts';

/** A fake clock: sleeping advances time instantly and records the delays. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

describe('waitUntil', () => {
  it('returns as soon as the predicate holds, with the attempts it took', async () => {
    const clock = fakeTime();
    let n = 0;
    const r = await waitUntil({
      what: 'x',
      poll: async () => ++n,
      done: (v) => v === 3,
      timeoutMs: 60_000,
      ...clock,
      random: () => 0.5,
    });
    expect(r).toMatchObject({ satisfied: true, value: 3, attempts: 3 });
    expect(clock.sleeps).toHaveLength(2);
  });

  it('stops at the deadline without sleeping past it', async () => {
    const clock = fakeTime();
    const r = await waitUntil({
      what: 'x',
      poll: async () => 'pending',
      done: () => false,
      timeoutMs: 30_000,
      ...clock,
      random: () => 1,
    });
    expect(r.satisfied).toBe(false);
    expect(r.value).toBe('pending');
    expect(clock.now()).toBe(30_000);
  });

  it('backs off exponentially up to the maximum when jitter draws the top', async () => {
    const clock = fakeTime();
    await waitUntil({
      what: 'x',
      poll: async () => 0,
      done: () => false,
      timeoutMs: 200_000,
      minDelayMs: 1_000,
      maxDelayMs: 8_000,
      ...clock,
      random: () => 1,
    });
    expect(clock.sleeps.slice(0, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('keeps polling through retryable errors and rethrows the others', async () => {
    const clock = fakeTime();
    let n = 0;
    const notYet = Object.assign(new Error('not yet'), { name: 'InvalidVpcID.NotFound' });
    const r = await waitUntil({
      what: 'x',
      poll: async () => {
        if (++n < 3) throw notYet;
        return 'ok';
      },
      done: () => true,
      retryOn: (e) => (e as Error).name.endsWith('.NotFound'),
      timeoutMs: 60_000,
      ...clock,
    });
    expect(r).toMatchObject({ satisfied: true, value: 'ok', attempts: 3 });
    await expect(
      waitUntil({
        what: 'x',
        poll: async () => Promise.reject(new Error('boom')),
        done: () => true,
        retryOn: () => false,
        timeoutMs: 1_000,
        ...clock,
      }),
    ).rejects.toThrow('boom');
  });

  it('reports the last retryable error when the deadline passes without an observation', async () => {
    const clock = fakeTime();
    const r = await waitUntil({
      what: 'x',
      poll: async () => Promise.reject(Object.assign(new Error('throttled'), { name: 'Throttling' })),
      done: () => true,
      retryOn: () => true,
      timeoutMs: 10_000,
      ...clock,
    });
    expect(r.satisfied).toBe(false);
    expect((r.lastError as Error).name).toBe('Throttling');
  });
});

describe('paceFrom', () => {
  // A poll that takes 8 s (a call hanging until its timeout) with a steady 5 s interval.
  const slowPolls = (paceFrom: 'start' | 'end') => {
    const clock = fakeTime();
    const starts: number[] = [];
    let n = 0;
    return waitUntil({
      what: 'x',
      poll: async () => {
        starts.push(clock.now());
        await clock.sleep(n++ % 2 === 0 ? 8_000 : 1_000);
        return n;
      },
      done: (v) => v >= 4,
      timeoutMs: 60_000,
      minDelayMs: 5_000,
      maxDelayMs: 5_000,
      random: () => 1,
      paceFrom,
      ...clock,
    }).then(() => starts);
  };

  it("'start' starts the next poll one interval after the last one started, at once if that poll took longer", async () => {
    // 8 s poll → next at once; 1 s poll → next 5 s after its start.
    expect(await slowPolls('start')).toEqual([0, 8_000, 13_000, 21_000]);
  });

  it("'end' (the default) waits a full interval after every poll", async () => {
    expect(await slowPolls('end')).toEqual([0, 13_000, 19_000, 32_000]);
  });
});

describe('fullJitterDelay and budgetMs', () => {
  it('draws within [min/2, cap] and caps at the maximum', () => {
    expect(fullJitterDelay(0, 2_000, 10_000, () => 0)).toBe(1_000);
    expect(fullJitterDelay(10, 2_000, 10_000, () => 1)).toBe(10_000);
    expect(fullJitterDelay(1, 2_000, 10_000, () => 0.5)).toBe(2_000);
  });

  it('keeps a margin below the Lambda remaining time', () => {
    expect(budgetMs(600, { getRemainingTimeInMillis: () => 900_000 })).toBe(600_000);
    expect(budgetMs(600, { getRemainingTimeInMillis: () => 100_000 })).toBe(85_000);
    expect(budgetMs(600)).toBe(600_000);
  });
});
