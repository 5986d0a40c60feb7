/**
 * Runs inside a worker thread: one Lambda execution environment. Before the function's bundle
 * loads, it moves the thread's clock, timers and DNS into the emulator's world, so function code
 * (SDK timeouts, waiters, a probe's DNS check) behaves as it would on AWS.
 * Only Node built-ins here: this file is loaded by the worker directly (through worker-entry.mjs).
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { createRequire, flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import {
  type DnsAnswer,
  ROUTED_HOST_HEADER,
  type WorkerData,
  type WorkerRequest,
  type WorkerResponse,
} from './protocol.ts';
import { installVirtualTime } from './worker-time.ts';

/**
 * The built-ins this file patches, taken with require: an ESM import would make their ESM
 * namespaces now, with the unpatched functions, and only syncBuiltinESMExports would update
 * them, which reads every export of every built-in (loading undici through node:http's lazy
 * getters: ~14 ms of every sandbox's start). Made after the patches, the function's own
 * `import { lookup } from 'node:dns'` sees the patched ones.
 */
const builtin = createRequire(import.meta.url);
const dns = builtin('node:dns') as typeof import('node:dns');
const https = builtin('node:https') as typeof import('node:https');

const data = workerData as WorkerData;
const port = parentPort!;

// ---- Virtual time: the emulator's event clock (worker-time.ts). ----

const time = installVirtualTime({
  clock: data.clock,
  slot: data.slot,
  slotId: data.slotId,
  emulatorHost: data.emulatorHost,
  notifyIdle: () => port.postMessage({ type: 'idle' } satisfies WorkerResponse),
});
const virtualNow = time.virtualNow;

// Math.random from a seeded generator (mulberry32): jittered backoff (the SDK's retries, the
// product's waiter) draws the same delays with the same emulator seed, so the timeline repeats.
let randomState = data.randomSeed >>> 0;
const reseed = (seed: number) => {
  randomState = seed >>> 0;
};
Math.random = () => {
  randomState = (randomState + 0x6d2b79f5) >>> 0;
  let t = randomState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

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

// ---- DNS: AWS names are answered by the emulator's network model, as seen from this function. ----

const dnsPort = data.dnsPort as MessagePort;
dnsPort.unref();
let dnsSeq = 0;
const dnsPending = new Map<number, (addresses: string[]) => void>();
dnsPort.on('message', (m: DnsAnswer) => {
  const answer = dnsPending.get(m.id);
  dnsPending.delete(m.id);
  if (dnsPending.size === 0) dnsPort.unref();
  if (answer) {
    time.end();
    answer(m.addresses);
  }
});

function isAwsName(hostname: unknown): hostname is string {
  return typeof hostname === 'string' && /\.amazonaws\.com\.?$/i.test(hostname);
}

function askEmulator(hostname: string): Promise<string[]> {
  const id = ++dnsSeq;
  return new Promise((resolve) => {
    time.begin();
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

// ---- HTTPS to AWS names: the emulated network carries it to the emulator. ----
// Function code that names an AWS endpoint itself (a zonal `vpce-…` name, instead of the
// AWS_ENDPOINT_URL it was given) connects to the emulator in plain HTTP with its signed Host
// untouched: the emulator routes by that name as AWS's network does (the zone's endpoint ENI).
// The certificate check AWS would do is not modelled here (AWS serves endpoint-specific names
// with a certificate valid for them).

const realHttpsRequest = https.request;
const [emulatorHostname, emulatorPort] = data.emulatorHost.split(':');
https.request = function (this: unknown, ...args: unknown[]) {
  const [first, second, third] = args;
  const fromUrl = typeof first === 'string' || first instanceof URL;
  const options = (
    fromUrl ? (typeof second === 'object' ? second : {}) : (first ?? {})
  ) as HttpsRequestOptions;
  const url = fromUrl ? new URL(String(first)) : undefined;
  const host = String(url?.hostname ?? options.hostname ?? options.host ?? '').replace(/:\d+$/, '');
  if (!isAwsName(host))
    return (realHttpsRequest as (...a: unknown[]) => http.ClientRequest).apply(https, args);
  const callback = (fromUrl ? (typeof second === 'function' ? second : third) : second) as
    | ((res: http.IncomingMessage) => void)
    | undefined;
  const headers: http.OutgoingHttpHeaders = { ...(options.headers as http.OutgoingHttpHeaders) };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) headers.host = host;
  headers[ROUTED_HOST_HEADER] = host;
  const { agent: _agent, ...rest } = options;
  return http.request(
    {
      ...rest,
      ...(url ? { path: `${url.pathname}${url.search}`, method: options.method ?? 'GET' } : {}),
      protocol: 'http:',
      host: emulatorHostname,
      hostname: emulatorHostname,
      port: Number(emulatorPort),
      headers,
    },
    callback,
  );
} as typeof https.request;

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
  // The compile cache is on (worker-entry.mjs) and the package's path is stable
  // (lambda/code-store.ts), so its compiled code is reused across sandboxes and runs; written out
  // at once, since a reclaimed sandbox is terminated, not exited.
  try {
    mod = await import(pathToFileURL(file).href);
    flushCompileCache();
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

// Loading the bundle is computing, whatever it waits on.
time.begin();
const handlerReady = loadHandler();
handlerReady.finally(() => time.end()).catch(() => {});
// An init failure is reported per invocation, as Lambda does; don't let it crash the thread.
handlerReady.catch(() => {});

let current: number | undefined;

function respond(msg: WorkerResponse): void {
  time.reply();
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
  time.seen();
  if (msg.type === 'tick') {
    time.tick();
    return;
  }
  if (msg.type !== 'invoke') return;
  current = msg.id;
  let handler: Handler;
  try {
    handler = await handlerReady;
  } catch (err) {
    respond({ type: 'result', id: msg.id, error: errorPayload(err) });
    return;
  }
  // The cold start AWS would take (drawn from the latency profile), in virtual time.
  if (msg.coldStartMs > 0) await new Promise((r) => setTimeout(r, msg.coldStartMs));
  reseed(msg.randomSeed);
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
  }
});
