/**
 * Start (or re-attach to) one verification execution and watch it until its verdict is known or
 * it ends. Shared by the GitHub Action and the CLI's `run` command: nothing here knows GitHub.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  canonicalInput,
  EXECUTION_ERRORS,
  type ExecutionInputArgs,
  type Report,
  ReportSchema,
  type RunOutcome,
  runOutcomeOf,
  STATE_NAMES,
} from '../../statemachine/contract.ts';
import { executionArnFor, executionConsoleUrl } from './execution-name.ts';
import type { WaitMode } from './inputs.ts';

/** Where progress lines go: @actions/core in the action, stdout in the CLI. */
export interface ProgressLog {
  info(line: string): void;
  warning(line: string): void;
  startGroup(title: string): void;
  endGroup(): void;
}

export interface StartedExecution {
  executionArn: string;
  /** True when an execution of that name already existed and we attached to it. */
  attached: boolean;
}

/**
 * StartExecution with the deterministic name. Step Functions answers a repeat of a running
 * execution's name and input with that same execution; a repeat with another input, or of a
 * closed execution, raises ExecutionAlreadyExists, and then we attach to the existing one.
 */
export async function startOrAttach(
  client: SFNClient,
  args: { stateMachineArn: string; name: string; input: ExecutionInputArgs },
): Promise<StartedExecution> {
  try {
    const out = await client.send(
      new StartExecutionCommand({
        stateMachineArn: args.stateMachineArn,
        name: args.name,
        input: JSON.stringify(args.input),
      }),
    );
    return { executionArn: out.executionArn!, attached: false };
  } catch (err) {
    if (!(err instanceof ExecutionAlreadyExists)) throw err;
    const executionArn = executionArnFor(args.stateMachineArn, args.name);
    const existing = await client.send(new DescribeExecutionCommand({ executionArn }));
    // Re-attach only to the same question: an old verdict for other input would be a lie.
    let theirs: string | undefined;
    try {
      theirs = canonicalInput(JSON.parse(existing.input ?? 'null'));
    } catch {
      theirs = undefined;
    }
    if (theirs !== canonicalInput(args.input)) {
      throw new InputMismatchError(
        `execution ${args.name} already exists with other input (${differingFields(existing.input, args.input)}): use another run id`,
      );
    }
    return { executionArn, attached: true };
  }
}

/** The execution name is taken by a run of other input: the user's to fix (exit 2), never re-attached. */
export class InputMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputMismatchError';
  }
}

function differingFields(theirs: string | undefined, ours: ExecutionInputArgs): string {
  let other: Record<string, unknown> = {};
  try {
    other = JSON.parse(canonicalInput(JSON.parse(theirs ?? '{}')));
  } catch {
    return 'unreadable input';
  }
  const mine = JSON.parse(canonicalInput(ours)) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(other), ...Object.keys(mine)])].filter(
    (k) => JSON.stringify(other[k]) !== JSON.stringify(mine[k]),
  );
  return keys.length ? `${keys.join(', ')} differ` : 'input differs';
}

export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

export interface WatchResult {
  executionArn: string;
  status: ExecutionStatus;
  /** The report: the final one when the execution ended, else the one emitted at VerdictKnown. */
  report?: Report;
  reportFrom?: 'verdict' | 'final';
  error?: string;
  cause?: string;
  /** The timeout passed before the wait mode was satisfied; the execution keeps running. */
  timedOut: boolean;
}

export interface WatchOptions {
  mode: WaitMode;
  timeoutSeconds: number;
  pollIntervalSeconds: number;
  log: ProgressLog;
  signal?: AbortSignal;
  /** Longest pause between polls. */
  maxPollIntervalSeconds?: number;
}

/**
 * Poll DescribeExecution and GetExecutionHistory with backoff and jitter. The pause resets to the
 * first interval whenever the history moved, so a busy execution is followed closely and an idle
 * one (waiting for an endpoint) costs few calls.
 */
