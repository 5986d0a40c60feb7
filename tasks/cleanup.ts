/**
 * Cleanup: reached from every failure and after the verdict; also what the safety net runs for
 * executions that end ABORTED, TIMED_OUT or FAILED (Catch cannot run then). Runs teardown passes
 * until nothing is left or this invocation's budget ends; the caller (the verify state machine or
 * the safety-net state machine) calls it again after a Wait while status is `pending`, until the
 * cleanup deadline. The result always carries the final inventory: what is left and why.
 */

import {
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  type CleanupOutput,
  EXECUTION_ERRORS,
  ExecutionInputSchema,
  REGION_PATTERN,
  RUN_ID_PATTERN,
  RunStateSchema,
} from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger, type Logger } from './lib/log.ts';
import { errorCode } from './lib/outcomes.ts';
import {
  extraRolesOf,
  type KnownIds,
  knownIdsOf,
  listLeftovers,
  type TeardownPass,
  teardownPass,
} from './lib/teardown.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';
import { LONGEST_TASK_TIMEOUT_SECONDS, TASKS } from './manifest.ts';

interface StatusChangeEvent {
  'detail-type'?: string;
  time?: string;
  detail?: { input?: string; status?: string; executionArn?: string; stopDate?: number; error?: string };
}

interface Target {
  runId: string;
  region: string;
  cleanupSeconds: number;
  known: KnownIds;
  previous?: CleanupOutput;
  /** Set for the safety net: a task may still be running and create something until then. */
  settleUntil?: string;
}

/** Seconds added to the longest task timeout: Step Functions' own dispatch and the Lambda's return. */
const SETTLE_MARGIN_SECONDS = 60;

/** The run to clean up, from the state machine's state or an EventBridge status-change event. */
function target(event: unknown, now: Date): Target | undefined {
  const e = event as StatusChangeEvent & { input?: Record<string, unknown>; cleanup?: unknown };
  let raw: Record<string, unknown> | undefined;
  let settleUntil: string | undefined;
  let known: KnownIds = {};
  const previous = RunStateSchema.shape.cleanup.safeParse(e?.cleanup);
  if (
    e?.['detail-type'] === 'Step Functions Execution Status Change' &&
    typeof e.detail?.input === 'string'
  ) {
    try {
      raw = JSON.parse(e.detail.input);
    } catch {
      return undefined;
    }
    const stoppedAt = e.detail.stopDate ?? (e.time ? Date.parse(e.time) : now.getTime());
    // A run that failed at one of its own Fail states ran Cleanup first: nothing of it is in flight.
    const endedAfterOwnCleanup =
      e.detail.status === 'FAILED' &&
      (Object.values(EXECUTION_ERRORS) as string[]).includes(e.detail.error ?? '');
    if (!endedAfterOwnCleanup)
      settleUntil = new Date(
        stoppedAt + (LONGEST_TASK_TIMEOUT_SECONDS + SETTLE_MARGIN_SECONDS) * 1000,
      ).toISOString();
  } else {
    raw = e?.input;
    const state = e as Parameters<typeof knownIdsOf>[0] & { failure?: { Error?: string } };
    known = knownIdsOf(state);
    settleUntil = inFlightUntil(state, now);
  }
  const runId = String(raw?.runId ?? '');
  const region = String(raw?.region ?? '');
  // Preflight refuses invalid input before creating anything: nothing to clean up then.
  if (!RUN_ID_PATTERN.test(runId) || !REGION_PATTERN.test(region)) return undefined;
  // A perimeter's extra roles are named from the input, whichever way the run ended.
  const roles = extraRolesOf(raw);
  if (roles.length) known = { ...known, roles };
  const deadlines = ExecutionInputSchema.shape.deadlines.safeParse(raw?.deadlines);
  const cleanupSeconds = deadlines.success ? deadlines.data.cleanupSeconds : 3600;
  return {
    runId,
    region,
    cleanupSeconds,
    known,
    ...(previous.success && previous.data ? { previous: previous.data } : {}),
    ...(settleUntil ? { settleUntil } : {}),
  };
}

