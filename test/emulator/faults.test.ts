/** Fault rules in simulated time: windows (fromMs/untilMs) and rules that arm after some calls. */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../emulator/core/clock.ts';
import { Faults } from '../../emulator/core/faults.ts';

function faultsAt() {
  let now = 1_000_000;
  const f = new Faults(new Rng(1), () => now);
  return { f, advance: (ms: number) => (now += ms) };
}

const throttled = (f: Faults) => {
  try {
    f.beforeOperation('bedrock', 'InvokeModel');
    return false;
  } catch (e) {
    expect((e as { code?: string }).code ?? (e as Error).name).toMatch(/Throttling/);
    return true;
  }
};

describe('fault rules in simulated time', () => {
  it('a window fires only from fromMs until untilMs after the rules were set', () => {
    const { f, advance } = faultsAt();
    f.set([
      { kind: 'throttle', service: 'bedrock', operation: 'InvokeModel', fromMs: 10_000, untilMs: 20_000 },
    ]);
    expect(throttled(f)).toBe(false);
    advance(10_000);
    expect(throttled(f)).toBe(true);
    advance(9_999);
    expect(throttled(f)).toBe(true);
    advance(1);
    expect(throttled(f)).toBe(false);
  });

  it('afterCalls lets the first calls through, then fires on every matching call', () => {
    const { f } = faultsAt();
    f.set([{ kind: 'throttle', service: 'bedrock', operation: 'InvokeModel', afterCalls: 2 }]);
    expect([throttled(f), throttled(f), throttled(f), throttled(f)]).toEqual([false, false, true, true]);
  });

  it('refuses a window that ends before it starts', () => {
    const { f } = faultsAt();
    expect(() => f.set([{ kind: 'throttle', fromMs: 5, untilMs: 1 }])).toThrow(/before it starts/);
  });
});