export async function watchExecution(
  client: SFNClient,
  executionArn: string,
  opts: WatchOptions,
): Promise<WatchResult> {
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  const maxPause = Math.max(opts.pollIntervalSeconds, opts.maxPollIntervalSeconds ?? 30) * 1000;
  const history = new HistoryFollower(opts.log);
  let quietPolls = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    history.startedAt ??= described.startDate ?? new Date();
    // Read history after the status, so a finished execution's last events are all there.
    const fresh = await readNewEvents(client, executionArn, history.lastEventId);
    for (const e of fresh) history.observe(e);
    const status = (described.status ?? 'RUNNING') as ExecutionStatus;

    if (status !== 'RUNNING') {
      history.closeGroup();
      return finished(executionArn, status, described, history.verdictReport);
    }
    if (opts.mode === 'verdict' && history.verdictReport) {
      history.closeGroup();
      return { executionArn, status, report: history.verdictReport, reportFrom: 'verdict', timedOut: false };
    }
    if (Date.now() >= deadline) {
      history.closeGroup();
      return {
        executionArn,
        status,
        ...(history.verdictReport ? { report: history.verdictReport, reportFrom: 'verdict' as const } : {}),
        timedOut: true,
      };
    }
    quietPolls = fresh.length > 0 ? 0 : quietPolls + 1;
    const ceiling = Math.min(maxPause, opts.pollIntervalSeconds * 1000 * 1.5 ** quietPolls);
    // Equal jitter: never below half the ceiling, so polling never degenerates into a busy loop.
    const pause = Math.min(ceiling / 2 + Math.random() * (ceiling / 2), Math.max(0, deadline - Date.now()));
    await sleep(pause, opts.signal);
  }
}

function finished(
  executionArn: string,
  status: ExecutionStatus,
  described: DescribeExecutionCommandOutput,
  verdictReport: Report | undefined,
): WatchResult {
  const base = { executionArn, status, timedOut: false };
  const fromJson = (text: string | undefined) => {
    if (!text) return undefined;
    try {
      const parsed = ReportSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  };
  if (status === 'SUCCEEDED') {
    const report = fromJson(described.output) ?? verdictReport;
    return {
      ...base,
      ...(report ? { report, reportFrom: report === verdictReport ? 'verdict' : 'final' } : {}),
    };
  }
  const error = described.error ?? status;
  // The Fail states carry the final report as their cause; other failures carry prose.
  const finalReport = fromJson(described.cause);
  const report = finalReport ?? verdictReport;
  return {
    ...base,
    error,
    ...(described.cause !== undefined && !finalReport ? { cause: described.cause } : {}),
    ...(report ? { report, reportFrom: finalReport ? ('final' as const) : ('verdict' as const) } : {}),
  };
}

/**
 * Every event after `afterId`, oldest first. Read newest first and stop at the first page that
 * reaches `afterId`: each poll then costs one small page instead of the whole history (which
 * carries every state's input and output), on AWS as locally.
 */
async function readNewEvents(
  client: SFNClient,
  executionArn: string,
  afterId: number,
): Promise<HistoryEvent[]> {
  const newestFirst: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 100,
        reverseOrder: true,
        includeExecutionData: true,
        nextToken,
      }),
    );
    const events = page.events ?? [];
    for (const e of events) if ((e.id ?? 0) > afterId) newestFirst.push(e);
    if (events.some((e) => (e.id ?? 0) <= afterId)) break;
    nextToken = page.nextToken;
  } while (nextToken);
  return newestFirst.reverse();
}

/**
 * Turns history events into one log line per state entered and left, grouped: a group opens with
 * the outermost state entered and closes when it is left, so a Parallel state holds its branches.
 */
class HistoryFollower {
  lastEventId = 0;
  startedAt: Date | undefined;
  verdictReport: Report | undefined;
  private readonly log: ProgressLog;
  private readonly enteredAt = new Map<string, number>();
  private groupOwner: string | undefined;

  constructor(log: ProgressLog) {
    this.log = log;
  }

