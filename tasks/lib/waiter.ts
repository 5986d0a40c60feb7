/**
 * The one waiting helper: poll until a predicate holds or a deadline passes, sleeping with
 * exponential backoff and full jitter between attempts.
 */
export interface WaitOptions<T> {
  /** What is awaited, for messages. */
  what: string;
  /** One observation; may throw (the error is passed to `retryOn`). */
  poll: () => Promise<T>;
  /** True when the observation is what we wait for. */
  done: (value: T) => boolean;
  /** Milliseconds from now after which we stop. */
  timeoutMs: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Errors that mean "not yet" (eventual consistency): keep polling. Others are thrown. */
  retryOn?: (err: unknown) => boolean;
  /** Called after every observation (progress logs). */
  onAttempt?: (value: T | undefined, attempt: number, err?: unknown) => void;
  random?: () => number;
  /**
   * `start`: the delay runs from the moment a poll began, so a poll that itself took long (a
   * black-holed call hanging until its timeout) is followed by the next one at once instead of
   * after a further full delay. Default `end`: the delay runs after the poll returned.
   */
  paceFrom?: 'start' | 'end';
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface WaitResult<T> {
  /** True when `done` held before the deadline. */
  satisfied: boolean;
  /** The last observation (undefined if every poll threw a retryable error). */
  value: T | undefined;
  attempts: number;
  elapsedMs: number;
  lastError?: unknown;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Full jitter: a random delay up to min(max, min * 2^attempt), floored at half the minimum so polls never spin. */
export function fullJitterDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.max(minMs / 2, Math.round(random() * ceiling));
}

export async function waitUntil<T>(opts: WaitOptions<T>): Promise<WaitResult<T>> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const minDelay = opts.minDelayMs ?? 2_000;
  const maxDelay = opts.maxDelayMs ?? 15_000;
  const start = now();
  const deadline = start + opts.timeoutMs;
  let attempts = 0;
  let value: T | undefined;
  let lastError: unknown;
  for (;;) {
    attempts++;
    const pollStart = now();
    try {
      value = await opts.poll();
      lastError = undefined;
      opts.onAttempt?.(value, attempts);
      if (opts.done(value)) return { satisfied: true, value, attempts, elapsedMs: now() - start };
    } catch (err) {
      if (!opts.retryOn?.(err)) throw err;
      lastError = err;
      opts.onAttempt?.(undefined, attempts, err);
    }
    const remaining = deadline - now();
    if (remaining <= 0) return { satisfied: false, value, attempts, elapsedMs: now() - start, lastError };
    const delay = fullJitterDelay(attempts - 1, minDelay, maxDelay, random);
    const spent = opts.paceFrom === 'start' ? now() - pollStart : 0;
    await sleep(Math.max(0, Math.min(remaining, delay - spent)));
  }
}

/** Time a task may spend waiting: its own deadline, capped by the Lambda's remaining time less a margin. */
export function budgetMs(
  deadlineSeconds: number,
  context?: { getRemainingTimeInMillis?: () => number },
): number {
  const remaining = context?.getRemainingTimeInMillis?.();
  const want = deadlineSeconds * 1000;
  if (remaining === undefined) return want;
  return Math.max(0, Math.min(want, remaining - 15_000));
}
