/**
 * Runs inside a worker thread: one Lambda execution environment. Before the function's bundle
 * loads, it moves the thread's clock, timers and DNS into the emulator's world, so function code
 * (SDK timeouts, waiters, a probe's DNS check) behaves as it would on AWS.
 * Only Node built-ins here: this file is loaded by the worker directly.
 */
import dns from 'node:dns';
import { existsSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { join } from 'node:path';
import timers from 'node:timers';
import timersPromises from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { realEpochMs, virtualNowFrom } from '../../core/clock.ts';
import type { DnsAnswer, WorkerData, WorkerRequest, WorkerResponse } from './protocol.ts';

const data = workerData as WorkerData;
const port = parentPort!;
const scale = data.timeScale;

// ---- Virtual time: the emulator's clock runs 1/timeScale as fast as real time. ----

function virtualNow(): number {
  return virtualNowFrom(data.clock, realEpochMs());
}

function toReal(ms: unknown): unknown {
  const n = Number(ms);
  return n > 0 ? n * scale : ms;
}

const RealDate = Date;
const VirtualDate = new Proxy(RealDate, {
  construct(target, args, newTarget) {
    return Reflect.construct(target, args.length ? args : [virtualNow()], newTarget);
  },
  apply() {
    return new RealDate(virtualNow()).toString();
  },
  get(target, prop, receiver) {
    if (prop === 'now') return () => Math.floor(virtualNow());
    return Reflect.get(target, prop, receiver);
  },
});
globalThis.Date = VirtualDate;

const realSetTimeout = globalThis.setTimeout;
const realSetInterval = globalThis.setInterval;
const realPromiseTimeout = timersPromises.setTimeout;
const realPromiseInterval = timersPromises.setInterval;

/**
 * The time a handler has spent waiting on its own timers, along the longest chain of waits. Under
 * a small timeScale real CPU and I/O count a thousandfold in virtual time; this clock ignores
 * them, so a handler that sleeps past its Timeout is stopped while a busy one is not.
 */
interface Invocation {
  id: number;
  waitedMs: number;
  limitMs: number;
  timedOut: boolean;
}
let invocation: Invocation | undefined;

/** Called as a timer fires: false when the wait carried the handler past its Timeout. */
function waitedUntil(inv: Invocation | undefined, due: number): boolean {
  if (!inv || invocation !== inv) return true;
  inv.waitedMs = Math.max(inv.waitedMs, due);
  if (inv.waitedMs <= inv.limitMs) return true;
  if (!inv.timedOut) {
    inv.timedOut = true;
    port.postMessage({ type: 'timeout', id: inv.id } satisfies WorkerResponse);
  }
  return false;
}

function delayOf(ms: unknown): number {
  const n = Number(ms);
  return Number.isNaN(n) ? 0 : Math.max(n, 0);
}

const virtualPromiseTimeout = (async (ms?: number, value?: unknown, opts?: object) => {
  const inv = invocation;
  const due = (inv?.waitedMs ?? 0) + delayOf(ms);
  const v = await realPromiseTimeout(toReal(ms) as number, value, opts);
  if (!waitedUntil(inv, due)) await new Promise(() => {});
  return v;
}) as typeof timersPromises.setTimeout;
const virtualPromiseInterval = ((ms?: number, value?: unknown, opts?: object) =>
  realPromiseInterval(toReal(ms) as number, value, opts)) as typeof timersPromises.setInterval;

const virtualSetTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const inv = invocation;
  const due = (inv?.waitedMs ?? 0) + delayOf(ms);
  const fire = (...a: unknown[]) => {
    if (waitedUntil(inv, due)) cb(...a);
  };
  return realSetTimeout(inv ? fire : cb, toReal(ms) as number, ...args);
}) as typeof setTimeout;
const virtualSetInterval = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  const inv = invocation;
  let due = inv?.waitedMs ?? 0;
  const tick = (...a: unknown[]) => {
    due += delayOf(ms);
    if (waitedUntil(inv, due)) cb(...a);
  };
  return realSetInterval(inv ? tick : cb, toReal(ms) as number, ...args);
}) as typeof setInterval;
// `util.promisify(setTimeout)` must sleep in virtual time too.
Object.defineProperty(virtualSetTimeout, promisify.custom, { value: virtualPromiseTimeout });

