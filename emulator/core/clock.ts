/**
 * Simulated time. Virtual time normally runs 1/timeScale as fast as real time: with timeScale
 * 0.02 a 90-second endpoint creation takes 1.8 real seconds. Resource states are computed lazily
 * from virtual timestamps, so nothing needs a timer to "flip" a state.
 *
 * Work that takes about as long on AWS as here (a Lambda sandbox's cold start) would count fifty-
 * or a thousandfold at a small timeScale; inside `realtime()` sections virtual time runs at real
 * speed instead. The state is piecewise linear and lives in a SharedArrayBuffer, so function
 * worker threads read the very same clock (see `virtualNowFrom`).
 */
export class Clock {
  readonly timeScale: number;
  /** [0] seqlock counter (Int32); Float64 at 8: real anchor (epoch ms), 16: virtual anchor, 24: rate. */
  readonly shared: SharedArrayBuffer;
  private readonly seq: Int32Array;
  private readonly f: Float64Array;
  private realtimeDepth = 0;

  constructor(timeScale: number, startEpochMs: number = Date.now()) {
    if (!(timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${timeScale}`);
    this.timeScale = timeScale;
    this.shared = new SharedArrayBuffer(32);
    this.seq = new Int32Array(this.shared, 0, 1);
    this.f = new Float64Array(this.shared, 8, 3);
    this.write(realEpochMs(), startEpochMs, 1 / timeScale);
  }

  /** Virtual epoch milliseconds. */
  now(): number {
    return virtualNowFrom(this.shared, realEpochMs());
  }

  /** Real milliseconds that a virtual duration takes at the nominal rate. */
  toReal(virtualMs: number): number {
    return virtualMs * this.timeScale;
  }

  /** Enter a section where virtual time runs at real speed; call the returned function to leave. */
  realtime(): () => void {
    if (this.realtimeDepth++ === 0) this.rebase(1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.realtimeDepth === 0) this.rebase(1 / this.timeScale);
    };
  }

  /** Sleep until the virtual clock has advanced by `virtualMs` (re-checked, as the rate can change). */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    const target = this.now() + virtualMs;
    return new Promise((resolve, reject) => {
      let t: ReturnType<typeof setTimeout>;
      const tick = () => {
        const left = target - this.now();
        if (left <= 0) return resolve();
        t = setTimeout(tick, Math.max(1, Math.min(this.toReal(left), 60_000)));
      };
      signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(signal.reason);
      });
      tick();
    });
  }

  private rebase(rate: number): void {
    const r = realEpochMs();
    this.write(r, virtualNowFrom(this.shared, r), rate);
  }

  private write(realAnchor: number, virtualAnchor: number, rate: number): void {
    Atomics.add(this.seq, 0, 1);
    this.f[0] = realAnchor;
    this.f[1] = virtualAnchor;
    this.f[2] = rate;
    Atomics.add(this.seq, 0, 1);
  }
}

/** Real time as epoch milliseconds with sub-millisecond precision, comparable across threads. */
export function realEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Read a Clock's shared state (from any thread) and compute virtual now. */
export function virtualNowFrom(shared: SharedArrayBuffer, realNow: number): number {
  const seq = new Int32Array(shared, 0, 1);
  const f = new Float64Array(shared, 8, 3);
  for (;;) {
    const before = Atomics.load(seq, 0);
    if (before % 2 === 0) {
      const v = f[1]! + (realNow - f[0]!) * f[2]!;
      if (Atomics.load(seq, 0) === before) return v;
    }
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
