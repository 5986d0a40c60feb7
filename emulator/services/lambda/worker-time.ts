/**
 * Virtual time inside a Lambda worker thread, on the emulator's event clock (core/clock.ts).
 *
 * The thread reads virtual now from the clock's shared state. Its timers (setTimeout,
 * setInterval, timers/promises, AbortSignal.timeout, socket idle timeouts) live in a local queue;
 * the earliest due time is published in this sandbox's slot, and the clock sends a `tick` when it
 * reaches it. The thread tells the clock whether it computes (slot AWAKE): it goes idle only when
 * its event loop has nothing left but virtual timers and requests to the emulator, and counts
 * those requests (slot INFLIGHT) from the moment they are created until their response is read,
 * so a request on the wire never lets time move. The emulator marks which of them it is handling
 * (slot HELD, from the `x-emulator-sandbox` header); those are covered by the request's own hold.
 *
 * Only Node built-ins here: this file is loaded by the worker directly.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type http2 from 'node:http2';
import { createRequire } from 'node:module';
import net from 'node:net';
import { promisify } from 'node:util';
import { realEpochMs, SLOT, SLOT_DUE_OFFSET, virtualNowFrom } from '../../core/clock.ts';
import { ROUTED_HOST_HEADER, SANDBOX_HEADER } from './protocol.ts';

// Patched below: taken with require, so their ESM namespaces are made after the patches (worker.ts).
const builtin = createRequire(import.meta.url);
const http2Module = builtin('node:http2') as typeof http2;
const timers = builtin('node:timers') as typeof import('node:timers');
const timersPromises = builtin('node:timers/promises') as typeof import('node:timers/promises');

export interface VirtualTimeOptions {
  clock: SharedArrayBuffer;
  slot: SharedArrayBuffer;
  slotId: number;
  /** host:port of the emulator (requests there are counted). */
  emulatorHost: string;
  /** Tell the clock this thread went idle (its slot says when its next timer is due). */
  notifyIdle: () => void;
}

interface VTimer {
  id: number;
  due: number;
  seq: number;
  ms: number;
  repeat: boolean;
  cb: (...a: unknown[]) => void;
  args: unknown[];
  active: boolean;
}

/** Resources of a busy event loop: file system, real DNS, compression, crypto jobs. */
const BUSY_RESOURCE = /^(FS|FileHandle|GetAddrInfo|GetNameInfo|QueryReqWrap|Zlib|Statwatcher|FSEvent)|Job$/;

