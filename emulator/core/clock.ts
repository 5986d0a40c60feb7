/**
 * Simulated time that advances by events, not by the wall.
 *
 * Every piece of emulator work is an *actor*: an HTTP request being handled, a Step Functions
 * execution, a state's task handler, a Lambda sandbox running an invocation. An actor is either
 * computing (it holds the clock still) or blocked on simulated time (a timer, or another actor's
 * work). While any actor computes, virtual time stands still; once every actor is blocked, time
 * moves to the next pending virtual timer and fires every timer due then, in order. So the same
 * seed gives the same simulated timeline whatever the machine's load, and a run costs only its CPU.
 *
 * Optional cap (`timeScale`, real seconds per virtual second): time then never runs faster than
 * 1/timeScale of wall time, so demos and tests that watch from outside still see each state for a
 * while. With nothing pending at all (only outside clients polling), time flows at `idleTimeScale`,
 * so states computed lazily from virtual timestamps still change for a client that waits.
 *
 * The clock state is piecewise linear (anchor, rate, a limit it never passes) in a
 * SharedArrayBuffer, so Lambda worker threads read the very same time (`virtualNowFrom`). A worker
 * keeps its own virtual timers and publishes, in its `SandboxSlot`, whether it is computing and
 * when its next timer is due; the clock wakes it with a message when that time comes.
 *
 * Advancing happens only in `advance()`, run from a setImmediate that is never cleared: it either
 * finds an actor computing (then a later release schedules it again), or fires every due timer,
 * or moves time toward the next one. Nothing here swaps global timers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Int32 [0] seqlock; Float64 at 8: real anchor, 16: virtual anchor, 24: rate (virtual ms per real ms), 32: limit. */
const CLOCK_BYTES = 40;