/**
 * Inside the run, a task can still be in flight when Cleanup starts: a timed-out task's last
 * request may land late, and when one branch of the Parallel fails the other's invocation runs on
 * (Step Functions does not cancel it). Cleanup then waits that out before it may say complete.
 */
function inFlightUntil(
  state: {
    failure?: { Error?: string };
    network?: unknown;
    provisioned?: { endpoint?: unknown; probe?: unknown };
  },
  now: Date,
): string | undefined {
  if (!state.failure) return undefined;
  const timedOut = ['States.Timeout', 'Sandbox.Timedout'].includes(state.failure.Error ?? '');
  // The Parallel starts once CreateEndpoint has recorded the endpoint; it failed if the probe is missing.
  const parallelFailed = Boolean(state.network && state.provisioned?.endpoint) && !state.provisioned?.probe;
  const seconds = parallelFailed ? PARALLEL_TASK_TIMEOUT_SECONDS : timedOut ? SETTLE_MARGIN_SECONDS : 0;
  return seconds ? new Date(now.getTime() + seconds * 1000).toISOString() : undefined;
}

/** The longest a Parallel branch's creating task (CreateProbe) runs on after its sibling failed. */
const PARALLEL_TASK_TIMEOUT_SECONDS = Math.max(
  ...TASKS.filter((t) => t.name === 'CreateProbe').map((t) => t.timeoutSeconds),
);

/**
 * While the probe's hyperplane ENIs are still attached nothing else can go (they hold the subnets,
 * the workload group and so the VPC), and they detach minutes after the probe lets go of them.
 * Watch just them, with one cheap Describe every few seconds, so the pass that deletes them and
 * the network runs moments after they detach instead of at the end of a long backoff.
 */
const ENI_WATCH_INTERVAL_MS = 5_000;
/** Watches in one poll: the lease's release, the ENIs' detach, and one spare. */
const MAX_WATCHES_PER_POLL = 3;

async function untilDetached(
  region: string,
  eniIds: string[],
  leaseEndpoints: string[],
  untilMs: number,
  log: Logger,
): Promise<void> {
  const ec2Api = client(EC2Client, region);
  const result = await waitUntil({
    what: 'Lambda ENIs detached or a pool lease free to release',
    poll: async () => {
      const enis = eniIds.length
        ? ((
            await ec2Api.send(
              new DescribeNetworkInterfacesCommand({
                // A filter, not NetworkInterfaceIds: an ENI Lambda already deleted is simply absent.
                Filters: [{ Name: 'network-interface-id', Values: eniIds }],
              }),
            )
          ).NetworkInterfaces ?? [])
        : [];
      // A held lease waits only for the run's endpoint: release it the moment that is gone.
      const endpoints = leaseEndpoints.length
        ? (
            (
              await ec2Api.send(
                new DescribeVpcEndpointsCommand({
                  Filters: [{ Name: 'vpc-endpoint-id', Values: leaseEndpoints }],
                }),
              )
            ).VpcEndpoints ?? []
          ).filter((e) => String(e.State ?? '').toLowerCase() !== 'deleted')
        : [];
      return { enis, endpoints };
    },
    done: ({ enis, endpoints }) =>
      (leaseEndpoints.length > 0 && endpoints.length === 0) ||
      (eniIds.length > 0 && enis.every((n) => n.Status === 'available')),
    timeoutMs: Math.max(0, untilMs - Date.now()),
    minDelayMs: ENI_WATCH_INTERVAL_MS,
    maxDelayMs: ENI_WATCH_INTERVAL_MS,
    random: () => 1,
    // The pass that follows reports whatever this watch could not see.
    retryOn: () => true,
  });
  log.info('Lambda ENIs and lease watched', {
    eniIds,
    leaseEndpoints,
    changed: result.satisfied,
    polls: result.attempts,
  });
}

