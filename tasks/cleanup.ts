/**
 * Cleanup: reached from every failure and after the verdict; also the target of the EventBridge
 * rule for executions that end ABORTED or TIMED_OUT (Catch cannot run then). Runs teardown passes
 * until nothing is left or this invocation's budget ends; the state machine calls it again after a
 * Wait while status is `pending`, until the input's cleanup deadline.
 */
import {
  type CleanupOutput,
  ExecutionInputSchema,
  REGION_PATTERN,
  RUN_ID_PATTERN,
  RunStateSchema,
} from '../statemachine/contract.ts';
import { createLogger } from './lib/log.ts';
import { errorCode, isTransient } from './lib/outcomes.ts';
import { listLeftovers, type TeardownPass, teardownPass } from './lib/teardown.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';

interface StatusChangeEvent {
  'detail-type'?: string;
  detail?: { input?: string; status?: string; executionArn?: string };
}

/** The run to clean up, from the state machine's state or an EventBridge status-change event. */
function target(
  event: unknown,
): { runId: string; region: string; cleanupSeconds: number; previous?: CleanupOutput } | undefined {
  const e = event as StatusChangeEvent & { input?: Record<string, unknown>; cleanup?: unknown };
  let raw: Record<string, unknown> | undefined;
  let previous: CleanupOutput | undefined;
  if (
    e?.['detail-type'] === 'Step Functions Execution Status Change' &&
    typeof e.detail?.input === 'string'
  ) {
    try {
      raw = JSON.parse(e.detail.input);
    } catch {
      return undefined;
    }
  } else {
    raw = e?.input;
    const parsed = RunStateSchema.shape.cleanup.safeParse(e?.cleanup);
    if (parsed.success) previous = parsed.data;
  }
  const runId = String(raw?.runId ?? '');
  const region = String(raw?.region ?? '');
  // Preflight refuses invalid input before creating anything: nothing to clean up then.
  if (!RUN_ID_PATTERN.test(runId) || !REGION_PATTERN.test(region)) return undefined;
  const deadlines = ExecutionInputSchema.shape.deadlines.safeParse(raw?.deadlines);
  const cleanupSeconds = deadlines.success ? deadlines.data.cleanupSeconds : 3600;
  return { runId, region, cleanupSeconds, ...(previous ? { previous } : {}) };
}

const overallDeadlinePassed = (startedAt: string, seconds: number) =>
  Date.parse(startedAt) + seconds * 1000 <= Date.now();

/** One invocation never works longer than this: the state machine's Wait loop carries on. */
const PER_INVOCATION_SECONDS = 600;

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<CleanupOutput> {
  const t = target(event);
  const now = new Date();
  if (!t) {
    return { status: 'complete', attempt: 1, deleted: [], remaining: [], startedAt: now.toISOString() };
  }
  const log = createLogger('Cleanup', { runId: t.runId });
  const startedAt = t.previous?.startedAt ?? now.toISOString();
  const attempt = (t.previous?.attempt ?? 0) + 1;
  const overallLeftMs = Date.parse(startedAt) + t.cleanupSeconds * 1000 - now.getTime();
  const deleted = [...(t.previous?.deleted ?? [])];

  let last: TeardownPass = { deleted: [], remaining: [] };
  const result = await waitUntil({
    what: 'teardown complete',
    poll: async () => {
      last = await teardownPass(t.runId, t.region, log);
      deleted.push(...last.deleted);
      return last;
    },
    done: (p) => p.remaining.length === 0,
    timeoutMs: Math.max(0, Math.min(overallLeftMs, budgetMs(PER_INVOCATION_SECONDS, context))),
    minDelayMs: 5_000,
    maxDelayMs: 30_000,
    retryOn: isTransient,
    onAttempt: (p, n, err) =>
      log.info('teardown pass', {
        pass: n,
        deleted: p?.deleted.length,
        remaining: p?.remaining.map((r) => `${r.type}:${r.id}`),
        error: err ? errorCode(err) : undefined,
      }),
  });

  if (result.satisfied) {
    // Trust but verify: list by tag and name, and report whatever is still there.
    const leftovers = await listLeftovers(t.runId, t.region);
    log.info('cleanup finished', { deleted: deleted.length, leftovers: leftovers.length });
    const status =
      leftovers.length === 0
        ? 'complete'
        : overallDeadlinePassed(startedAt, t.cleanupSeconds)
          ? 'incomplete'
          : 'pending';
    return { status, attempt, deleted, remaining: leftovers, startedAt };
  }
  const overallDone = overallDeadlinePassed(startedAt, t.cleanupSeconds);
  const out: CleanupOutput = {
    status: overallDone ? 'incomplete' : 'pending',
    attempt,
    deleted,
    remaining: last.remaining,
    startedAt,
    ...(last.lastError ? { lastError: last.lastError } : {}),
  };
  log.info('cleanup not finished in this invocation', {
    status: out.status,
    remaining: out.remaining.length,
  });
  return out;
}