export interface ClockOptions {
  /** Cap: real seconds per virtual second at the fastest; 0 or undefined: no cap (jump to the next timer). */
  timeScale?: number;
  /** Uncapped only: real seconds per virtual second while nothing at all is pending (default 0.001). */
  idleTimeScale?: number;
  startEpochMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

interface Timer {
  due: number;
  seq: number;
  fire: () => void;
  label: string;
}

/** A handle on a pending virtual timer. */
export interface VirtualTimer {
  readonly due: number;
  cancel(): void;
}

/** One strand of emulator work; `running` while it computes. */
class Actor {
  running = false;
  waits = 0;
  done = false;
  readonly label: string;
  /** Whose run this work belongs to: it picks the run's own random streams (EmulatorContext.rng). */
  readonly runKey?: string;
  constructor(label: string, runKey?: string) {
    this.label = label;
    this.runKey = runKey;
  }
}

const current = new AsyncLocalStorage<Actor>();
const DEBUG = process.env.PLV_CLOCK_DEBUG === '1';

/** Indices of a sandbox slot's Int32 fields; the next due virtual time is a Float64 at byte 16. */
export const SLOT = {
  /** Main thread: 1 while an invocation (init included) is in progress. */
  RUNNING: 0,
  /** 1 while the worker computes; the worker clears it, the clock sets it when it wakes the worker. */
  AWAKE: 1,
  /** Worker: its requests to the emulator sent and not yet read to the end. */
  INFLIGHT: 2,
  /** Main thread: this sandbox's requests that the emulator has received and not yet answered. */
  HELD: 3,
  /** Worker: how many times it went idle (a sandbox that never does is computing without pause). */
  IDLES: 4,
  /** Main thread: messages posted to the worker that it must act on (an invocation, a tick). */
  POSTED: 5,
  /** Worker: how many of those it has taken in; while fewer than POSTED it counts as computing. */
  SEEN: 6,
  /** Worker: messages posted to the main thread that it must act on (started, result, fatal). */
  REPLIES: 7,
  /** Main thread: how many of those it has handled. */
  REPLIES_SEEN: 8,
} as const;
export const SLOT_BYTES = 48;
/** Byte offset of the Float64 next-due virtual time. */
export const SLOT_DUE_OFFSET = 40;

/** The shared record of one Lambda sandbox (see SLOT). */
/** A sandbox's place on the network: the function it runs and that function's VpcConfig. */
export interface SandboxOrigin {
  functionName: string;
  network?: { vpcId: string; subnetIds: string[]; securityGroupIds: string[] };
}

export class SandboxSlot {
  readonly shared = new SharedArrayBuffer(SLOT_BYTES);
  readonly i32 = new Int32Array(this.shared, 0, 10);
  readonly dueF = new Float64Array(this.shared, SLOT_DUE_OFFSET, 1);
  /** Main thread only: whose run the current invocation belongs to (see Clock.runKey). */
  runKey?: string;
  /**
   * Main thread only: where this sandbox's packets leave from (a Lambda function and its VPC
   * config, if any). A request the sandbox sends comes from there, whatever key signs it.
   */
  origin?: SandboxOrigin;
  readonly id: number;
  readonly label: string;
  /** Tells the worker that its next timer is due (through `post`). */
  readonly wake: () => void;
  constructor(id: number, label: string, wake: () => void) {
    this.id = id;
    this.label = label;
    this.wake = wake;
    this.dueF[0] = Number.POSITIVE_INFINITY;
  }
  /** Post a message the worker must act on: it counts as computing until it has taken it in. */
  post(send: () => void): void {
    Atomics.add(this.i32, SLOT.POSTED, 1);
    send();
  }
  get running(): boolean {
    return Atomics.load(this.i32, SLOT.RUNNING) === 1;
  }
  /** Computing, or a request of its is on the wire (sent and not received, or answered and not read). */
  get busy(): boolean {
    const i = this.i32;
    return (
      Atomics.load(i, SLOT.AWAKE) === 1 ||
      Atomics.load(i, SLOT.INFLIGHT) > Atomics.load(i, SLOT.HELD) ||
      Atomics.load(i, SLOT.POSTED) !== Atomics.load(i, SLOT.SEEN) ||
      Atomics.load(i, SLOT.REPLIES) !== Atomics.load(i, SLOT.REPLIES_SEEN)
    );
  }
  get due(): number {
    return this.dueF[0]!;
  }
}

export class Clock {
  /** The cap (real seconds per virtual second at the fastest), 0 when uncapped. */
  readonly timeScale: number;
  readonly shared: SharedArrayBuffer;
  private readonly seq: Int32Array;
  private readonly f: Float64Array;
  private readonly idleRate: number;
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly timers = new Set<Timer>();
  private readonly busyActors = new Set<Actor>();
  private readonly sandboxes = new Map<number, SandboxSlot>();
  private timerSeq = 0;
  private slotSeq = 0;
  private scheduled = false;
  private realTimer?: NodeJS.Timeout;
  private closed = false;
  /** How many times `advance` moved time or fired timers (tests and diagnostics). */
  advances = 0;

  constructor(opts: ClockOptions | number = {}, startEpochMs?: number) {
    const o: ClockOptions = typeof opts === 'number' ? { timeScale: opts, startEpochMs } : opts;
    const cap = o.timeScale ?? 0;
    if (!(cap >= 0) || !Number.isFinite(cap)) throw new RangeError(`timeScale must be >= 0, got ${cap}`);
    this.timeScale = cap;
    const idle = cap > 0 ? cap : (o.idleTimeScale ?? 0.001);
    if (!(idle > 0)) throw new RangeError(`idleTimeScale must be > 0, got ${idle}`);
    this.idleRate = 1 / idle;
    this.log = o.log ?? (() => {});
    this.shared = new SharedArrayBuffer(CLOCK_BYTES);
    this.seq = new Int32Array(this.shared, 0, 1);
    this.f = new Float64Array(this.shared, 8, 4);
    const start = o.startEpochMs ?? Date.now();
    this.write(realEpochMs(), start, 0, start);
  }

  /** Virtual epoch milliseconds. */
  now(): number {
    return virtualNowFrom(this.shared, realEpochMs());
  }

  /** Real milliseconds a virtual duration takes at least (0 when uncapped). */
  toReal(virtualMs: number): number {
    return virtualMs * this.timeScale;
  }

  // ---- Timers. ----