/** One invocation never works longer than this: the state machine's Wait loop carries on. */
const PER_INVOCATION_SECONDS = 600;

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<CleanupOutput> {
  const now = new Date();
  const t = target(event, now);
  if (!t) {
    return {
      status: 'complete',
      attempt: 1,
      deleted: [],
      remaining: [],
      unlisted: [],
      startedAt: now.toISOString(),
    };
  }
  const log = createLogger('Cleanup', { runId: t.runId });
  const startedAt = t.previous?.startedAt ?? now.toISOString();
  const settleUntil = t.previous?.settleUntil ?? t.settleUntil;
  const attempt = (t.previous?.attempt ?? 0) + 1;
  // The safety net keeps trying at least a while past the moment nothing can be in flight any more.
  const deadlineMs = Math.max(
    Date.parse(startedAt) + t.cleanupSeconds * 1000,
    settleUntil ? Date.parse(settleUntil) + 600_000 : 0,
  );
  const deleted = [...(t.previous?.deleted ?? [])];

  let last: TeardownPass = { deleted: [], remaining: [], unlisted: [] };
  const timeoutMs = Math.max(
    0,
    Math.min(deadlineMs - now.getTime(), budgetMs(PER_INVOCATION_SECONDS, context)),
  );
  const untilMs = now.getTime() + timeoutMs;
  await waitUntil({
    what: 'teardown complete',
    poll: async () => {
      last = await teardownPass(t.runId, t.region, log, t.known);
      deleted.push(...last.deleted);
      // Only the probe's attached ENIs (and, with a pool, the lease's wait for the endpoint) hold
      // the rest: watch them, then run the pass that deletes (or releases) at once.
      for (let watch = 0; watch < MAX_WATCHES_PER_POLL; watch++) {
        const enis = last.attachedLambdaEnis ?? [];
        const leaseEndpoints = last.leaseWaitsFor ?? [];
        const watchable =
          enis.length + leaseEndpoints.length > 0 && !last.lastError && last.unlisted.length === 0;
        if (!watchable || Date.now() >= untilMs) break;
        await untilDetached(t.region, enis, leaseEndpoints, untilMs, log);
        last = await teardownPass(t.runId, t.region, log, t.known);
        deleted.push(...last.deleted);
      }
      return last;
    },
    done: (p) => p.remaining.length === 0 && p.unlisted.length === 0,
    timeoutMs,
    minDelayMs: 5_000,
    maxDelayMs: 30_000,
    // Whatever the error: a refusal now may be a permission fixed or a throttle gone later.
    retryOn: () => true,
    onAttempt: (p, n, err) =>
      log.info('teardown pass', {
        pass: n,
        deleted: p?.deleted.length,
        remaining: p?.remaining.map((r) => `${r.type}:${r.id}`),
        unlisted: p?.unlisted,
        error: err ? errorCode(err) : undefined,
      }),
  });

  // Trust but verify: the final inventory by tag, by recorded id and by name is what we report.
  const { leftovers, unlisted } = await listLeftovers(t.runId, t.region, t.known, last);
  const empty = leftovers.length === 0 && unlisted.length === 0;
  const settled = !settleUntil || Date.now() >= Date.parse(settleUntil);
  const status: CleanupOutput['status'] =
    empty && settled ? 'complete' : Date.now() >= deadlineMs ? 'incomplete' : 'pending';
  log.info('cleanup pass finished', {
    status,
    deleted: deleted.length,
    leftovers: leftovers.length,
    unlisted,
  });
  return {
    status,
    attempt,
    deleted,
    remaining: leftovers,
    unlisted,
    startedAt,
    ...(settleUntil ? { settleUntil } : {}),
    ...(last.lastError ? { lastError: last.lastError } : {}),
  };
}