  observe(e: HistoryEvent): void {
    this.lastEventId = Math.max(this.lastEventId, e.id ?? 0);
    const at = (e.timestamp ?? new Date()).getTime();
    const elapsed = `+${formatSeconds((at - (this.startedAt?.getTime() ?? at)) / 1000)}`;
    const type = e.type ?? '';
    if (type.endsWith('StateEntered') && e.stateEnteredEventDetails?.name) {
      const name = e.stateEnteredEventDetails.name;
      if (!this.groupOwner) {
        this.groupOwner = name;
        this.log.startGroup(`${name} (${elapsed})`);
      }
      this.enteredAt.set(name, at);
      this.log.info(`▶ ${name} entered ${elapsed}`);
      return;
    }
    if (type.endsWith('StateExited') && e.stateExitedEventDetails?.name) {
      const name = e.stateExitedEventDetails.name;
      const since = this.enteredAt.get(name);
      const took = since === undefined ? '' : ` after ${formatSeconds((at - since) / 1000)}`;
      this.log.info(`■ ${name} left${took} ${elapsed}`);
      if (name === STATE_NAMES.verdictKnown) this.takeVerdict(e.stateExitedEventDetails.output);
      if (name === this.groupOwner) this.closeGroup();
      return;
    }
    if (type === 'TaskFailed' || type === 'LambdaFunctionFailed') {
      const d = e.taskFailedEventDetails ?? e.lambdaFunctionFailedEventDetails;
      this.log.info(`  ! ${type}: ${d?.error ?? ''} ${truncate(d?.cause ?? '', 300)} ${elapsed}`);
      return;
    }
    if (type === 'ExecutionFailed' || type === 'ExecutionAborted' || type === 'ExecutionTimedOut') {
      this.closeGroup();
      const d =
        e.executionFailedEventDetails ?? e.executionAbortedEventDetails ?? e.executionTimedOutEventDetails;
      this.log.info(`${type}: ${d?.error ?? ''} ${elapsed}`);
      return;
    }
    if (type === 'ExecutionSucceeded') {
      this.closeGroup();
      this.log.info(`ExecutionSucceeded ${elapsed}`);
    }
  }

  closeGroup(): void {
    if (this.groupOwner === undefined) return;
    this.groupOwner = undefined;
    this.log.endGroup();
  }

  private takeVerdict(output: string | undefined): void {
    if (!output) return;
    try {
      const state = JSON.parse(output) as { verdict?: unknown };
      const parsed = ReportSchema.safeParse(state.verdict);
      if (parsed.success) this.verdictReport = parsed.data;
      else
        this.log.warning(
          `The ${STATE_NAMES.verdictKnown} output has no report that matches the schema; waiting for the end.`,
        );
    } catch {
      this.log.warning(`The ${STATE_NAMES.verdictKnown} output is not JSON; waiting for the end.`);
    }
  }
}

/** pass / pass-with-leftovers / fail / error: anything but pass is a failing step. */
export type Outcome = RunOutcome;

export function outcomeOf(result: WatchResult): Outcome {
  if (result.timedOut && !result.report) return 'error';
  if (result.report) {
    const ended = result.status !== 'RUNNING';
    // A pass taken at the verdict is undone by an execution that then failed for another reason.
    if (
      result.report.verdict === 'pass' &&
      ended &&
      result.status !== 'SUCCEEDED' &&
      result.reportFrom === 'verdict'
    ) {
      return 'error';
    }
    // A final report folds leftovers in; one taken at the verdict cannot know them yet.
    return result.reportFrom === 'final' ? runOutcomeOf(result.report) : result.report.verdict;
  }
  if (result.error === EXECUTION_ERRORS.resourcesLeft) return 'pass-with-leftovers';
  if (result.status === 'SUCCEEDED') return 'error';
  if (result.error === EXECUTION_ERRORS.verificationFailed) return 'fail';
  return 'error';
}

export function consoleLinkLines(executionArn: string): string[] {
  return [`Execution: ${executionArn}`, `Console:   ${executionConsoleUrl(executionArn)}`];
}

function formatSeconds(s: number): string {
  return `${(Math.round(s * 10) / 10).toFixed(1)}s`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
