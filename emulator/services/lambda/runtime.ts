/**
 * Execution environments for one function configuration: worker threads kept warm between
 * invocations, one per concurrent invocation, as Lambda keeps sandboxes.
 */
import { createInterface } from 'node:readline';
import { MessageChannel, Worker } from 'node:worker_threads';
import {
  type Clock,
  type SandboxOrigin,
  type SandboxSlot,
  SLOT,
  type VirtualTimer,
} from '../../core/clock.ts';
import { compileCacheDir, touchPackage } from './code-store.ts';
import type {
  DnsAnswer,
  DnsQuestion,
  FunctionErrorPayload,
  InvokeRequest,
  WorkerData,
  WorkerResponse,
} from './protocol.ts';

const WORKER_URL = new URL('./worker-entry.mjs', import.meta.url);

export interface RuntimeConfig {
  functionName: string;
  handler: string;
  codeDir: string;
  memorySize: number;
  /** Virtual seconds. */
  timeoutSeconds: number;
  /** The complete environment of the function's process. */
  env: Record<string, string>;
}

export interface RuntimeDeps {
  clock: Clock;
  /**
   * Real milliseconds a handler may compute without a pause before it counts as a runaway (never
   * below the Timeout itself in real seconds). Virtual time stands still while a handler
   * computes, so its Timeout alone would never stop an endless loop.
   */
  minRealTimeoutMs: () => number;
  /** Real milliseconds an idle sandbox waits for its next invocation before it is reclaimed. */
  idleReclaimMs: () => number;
  /** Whether a run starting a new sandbox reclaims the ones it left idle (see FunctionRuntime.invoke). */
  reclaimOnNextStep: () => boolean;
  /** Virtual ms a new sandbox's cold start takes (drawn from the latency profile). */
  coldStartMs: () => number;
  /** Seed of a new sandbox's Math.random (drawn from the run's stream: the same seed, the same jitter). */
  randomSeed: () => number;
  /** DNS as seen by this function: [] is NXDOMAIN. */
  resolveDns: (hostname: string) => string[];
  /** Where the sandbox's requests come from on the network (the function's VpcConfig). */
  origin?: SandboxOrigin;
  log: (line: Record<string, unknown>) => void;
}

export interface InvocationOutcome {
  /** JSON the handler returned, or the error document. */
  payload: string;
  /** Set when the invocation failed (handler error, timeout, crash): the payload is the error. */
  error?: FunctionErrorPayload;
}

interface Pending {
  id: number;
  request: InvokeRequest;
  resolve: (o: InvocationOutcome) => void;
  /** Real-time guard: init that never ends, or a handler computing without pause. */
  watchdog?: NodeJS.Timeout;
  /** The function's Timeout, on the virtual clock from the moment the handler starts. */
  timeout?: VirtualTimer;
}

/**
 * V8's young generation grows to 48 MB per isolate by default (16 MB semi-spaces), and every
 * sandbox is an isolate: capped at 6 MB (2 MB semi-spaces; cli/bin.mjs gives the emulator's own
 * isolate the same), one local verification peaked at 278–293 MB instead of 378–393 MB, for the
 * same CPU time (`npm start`, two runs each). Scavenges get more frequent and stay small.
 */
export const SANDBOX_RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 6 };

/** Real milliseconds a sandbox may take to load its bundle (computing: virtual time stands still). */
const INIT_REAL_BUDGET_MS = 60_000;

/** One sandbox: a worker thread with the function loaded. */
class ExecutionEnvironment {
  readonly worker: Worker;
  pending?: Pending;
  dead = false;
  private readonly onDone: (env: ExecutionEnvironment) => void;

  /** This sandbox on the clock: computing or blocked, its next due timer, its requests. */
  readonly slot: SandboxSlot;
  private readonly clock: Clock;