  /** Call `fire` once virtual time reaches now + virtualMs. The callback must not block. */
  timer(virtualMs: number, fire: () => void, label = 'timer'): VirtualTimer {
    const t: Timer = { due: this.now() + Math.max(0, virtualMs || 0), seq: ++this.timerSeq, fire, label };
    if (!this.closed) this.timers.add(t);
    this.schedule();
    return {
      due: t.due,
      cancel: () => {
        if (this.timers.delete(t)) this.schedule();
      },
    };
  }

  /** A promise settled after a virtual duration; rejects with the signal's reason on abort. Blocks nobody. */
  after(virtualMs: number, signal?: AbortSignal, label = 'sleep'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        t.cancel();
        reject(signal!.reason);
      };
      const t = this.timer(
        virtualMs,
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        label,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sleep a virtual duration; the calling actor (if any) is blocked meanwhile. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return this.blockedOn(this.after(virtualMs, signal));
  }

  // ---- Actors. ----

  /**
   * Run `fn` as an actor: it holds the clock still except while it awaits `blockedOn`/`sleep`.
   * It belongs to `runKey`'s run, or to the calling actor's.
   */
  spawn<T>(label: string, fn: () => T | Promise<T>, runKey?: string): Promise<T> {
    const actor = new Actor(label, runKey ?? current.getStore()?.runKey);
    this.acquire(actor);
    return current.run(actor, async () => {
      try {
        return await fn();
      } finally {
        actor.done = true;
        this.release(actor);
      }
    });
  }

  /**
   * Await `p` with the calling actor blocked: only for promises settled by a virtual timer or by
   * another actor's work (whose own computing holds the clock). The actor computes again from the
   * microtask that sees `p` settle, before any macrotask (and so before `advance`) can run.
   */
  blockedOn<T>(p: Promise<T>): Promise<T> {
    const actor = current.getStore();
    if (!actor || actor.done) return p;
    if (++actor.waits === 1) this.release(actor);
    return p.finally(() => {
      if (--actor.waits === 0 && !actor.done) this.acquire(actor);
    });
  }

  /** The run the calling actor works for, if any. */
  runKey(): string | undefined {
    return current.getStore()?.runKey;
  }

  /** Hold the clock still until the returned function is called (idempotent). */
  hold(label: string): () => void {
    const actor = new Actor(label);
    this.acquire(actor);
    return () => {
      actor.done = true;
      this.release(actor);
    };
  }

  private acquire(actor: Actor): void {
    if (actor.running) return;
    actor.running = true;
    this.busyActors.add(actor);
    this.freeze();
  }

  private release(actor: Actor): void {
    if (!actor.running) return;
    actor.running = false;
    this.busyActors.delete(actor);
    this.schedule();
  }

  // ---- Sandboxes (Lambda worker threads). ----

  registerSandbox(label: string, wake: () => void): SandboxSlot {
    const slot = new SandboxSlot(++this.slotSeq, label, wake);
    this.sandboxes.set(slot.id, slot);
    return slot;
  }

  unregisterSandbox(slot: SandboxSlot): void {
    this.sandboxes.delete(slot.id);
    this.schedule();
  }

  sandbox(id: number): SandboxSlot | undefined {
    return this.sandboxes.get(id);
  }

  /** A sandbox's slot changed (it went idle, armed a timer, started or ended an invocation). */
  sandboxChanged(): void {
    this.schedule();
  }

  // ---- Advancing. ----