globalThis.setTimeout = virtualSetTimeout;
globalThis.setInterval = virtualSetInterval;
timers.setTimeout = virtualSetTimeout;
timers.setInterval = virtualSetInterval;
timersPromises.setTimeout = virtualPromiseTimeout;
timersPromises.setInterval = virtualPromiseInterval;
const realAbortTimeout = AbortSignal.timeout;
AbortSignal.timeout = (ms: number) => realAbortTimeout.call(AbortSignal, toReal(ms) as number);

// Socket idle timeouts (the SDK's requestTimeout) count virtual seconds as well.
const realSocketSetTimeout = net.Socket.prototype.setTimeout;
net.Socket.prototype.setTimeout = function (this: net.Socket, ms: number, cb?: () => void) {
  return realSocketSetTimeout.call(this, toReal(ms) as number, cb);
};

// ---- DNS: AWS names are answered by the emulator's network model, as seen from this function. ----

const dnsPort = data.dnsPort as MessagePort;
dnsPort.unref();
let dnsSeq = 0;
const dnsPending = new Map<number, (addresses: string[]) => void>();
dnsPort.on('message', (m: DnsAnswer) => {
  dnsPending.get(m.id)?.(m.addresses);
  dnsPending.delete(m.id);
  if (dnsPending.size === 0) dnsPort.unref();
});

function isAwsName(hostname: unknown): hostname is string {
  return typeof hostname === 'string' && /\.amazonaws\.com\.?$/i.test(hostname);
}

function askEmulator(hostname: string): Promise<string[]> {
  const id = ++dnsSeq;
  return new Promise((resolve) => {
    dnsPending.set(id, resolve);
    dnsPort.ref();
    dnsPort.postMessage({ id, hostname: hostname.replace(/\.$/, '').toLowerCase() });
  });
}

function dnsError(hostname: string, syscall: string): NodeJS.ErrnoException & { hostname: string } {
  const err = new Error(`${syscall} ENOTFOUND ${hostname}`) as NodeJS.ErrnoException & { hostname: string };
  err.code = 'ENOTFOUND';
  err.errno = -3008;
  err.syscall = syscall;
  err.hostname = hostname;
  return err;
}

type LookupOptions = { family?: number | string; all?: boolean };

function normaliseLookupOptions(options: unknown): LookupOptions {
  if (typeof options === 'number') return { family: options };
  return (options as LookupOptions | undefined) ?? {};
}

/** Emulated answers are IPv4 only: asking for IPv6 alone finds nothing, as for an A-only name. */
async function emulatedLookup(hostname: string, options: LookupOptions) {
  const family = options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : Number(options.family ?? 0);
  const addresses = family === 6 ? [] : await askEmulator(hostname);
  if (addresses.length === 0) throw dnsError(hostname, 'getaddrinfo');
  return addresses.map((address) => ({ address, family: 4 }));
}

const realLookup = dns.lookup;
const patchedLookup = (hostname: string, options: unknown, callback?: unknown) => {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (!isAwsName(hostname))
    return (realLookup as (...a: unknown[]) => void).call(dns, hostname, options, callback);
  const opts = normaliseLookupOptions(options);
  const cb = callback as (err: Error | null, address?: unknown, family?: number) => void;
  emulatedLookup(hostname, opts).then(
    (found) => (opts.all ? cb(null, found) : cb(null, found[0]!.address, 4)),
    (err: Error) => cb(err),
  );
  return {};
};
dns.lookup = patchedLookup as unknown as typeof dns.lookup;

const realPromiseLookup = dns.promises.lookup;
dns.promises.lookup = (async (hostname: string, options?: unknown) => {
  if (!isAwsName(hostname)) return (realPromiseLookup as (...a: unknown[]) => unknown)(hostname, options);
  const opts = normaliseLookupOptions(options);
  const found = await emulatedLookup(hostname, opts);
  return opts.all ? found : found[0];
}) as typeof dns.promises.lookup;

async function emulatedResolve4(hostname: string): Promise<string[]> {
  const addresses = await askEmulator(hostname);
  if (addresses.length === 0) throw dnsError(hostname, 'queryA');
  return addresses;
}

const realPromiseResolve4 = dns.promises.resolve4;
dns.promises.resolve4 = ((hostname: string, options?: unknown) =>
  isAwsName(hostname)
    ? emulatedResolve4(hostname)
    : (realPromiseResolve4 as (...a: unknown[]) => unknown)(
        hostname,
        options,
      )) as typeof dns.promises.resolve4;

