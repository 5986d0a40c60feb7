/**
 * Execution environments for one function configuration: worker threads kept warm between
 * invocations, one per concurrent invocation, as Lambda keeps sandboxes.
 */
import { createInterface } from 'node:readline';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Clock } from '../../core/clock.ts';
import type {
  DnsAnswer,
  DnsQuestion,
  FunctionErrorPayload,
  InvokeRequest,
  WorkerData,
  WorkerResponse,
} from './protocol.ts';

const WORKER_URL = new URL('./worker.ts', import.meta.url);

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
  /** Real milliseconds a timeout is never shorter than (capped at the timeout itself), see realBudgetMs. */
  minRealTimeoutMs: () => number;
  /** DNS as seen by this function: [] is NXDOMAIN. */
  resolveDns: (hostname: string) => string[];
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
  timer?: NodeJS.Timeout;
}

/** One sandbox: a worker thread with the function loaded. */
class ExecutionEnvironment {
  readonly worker: Worker;
  pending?: Pending;
  dead = false;
  private readonly onDone: (env: ExecutionEnvironment) => void;

  /** Leaves the clock's real-speed section: a cold start takes about as long on AWS as here. */
  private endInit: () => void;

  constructor(config: RuntimeConfig, deps: RuntimeDeps, onDone: (env: ExecutionEnvironment) => void) {
    this.onDone = onDone;
    this.endInit = deps.clock.realtime();
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
      memorySize: config.memorySize,
      logStreamName: `${new Date(deps.clock.now()).toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${Math.random().toString(16).slice(2, 14)}`,
      clock: deps.clock.shared,
      timeScale: deps.clock.timeScale,
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

  invoke(request: InvokeRequest, initBudgetMs: number): Promise<InvocationOutcome> {
    this.nextUse?.();
    this.nextUse = undefined;
    return new Promise((resolve) => {
      this.pending = { id: request.id, request, resolve };
      // Init (loading the bundle) has its own, generous limit; the function timeout starts with the handler.
      this.pending.timer = setTimeout(() => this.timedOut(), initBudgetMs);
      this.worker.postMessage(request);
    });
  }

  private onMessage(m: WorkerResponse, config: RuntimeConfig, deps: RuntimeDeps): void {
    const p = this.pending;
    if (m.type === 'fatal') {
      this.dead = true;
      if (m.error) this.finish(m.error);
      void this.worker.terminate();
      return;
    }
    if (!p || m.id !== p.id) return;
    if (m.type === 'timeout') {
      this.timedOut();
      return;
    }
    if (m.type === 'started') {
      this.endInit();
      clearTimeout(p.timer);
      p.timer = setTimeout(() => this.timedOut(), realBudgetMs(config.timeoutSeconds, deps));
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
    this.endInit();
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(error ? { payload: JSON.stringify(error), error } : { payload: payload ?? 'null' });
    this.onDone(this);
  }
}

/**
 * How long (real ms) an invocation may run. Virtual time runs fast under a small timeScale, so
 * the real CPU and I/O a handler spends would otherwise count a thousandfold: a floor (never
 * above the timeout itself at real speed) keeps ordinary handlers from timing out spuriously.
 */
export function realBudgetMs(
  timeoutSeconds: number,
  deps: Pick<RuntimeDeps, 'clock' | 'minRealTimeoutMs'>,
): number {
  const virtualMs = timeoutSeconds * 1000;
  return Math.max(deps.clock.toReal(virtualMs), Math.min(virtualMs, deps.minRealTimeoutMs()));
}

/** Real milliseconds an idle sandbox is kept warm before it is reclaimed. */
export const IDLE_RECLAIM_REAL_MS = 400;

/** The warm pool for one configuration of one function. */
export class FunctionRuntime {
  readonly config: RuntimeConfig;
  private readonly deps: RuntimeDeps;
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly busy = new Set<ExecutionEnvironment>();
  private retired = false;
  private seq = 0;

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
    env ??= new ExecutionEnvironment(this.config, this.deps, (e) => this.released(e));
    this.busy.add(env);
    const initBudget = Math.max(this.deps.clock.toReal(10_000), 10_000);
    return env.invoke(
      {
        type: 'invoke',
        id: ++this.seq,
        requestId,
        invokedFunctionArn,
        timeoutMs: this.config.timeoutSeconds * 1000,
        payload,
      },
      initBudget + realBudgetMs(this.config.timeoutSeconds, this.deps),
    );
  }

  private released(env: ExecutionEnvironment): void {
    this.busy.delete(env);
    if (env.dead) return;
    if (this.retired) {
      void env.worker.terminate();
      return;
    }
    this.idle.push(env);
    // Lambda reclaims idle sandboxes; the emulator does it after a short real time so that a run
    // with a dozen functions holds only the sandboxes in use (each one costs tens of MB).
    const reclaim = setTimeout(() => {
      const i = this.idle.indexOf(env);
      if (i < 0) return;
      this.idle.splice(i, 1);
      env.dead = true;
      void env.worker.terminate();
    }, IDLE_RECLAIM_REAL_MS);
    reclaim.unref();
    env.onNextUse(() => clearTimeout(reclaim));
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