  /** Run `advance` soon, after the current macrotask's microtasks. Never cancelled. */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.advance();
    });
  }

  /** Everyone blocked? Then fire what is due, or move toward the next timer. */
  private advance(): void {
    if (this.closed) return;
    if (!this.idle()) {
      this.freeze();
      return;
    }
    const now = this.now();
    const next = this.nextDue();
    if (next <= now) {
      this.fire(now);
      return;
    }
    clearTimeout(this.realTimer);
    this.realTimer = undefined;
    if (next === Number.POSITIVE_INFINITY) {
      // Nothing pending: let outside clients that poll see lazily computed states change.
      this.write(realEpochMs(), now, this.idleRate, Number.POSITIVE_INFINITY);
      return;
    }
    if (this.timeScale > 0) {
      this.write(realEpochMs(), now, 1 / this.timeScale, next);
      this.realTimer = setTimeout(
        () => this.schedule(),
        Math.max(1, Math.ceil((next - now) * this.timeScale)),
      );
      return;
    }
    this.advances++;
    if (DEBUG) console.error('clock jump', ((next - now) / 1000).toFixed(3), JSON.stringify(this.state()));
    this.fire(next);
  }

  private idle(): boolean {
    if (this.busyActors.size > 0) return false;
    for (const s of this.sandboxes.values()) if (s.running && s.busy) return false;
    return true;
  }

  private nextDue(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.timers) if (t.due < next) next = t.due;
    for (const s of this.sandboxes.values()) if (s.running && s.due < next) next = s.due;
    return next;
  }

  /** Stop at `at` and fire every timer due by then, in (due, registration) order; wake due sandboxes. */
  private fire(at: number): void {
    clearTimeout(this.realTimer);
    this.realTimer = undefined;
    this.write(realEpochMs(), at, 0, at);
    const due = [...this.timers].filter((t) => t.due <= at).sort((a, b) => a.due - b.due || a.seq - b.seq);
    for (const t of due) {
      this.timers.delete(t);
      try {
        t.fire();
      } catch (err) {
        this.log({ level: 'error', msg: 'virtual timer callback threw', timer: t.label, error: String(err) });
      }
    }
    for (const s of this.sandboxes.values()) {
      if (s.running && s.due <= at) {
        Atomics.store(s.i32, SLOT.AWAKE, 1);
        s.wake();
      }
    }
    // Timers armed while firing are due at `at` or later: none may be left behind in the past.
    for (const t of this.timers) {
      if (t.due < at)
        this.log({ level: 'error', msg: 'clock invariant: timer left in the past', timer: t.label });
    }
    this.schedule();
  }

  /** Stand still at the current virtual time. */
  private freeze(): void {
    if (this.f[2] === 0) return;
    const r = realEpochMs();
    this.write(r, virtualNowFrom(this.shared, r), 0, Number.POSITIVE_INFINITY);
  }

  private write(realAnchor: number, virtualAnchor: number, rate: number, limit: number): void {
    Atomics.add(this.seq, 0, 1);
    this.f[0] = realAnchor;
    this.f[1] = virtualAnchor;
    this.f[2] = rate;
    this.f[3] = limit;
    Atomics.add(this.seq, 0, 1);
  }

  /** What holds the clock, for diagnostics and tests. */
  state(): {
    busy: string[];
    timers: { label: string; due: number }[];
    sandboxes: Record<string, unknown>[];
  } {
    return {
      busy: [...this.busyActors].map((a) => a.label),
      timers: [...this.timers].map((t) => ({ label: t.label, due: t.due })),
      sandboxes: [...this.sandboxes.values()].map((s) => ({
        label: s.label,
        running: s.running,
        awake: Atomics.load(s.i32, SLOT.AWAKE),
        inflight: Atomics.load(s.i32, SLOT.INFLIGHT),
        held: Atomics.load(s.i32, SLOT.HELD),
        due: s.due,
      })),
    };
  }

  /** Drop every timer; nothing advances any more. */
  close(): void {
    this.closed = true;
    this.timers.clear();
    clearTimeout(this.realTimer);
    this.realTimer = undefined;
  }
}

/** Real time as epoch milliseconds with sub-millisecond precision, comparable across threads. */
export function realEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Read a Clock's shared state (from any thread) and compute virtual now. */
export function virtualNowFrom(shared: SharedArrayBuffer, realNow: number): number {
  const seq = new Int32Array(shared, 0, 1);
  const f = new Float64Array(shared, 8, 4);
  for (;;) {
    const before = Atomics.load(seq, 0);
    if (before % 2 === 0) {
      const rate = f[2]!;
      const v = rate === 0 ? f[1]! : Math.min(f[3]!, f[1]! + (realNow - f[0]!) * rate);
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