  constructor(config: RuntimeConfig, deps: RuntimeDeps, onDone: (env: ExecutionEnvironment) => void) {
    this.onDone = onDone;
    this.clock = deps.clock;
    this.slot = deps.clock.registerSandbox(`lambda:${config.functionName}`, () =>
      this.slot.post(() => this.worker.postMessage({ type: 'tick' })),
    );
    if (deps.origin) this.slot.origin = deps.origin;
    const dns = new MessageChannel();
    dns.port1.on('message', (q: DnsQuestion) => {
      let addresses: string[] = [];
      try {
        addresses = deps.resolveDns(q.hostname);
      } catch (err) {
        deps.log({
          level: 'error',
          msg: 'function DNS lookup failed',
          functionName: config.functionName,
          error: String(err),
        });
      }
      dns.port1.postMessage({ id: q.id, addresses } satisfies DnsAnswer);
    });
    dns.port1.unref();
    const data: WorkerData = {
      functionName: config.functionName,
      handler: config.handler,
      codeDir: config.codeDir,
      compileCacheDir: compileCacheDir(),
      memorySize: config.memorySize,
      logStreamName: `${new Date(deps.clock.now()).toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${Math.random().toString(16).slice(2, 14)}`,
      clock: deps.clock.shared,
      slot: this.slot.shared,
      slotId: this.slot.id,
      randomSeed: 0,
      emulatorHost: new URL(config.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:0').host,
      dnsPort: dns.port2,
    };
    this.worker = new Worker(WORKER_URL, {
      workerData: data,
      transferList: [dns.port2],
      env: config.env,
      stdout: true,
      stderr: true,
      // The bundle must not inherit the emulator's own flags (e.g. a test runner's loaders).
      execArgv: [],
      resourceLimits: SANDBOX_RESOURCE_LIMITS,
      name: `lambda:${config.functionName}`,
    });
    for (const [stream, level] of [
      [this.worker.stdout, 'info'],
      [this.worker.stderr, 'warn'],
    ] as const) {
      createInterface({ input: stream }).on('line', (line) =>
        deps.log({ level, msg: 'function log', functionName: config.functionName, line }),
      );
    }
    this.worker.on('message', (m: WorkerResponse) => this.onMessage(m, config, deps));
    this.worker.on('error', (err) =>
      this.finish({
        errorType: 'Runtime.ExitError',
        errorMessage: `Runtime exited with error: ${err.message}`,
        trace: [],
      }),
    );
    this.worker.on('exit', (code) => {
      this.dead = true;
      dns.port1.close();
      this.setRunning(false);
      deps.clock.unregisterSandbox(this.slot);
      this.finish({
        errorType: 'Runtime.ExitError',
        errorMessage: `Runtime exited with error: exit status ${code}`,
        trace: [],
      });
    });
  }

  private nextUse?: () => void;

  /** Called once when this sandbox is picked for its next invocation. */
  onNextUse(fn: () => void): void {
    this.nextUse = fn;
  }

  /** Start an invocation; the sandbox counts as computing from now until it goes idle. */
  invoke(full: InvokeRequest): Promise<InvocationOutcome> {
    this.nextUse?.();
    this.nextUse = undefined;
    return new Promise((resolve) => {
      this.pending = { id: full.id, request: full, resolve };
      // Init (loading the bundle) has its own, generous real limit; the function timeout starts with the handler.
      this.pending.watchdog = setTimeout(() => this.timedOut(), INIT_REAL_BUDGET_MS);
      this.setRunning(true);
      this.slot.post(() => this.worker.postMessage(full));
    });
  }

  private setRunning(running: boolean): void {
    if (running) Atomics.store(this.slot.i32, SLOT.AWAKE, 1);
    Atomics.store(this.slot.i32, SLOT.RUNNING, running ? 1 : 0);
    this.clock.sandboxChanged();
  }

  /** Every `ms` real: a handler that has not gone idle once since the last look is a runaway. */
  private watch(p: Pending, ms: number): void {
    let idles = Atomics.load(this.slot.i32, SLOT.IDLES);
    const look = () => {
      if (this.pending !== p) return;
      const now = Atomics.load(this.slot.i32, SLOT.IDLES);
      if (now === idles && Atomics.load(this.slot.i32, SLOT.AWAKE) === 1) return this.timedOut();
      idles = now;
      p.watchdog = setTimeout(look, ms);
    };
    p.watchdog = setTimeout(look, ms);
  }

  private onMessage(m: WorkerResponse, config: RuntimeConfig, deps: RuntimeDeps): void {
    if (m.type === 'idle') {
      this.clock.sandboxChanged();
      return;
    }
    // Acted on below, synchronously: from here the sandbox's reply no longer holds the clock.
    Atomics.add(this.slot.i32, SLOT.REPLIES_SEEN, 1);
    this.clock.sandboxChanged();
    const p = this.pending;
    if (m.type === 'fatal') {
      this.dead = true;
      if (m.error) this.finish(m.error);
      void this.worker.terminate();
      return;
    }
    if (!p || m.id !== p.id) return;
    if (m.type === 'started') {
      clearTimeout(p.watchdog);
      p.timeout = this.clock.timer(config.timeoutSeconds * 1000, () => this.timedOut(), 'lambda timeout');
      this.watch(p, Math.max(config.timeoutSeconds * 1000, deps.minRealTimeoutMs()));
      return;
    }
    if (m.error) this.finish(m.error);
    else this.finish(undefined, m.payload ?? 'null');
  }

  private timedOut(): void {
    const p = this.pending;
    if (!p) return;
    const seconds = (p.request.timeoutMs / 1000).toFixed(2);
    this.dead = true;
    void this.worker.terminate();
    this.finish({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${p.request.requestId} Error: Task timed out after ${seconds} seconds`,
      trace: [],
    });
  }

  private finish(error: FunctionErrorPayload | undefined, payload?: string): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.watchdog);
    p.timeout?.cancel();
    this.setRunning(false);
    p.resolve(error ? { payload: JSON.stringify(error), error } : { payload: payload ?? 'null' });
    this.onDone(this);
  }
}

/**
 * Virtual ms an idle sandbox stays warm (AWS does not document it; 5 to 15 minutes is what users
 * observe). Warm or cold is decided on the virtual clock, so the timeline does not depend on
 * when the emulator reclaims a worker to save memory.
 */
export const WARM_VIRTUAL_MS = 5 * 60_000;

/** Real milliseconds an idle sandbox is kept warm before it is reclaimed (by default). */
export const IDLE_RECLAIM_REAL_MS = 400;

/** Idle sandboxes of every function, with the run whose invocation each last served. */
const IDLE = new Set<{ env: ExecutionEnvironment; runtime: FunctionRuntime; runKey: string | undefined }>();

/** Reclaim the idle sandboxes that `runKey` last used, except those of `keep`. */
function evictIdleOf(runKey: string | undefined, keep: FunctionRuntime): void {
  if (runKey === undefined) return;
  for (const e of [...IDLE]) if (e.runKey === runKey && e.runtime !== keep) e.runtime.reclaim(e.env);
}

/** The warm pool for one configuration of one function. */
export class FunctionRuntime {
  readonly config: RuntimeConfig;
  private readonly deps: RuntimeDeps;
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly busy = new Set<ExecutionEnvironment>();
  private retired = false;
  private seq = 0;
  /**
   * Per run (see Clock.runKey), the virtual times at which its invocations ended: each is a sandbox
   * warm until WARM_VIRTUAL_MS later. On AWS any caller may land on a warm sandbox; here warmth is
   * counted per run so that a run's cold starts, and so its timeline, do not depend on other runs.
   */
  private readonly warmSince = new Map<string | undefined, number[]>();

  constructor(config: RuntimeConfig, deps: RuntimeDeps) {
    this.config = config;
    this.deps = deps;
  }

  get environments(): number {
    return this.idle.length + this.busy.size;
  }

  async invoke(payload: string, requestId: string, invokedFunctionArn: string): Promise<InvocationOutcome> {
    if (this.retired) throw new Error('runtime retired');
    let env = this.idle.pop();
    while (env?.dead) env = this.idle.pop();
    if (!env) {
      // A run that starts a new sandbox has moved on from the functions it left idle: reclaim
      // those now, not after the idle timeout, so a run holds one loaded sandbox per step.
      if (this.deps.reclaimOnNextStep()) evictIdleOf(this.deps.clock.runKey(), this);
      touchPackage(this.config.codeDir);
      env = new ExecutionEnvironment(this.config, this.deps, (e) => this.released(e));
    }
    this.busy.add(env);
    env.slot.runKey = this.deps.clock.runKey();
    // A cold start is a modelled latency: the bundle loads while virtual time stands still, then
    // the sandbox waits the drawn duration before its handler runs.
    const now = this.deps.clock.now();
    const run = env.slot.runKey;
    const warm = (this.warmSince.get(run) ?? []).filter((t) => now - t <= WARM_VIRTUAL_MS);
    this.warmSince.set(run, warm);
    const coldStartMs = warm.pop() === undefined ? this.deps.coldStartMs() : 0;
    const running = env.invoke({
      type: 'invoke',
      id: ++this.seq,
      requestId,
      invokedFunctionArn,
      timeoutMs: this.config.timeoutSeconds * 1000,
      coldStartMs,
      randomSeed: this.deps.randomSeed(),
      payload,
    });
    void running.then(() => {
      const list = this.warmSince.get(run) ?? [];
      list.push(this.deps.clock.now());
      this.warmSince.set(run, list);
    });
    // The caller waits on the sandbox, whose own computing holds the clock.
    return this.deps.clock.blockedOn(running);
  }

  private released(env: ExecutionEnvironment): void {
    this.busy.delete(env);
    if (env.dead) return;
    if (this.retired) {
      void env.worker.terminate();
      return;
    }
    this.idle.push(env);
    const entry = { env, runtime: this, runKey: env.slot.runKey };
    IDLE.add(entry);
    // Lambda reclaims idle sandboxes; the emulator does it after a short real time so that a run
    // with a dozen functions holds only the sandboxes in use (each one costs tens of MB).
    const reclaim = setTimeout(() => this.reclaim(env), this.deps.idleReclaimMs());
    reclaim.unref();
    env.onNextUse(() => {
      clearTimeout(reclaim);
      IDLE.delete(entry);
    });
  }

  /** End an idle sandbox now (its warmth is kept on the virtual clock: only memory changes). */
  reclaim(env: ExecutionEnvironment): void {
    for (const e of IDLE) if (e.env === env) IDLE.delete(e);
    const i = this.idle.indexOf(env);
    if (i < 0) return;
    this.idle.splice(i, 1);
    env.dead = true;
    void env.worker.terminate();
  }

  /** A newer configuration took over: idle sandboxes go now, busy ones when they finish. */
  retire(): void {
    this.retired = true;
    for (const env of this.idle.splice(0)) void env.worker.terminate();
  }

  /** Stop everything now (delete, reset, emulator close). */
  async close(): Promise<void> {
    this.retired = true;
    const all = [...this.idle.splice(0), ...this.busy];
    this.busy.clear();
    await Promise.all(all.map((env) => env.worker.terminate()));
  }
}
