/**
 * Simulated time. Virtual time runs 1/timeScale as fast as real time: with timeScale 0.02 a
 * 90-second endpoint creation takes 1.8 real seconds. Resource states are computed lazily from
 * virtual timestamps, so nothing needs a timer to "flip" a state.
 */
export class Clock {
  readonly timeScale: number;
  private readonly realStart: number;
  private readonly virtualStart: number;

  constructor(timeScale: number, startEpochMs: number = Date.now()) {
    if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
    this.timeScale = timeScale;
    this.realStart = performance.now();
    this.virtualStart = startEpochMs;
  }

  /** Virtual epoch milliseconds. */
  now(): number {
    return this.virtualStart + (performance.now() - this.realStart) / this.timeScale;
  }

  /** Real milliseconds that a virtual duration takes. */
  toReal(virtualMs: number): number {
    return virtualMs * this.timeScale;
  }

  /** Sleep for a virtual duration. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(resolve, Math.max(0, this.toReal(virtualMs)));
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(signal.reason);
      });
    });
  }
}

/** Seeded PRNG (mulberry32): the same seed gives the same run. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }
  hex(len: number): string {
    let s = '';
    while (s.length < len) s += Math.floor(this.next() * 16).toString(16);
    return s;
  }
}