const realResolve4 = dns.resolve4;
dns.resolve4 = ((hostname: string, options: unknown, callback?: unknown) => {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (!isAwsName(hostname))
    return (realResolve4 as (...a: unknown[]) => void).call(dns, hostname, options, callback);
  const cb = callback as (err: Error | null, addresses?: string[]) => void;
  emulatedResolve4(hostname).then(
    (a) => cb(null, a),
    (err: Error) => cb(err),
  );
}) as typeof dns.resolve4;

syncBuiltinESMExports();

// ---- The function itself. ----

type Handler = (event: unknown, context: unknown, callback?: unknown) => unknown;

interface ErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

function errorPayload(err: unknown, fallbackType = 'Error'): ErrorPayload {
  if (err instanceof Error) {
    return {
      errorType: err.name && err.name !== 'Error' ? err.name : (err.constructor?.name ?? fallbackType),
      errorMessage: err.message,
      trace: (err.stack ?? '').split('\n'),
    };
  }
  return { errorType: fallbackType, errorMessage: String(err), trace: [] };
}

class RuntimeError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

async function loadHandler(): Promise<Handler> {
  const dot = data.handler.lastIndexOf('.');
  const modulePath = dot > 0 ? data.handler.slice(0, dot) : data.handler;
  const exportName = dot > 0 ? data.handler.slice(dot + 1) : 'handler';
  const base = join(data.codeDir, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => existsSync(f));
  if (!file) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/index.mjs`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const e = errorPayload(err);
    throw new RuntimeError('Runtime.UserCodeSyntaxError', `${e.errorType}: ${e.errorMessage}`);
  }
  const fromDefault = (mod.default as Record<string, unknown> | undefined)?.[exportName];
  const fn = mod[exportName] ?? fromDefault;
  if (typeof fn !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${data.handler} is undefined or not exported`);
  }
  return fn as Handler;
}

const handlerReady = loadHandler();
// An init failure is reported per invocation, as Lambda does; don't let it crash the thread.
handlerReady.catch(() => {});

let current: number | undefined;

function respond(msg: WorkerResponse): void {
  port.postMessage(msg);
}

// Anything that escapes the handler ends this environment, as the Lambda runtime does.
process.on('uncaughtException', (err) => {
  respond({ type: 'fatal', id: current, error: errorPayload(err, 'Runtime.UncaughtException') });
});
process.on('unhandledRejection', (reason) => {
  const e = errorPayload(reason);
  respond({
    type: 'fatal',
    id: current,
    error: {
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: `${e.errorType}: ${e.errorMessage}`,
      trace: e.trace,
    },
  });
});

port.on('message', async (msg: WorkerRequest) => {
  if (msg.type !== 'invoke') return;
  current = msg.id;
  let handler: Handler;
  try {
    handler = await handlerReady;
  } catch (err) {
    respond({ type: 'result', id: msg.id, error: errorPayload(err) });
    return;
  }
  const deadline = virtualNow() + msg.timeoutMs;
  const context = {
    awsRequestId: msg.requestId,
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: msg.invokedFunctionArn,
    memoryLimitInMB: String(data.memorySize),
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: data.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.round(deadline - virtualNow())),
  };
  const inv: Invocation = { id: msg.id, waitedMs: 0, limitMs: msg.timeoutMs, timedOut: false };
  invocation = inv;
  respond({ type: 'started', id: msg.id });
  try {
    const event = msg.payload.length ? JSON.parse(msg.payload) : {};
    const result = await new Promise((resolve, reject) => {
      const callback = (err: unknown, value: unknown) => (err ? reject(err) : resolve(value));
      const returned = handler(event, context, callback);
      // Callback-style handlers (three parameters, no promise) answer through the callback.
      if (returned && typeof (returned as Promise<unknown>).then === 'function')
        (returned as Promise<unknown>).then(resolve, reject);
      else if (handler.length < 3) resolve(returned);
    });
    respond({ type: 'result', id: msg.id, payload: JSON.stringify(result ?? null) });
  } catch (err) {
    respond({ type: 'result', id: msg.id, error: errorPayload(err) });
  } finally {
    current = undefined;
    if (invocation === inv) invocation = undefined;
  }
});