export function installVirtualTime(o: VirtualTimeOptions) {
  const slot = new Int32Array(o.slot, 0, 10);
  const slotDue = new Float64Array(o.slot, SLOT_DUE_OFFSET, 1);
  const virtualNow = () => virtualNowFrom(o.clock, realEpochMs());

  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const realSetImmediate = globalThis.setImmediate;
  const realClearImmediate = globalThis.clearImmediate;
  const realSocketSetTimeout = net.Socket.prototype.setTimeout;
  const realSocketEmit = net.Socket.prototype.emit;

  // ---- Awake / idle. ----

  let pendingImmediates = 0;
  /** Other things in flight that the thread itself waits on (DNS questions to the main thread). */
  let pendingOther = 0;
  let checkQueued = false;

  function markAwake(): void {
    if (Atomics.load(slot, SLOT.AWAKE) === 0) Atomics.store(slot, SLOT.AWAKE, 1);
    scheduleIdleCheck();
  }

  function scheduleIdleCheck(): void {
    if (checkQueued) return;
    checkQueued = true;
    realSetImmediate(idleCheck);
  }

  function idleCheck(): void {
    checkQueued = false;
    if (pendingImmediates > 0 || pendingOther > 0) return;
    // A message from the clock (an invocation, a tick) is on its way: it will wake us.
    if (Atomics.load(slot, SLOT.POSTED) !== Atomics.load(slot, SLOT.SEEN)) return;
    if (process.getActiveResourcesInfo().some((r) => BUSY_RESOURCE.test(r))) {
      // Real I/O of the function's own (a file, a real DNS lookup): still computing.
      realSetTimeout(scheduleIdleCheck, 1);
      return;
    }
    publishDue();
    if (Atomics.load(slot, SLOT.AWAKE) === 1) {
      Atomics.store(slot, SLOT.AWAKE, 0);
      Atomics.add(slot, SLOT.IDLES, 1);
      o.notifyIdle();
    }
  }

  // ---- Timers. ----

  const timersById = new Map<number, VTimer>();
  let timerSeq = 0;

  function publishDue(): void {
    let due = Number.POSITIVE_INFINITY;
    for (const t of timersById.values()) if (t.due < due) due = t.due;
    slotDue[0] = due;
  }

  class TimerHandle {
    readonly t: VTimer;
    constructor(t: VTimer) {
      this.t = t;
    }
    ref() {
      return this;
    }
    unref() {
      return this;
    }
    hasRef() {
      return true;
    }
    refresh() {
      if (this.t.active) this.t.due = virtualNow() + this.t.ms;
      return this;
    }
    close() {
      cancel(this.t);
      return this;
    }
    [Symbol.toPrimitive]() {
      return this.t.id;
    }
    [Symbol.dispose]() {
      cancel(this.t);
    }
  }

  function arm(cb: (...a: unknown[]) => void, ms: unknown, args: unknown[], repeat: boolean): TimerHandle {
    const n = Number(ms);
    const delay = Number.isFinite(n) && n > 0 ? n : 0;
    const t: VTimer = {
      id: ++timerSeq,
      due: virtualNow() + delay,
      seq: timerSeq,
      ms: repeat ? Math.max(delay, 1) : delay,
      repeat,
      cb,
      args,
      active: true,
    };
    timersById.set(t.id, t);
    if (delay === 0 && !repeat) {
      // Due now: the thread is computing, so the clock stands still; fire on the next turn.
      pendingImmediates++;
      realSetImmediate(() => {
        pendingImmediates--;
        if (t.active) runTimer(t);
        scheduleIdleCheck();
      });
    }
    scheduleIdleCheck();
    return new TimerHandle(t);
  }

  function cancel(t: VTimer): void {
    t.active = false;
    timersById.delete(t.id);
  }

  function runTimer(t: VTimer): void {
    if (t.repeat) t.due += t.ms;
    else cancel(t);
    try {
      t.cb(...t.args);
    } catch (err) {
      // As from a real timer: an uncaught exception, after the other due timers have fired.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  /** The clock reached our next due time: fire every due timer, in order. */
  function tick(): void {
    markAwake();
    const now = virtualNow();
    const due = [...timersById.values()]
      .filter((t) => t.due <= now)
      .sort((a, b) => a.due - b.due || a.seq - b.seq);
    for (const t of due) if (t.active) runTimer(t);
    scheduleIdleCheck();
  }

  function clearAny(h: unknown): void {
    const t =
      h instanceof TimerHandle
        ? h.t
        : typeof h === 'number' || typeof h === 'string'
          ? timersById.get(Number(h))
          : undefined;
    if (t) cancel(t);
    else if (h) realClearTimeout(h as NodeJS.Timeout);
  }

  const virtualSetTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    arm(cb, ms, args, false)) as unknown as typeof setTimeout;
  const virtualSetInterval = ((cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    arm(cb, ms, args, true)) as unknown as typeof setInterval;
  const virtualClear = clearAny as typeof clearTimeout;

  const virtualPromiseTimeout = ((ms?: number, value?: unknown, opts?: { signal?: AbortSignal }) =>
    new Promise<unknown>((resolve, reject) => {
      const signal = opts?.signal;
      if (signal?.aborted) return reject(abortError(signal));
      const h = arm(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        ms,
        [],
        false,
      );
      const onAbort = () => {
        h.close();
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    })) as typeof timersPromises.setTimeout;
  const virtualPromiseInterval = async function* (ms?: number, value?: unknown, opts?: object) {
    for (;;) {
      await virtualPromiseTimeout(ms, undefined, opts);
      yield value;
    }
  } as unknown as typeof timersPromises.setInterval;
  Object.defineProperty(virtualSetTimeout, promisify.custom, { value: virtualPromiseTimeout });

  const countedSetImmediate = ((cb: (...a: unknown[]) => void, ...args: unknown[]) => {
    pendingImmediates++;
    let ran = false;
    const h = realSetImmediate(() => {
      ran = true;
      pendingImmediates--;
      scheduleIdleCheck();
      cb(...args);
    });
    immediates.set(h, () => {
      if (!ran) {
        ran = true;
        pendingImmediates--;
      }
    });
    return h;
  }) as typeof setImmediate;
  const immediates = new WeakMap<object, () => void>();
  const countedClearImmediate = ((h: NodeJS.Immediate) => {
    immediates.get(h)?.();
    realClearImmediate(h);
  }) as typeof clearImmediate;

  globalThis.setTimeout = virtualSetTimeout;
  globalThis.setInterval = virtualSetInterval;
  globalThis.clearTimeout = virtualClear;
  globalThis.clearInterval = virtualClear as typeof clearInterval;
  globalThis.setImmediate = countedSetImmediate;
  globalThis.clearImmediate = countedClearImmediate;
  timers.setTimeout = virtualSetTimeout;
  timers.setInterval = virtualSetInterval;
  timers.clearTimeout = virtualClear;
  timers.clearInterval = virtualClear as typeof clearInterval;
  timers.setImmediate = countedSetImmediate;
  timers.clearImmediate = countedClearImmediate;
  timersPromises.setTimeout = virtualPromiseTimeout;
  timersPromises.setInterval = virtualPromiseInterval;
  AbortSignal.timeout = (ms: number) => {
    const c = new AbortController();
    arm(
      () => c.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      ms,
      [],
      false,
    );
    return c.signal;
  };

  // ---- Sockets: any event wakes the thread; idle timeouts count virtual time since the last data. ----

  const idle = new WeakMap<net.Socket, { ms: number; last: number; timer?: TimerHandle }>();

  net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]) {
    markAwake();
    const st = idle.get(this);
    if (st && event === 'data') st.last = virtualNow();
    if (st && event === 'close') st.timer?.close();
    return (realSocketEmit as (...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof net.Socket.prototype.emit;

  net.Socket.prototype.setTimeout = function (this: net.Socket, ms: number, cb?: () => void) {
    realSocketSetTimeout.call(this, 0);
    const prev = idle.get(this);
    prev?.timer?.close();
    if (cb) {
      if (ms === 0) this.removeListener('timeout', cb);
      else this.once('timeout', cb);
    }
    if (!(ms > 0)) {
      idle.delete(this);
      return this;
    }
    const st = { ms, last: virtualNow(), timer: undefined as TimerHandle | undefined };
    idle.set(this, st);
    const check = () => {
      if (this.destroyed) return;
      const quietFor = virtualNow() - st.last;
      if (quietFor >= st.ms) {
        st.timer = undefined;
        this.emit('timeout');
      } else st.timer = arm(check, st.ms - quietFor, [], false);
    };
    st.timer = arm(check, ms, [], false);
    return this;
  };

  // ---- Requests to the emulator: counted while on the wire, marked for the emulator. ----

  function track(on: (done: () => void) => void): void {
    Atomics.add(slot, SLOT.INFLIGHT, 1);
    let open = true;
    on(() => {
      if (!open) return;
      open = false;
      markAwake();
      Atomics.sub(slot, SLOT.INFLIGHT, 1);
    });
  }

  diagnostics.subscribe('http.client.request.created', (message) => {
    const request = (message as { request: ClientRequest }).request;
    if (String(request.getHeader('host') ?? '') !== o.emulatorHost && !request.getHeader(ROUTED_HOST_HEADER))
      return;
    request.setHeader(SANDBOX_HEADER, String(o.slotId));
    track((done) => {
      // Done once the whole response has arrived, whether or not the function reads it (a body
      // nobody reads must not keep the sandbox "on the wire"): what follows is its own computing.
      request.once('response', (res: IncomingMessage) => {
        const socket = res.socket;
        const finish = () => {
          socket?.removeListener('data', onData);
          done();
        };
        const settle = () => {
          if (res.complete) finish();
        };
        const onData = () => process.nextTick(settle);
        process.nextTick(settle);
        socket?.on('data', onData);
        res.once('end', finish);
        res.once('close', finish);
        res.once('error', finish);
      });
      request.once('error', done);
      request.once('close', () => {
        if (!(request as ClientRequest & { res?: IncomingMessage }).res) done();
      });
    });
  });

  const realConnect = http2Module.connect;
  http2Module.connect = function (this: unknown, authority: string | URL, ...rest: unknown[]) {
    const session = (realConnect as (...a: unknown[]) => http2.ClientHttp2Session).call(
      this,
      authority,
      ...rest,
    );
    let host = '';
    try {
      host = new URL(String(authority)).host;
    } catch {
      // not a URL: not the emulator
    }
    if (host !== o.emulatorHost) return session;
    const request = session.request;
    session.request = function (
      this: http2.ClientHttp2Session,
      headers?: http2.OutgoingHttpHeaders,
      opts?: unknown,
    ) {
      const stream = (request as (...a: unknown[]) => http2.ClientHttp2Stream).call(
        this,
        { ...headers, [SANDBOX_HEADER]: String(o.slotId) },
        opts,
      );
      track((done) => {
        stream.once('close', done);
        stream.once('error', done);
      });
      return stream;
    } as typeof session.request;
    return session;
  } as typeof http2.connect;

  return {
    virtualNow,
    tick,
    /** A reply the main thread must act on is about to be posted: we count as computing until it has. */
    reply(): void {
      Atomics.add(slot, SLOT.REPLIES, 1);
    },
    /** A message from the clock (invocation, tick) was taken in. */
    seen(): void {
      markAwake();
      Atomics.add(slot, SLOT.SEEN, 1);
    },
    markAwake,
    scheduleIdleCheck,
    /** Something the thread waits on outside the clock's view (a DNS answer) started / ended. */
    begin(): void {
      pendingOther++;
      markAwake();
    },
    end(): void {
      pendingOther--;
      markAwake();
    },
  };
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
