import { randomUUID } from 'node:crypto';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { Rng } from '../../core/clock.ts';
import type { EmulatorContext } from '../../core/context.ts';
import { isAwsError } from '../../core/errors.ts';
import {
  type AslRetrier,
  type AslState,
  indexStates,
  isRetryGate,
  prepareForLibrary,
  readPath,
  retryGateNames,
  runtimeError,
} from './definition.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A history event as GetExecutionHistory returns it, with a virtual-epoch-ms timestamp. */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/** What EventBridge's "Step Functions Execution Status Change" detail carries. */
export interface ExecutionStatusChange {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** Virtual epoch ms. */
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface ExecutionSpec {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  roleArn: string;
  region: string;
  definition: StateMachineDefinition;
  /** The execution input as sent (a JSON string). */
  input: string;
}

/** The library's event log entries, loosely typed (its types are not exported). */
interface LibraryEvent {
  type: string;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string };
  index?: number;
  retry?: { retrier: AslRetrier; attempt: number };
  Error?: string;
  Cause?: unknown;
}

type TaskTarget =
  | { integration: 'lambda'; resource: string; functionName: string; payload: unknown }
  | { integration: 'lambda:invoke'; resource: string; functionName: string; payload: unknown };

const LAMBDA_ARN = /^arn:aws[\w-]*:lambda:([a-z0-9-]+):\d{12}:function:[\w-]+(:[\w$-]+)?$/;
const LAMBDA_INVOKE = /^arn:aws[\w-]*:states:::lambda:invoke$/;
const MAX_HISTORY_EVENTS = 25_000;

let timeoutErrorClass: Promise<new () => Error> | undefined;

/**
 * The library's own States.Timeout class, found by letting a probe task time out once. Its Catch
 * matching relies on `instanceof` so that `States.TaskFailed` does not catch a timeout, as on AWS.
 */
function statesTimeoutError(): Promise<new () => Error> {
  timeoutErrorClass ??= (async () => {
    const probe = new StateMachine(
      {
        StartAt: 'Probe',
        States: {
          Probe: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:123456789012:function:probe',
            TimeoutSeconds: 0.001,
            End: true,
          },
        },
      } as unknown as StateMachineDefinition,
      { validationOptions: { noValidate: true } },
    );
    const run = probe.run(null, {
      overrides: { taskResourceLocalHandlers: { Probe: () => new Promise(() => {}) } },
    });
    try {
      await run.result;
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      if (cause?.name === 'States.Timeout') return cause.constructor as new () => Error;
    }
    return class extends Error {
      constructor() {
        super('States.Timeout');
        this.name = 'States.Timeout';
      }
    };
  })();
  return timeoutErrorClass;
}

/** An error a task raises, named the way Step Functions names it (`Lambda.ServiceException`, the function's errorType, ...). */
function taskError(name: string, cause: string): Error {
  const e = new Error(cause);
  e.name = name;
  return e;
}

/** Virtual milliseconds before retry number `attempt` (0-based) of a retrier. */
export function retryDelayMs(r: AslRetrier, attempt: number, rng: Rng): number {
  let seconds = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** attempt;
  if (r.MaxDelaySeconds !== undefined && seconds > r.MaxDelaySeconds) seconds = r.MaxDelaySeconds;
  if (r.JitterStrategy === 'FULL') seconds = rng.between(0, seconds);
  return seconds * 1000;
}

/** Index of the retrier that handles an error, as the States language matches them (first match wins). */
function matchingRetrier(retriers: AslRetrier[], err: Error): number {
  if ((err as { isRetryable?: boolean }).isRetryable === false) return -1;
  return retriers.findIndex((r) =>
    r.ErrorEquals.some(
      (name) =>
        name === err.name ||
        name === 'States.ALL' ||
        (name === 'States.TaskFailed' && err.name !== 'States.Timeout'),
    ),
  );
}

function json(v: unknown): string {
  return JSON.stringify(v ?? null);
}

/** Let queued microtasks (the library's event log delivery) run, so our events land after theirs. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One execution: runs the definition in aws-local-stepfunctions with the emulator's Lambda behind
 * every Task, time on the virtual clock, and an AWS-shaped history built from the library's event log.
 */
export class Execution {
  readonly arn: string;
  readonly name: string;
  readonly stateMachineArn: string;
  readonly stateMachineName: string;
  readonly roleArn: string;
  readonly region: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus = 'RUNNING';
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  readonly events: HistoryEvent[] = [];

  private readonly ctx: EmulatorContext;
  private readonly definition: StateMachineDefinition;
  private readonly states: Map<string, AslState>;
  private readonly controller = new AbortController();
  private readonly onStatusChange: (e: Execution) => void;
  private abortRun?: () => void;
  /** Retry counts per retrier of the Parallel/Map states currently running (Task retries live in the handler). */
  private readonly retryAttempts = new Map<string, number[]>();

  constructor(ctx: EmulatorContext, spec: ExecutionSpec, onStatusChange: (e: Execution) => void) {
    this.ctx = ctx;
    this.arn = spec.executionArn;
    this.name = spec.name;
    this.stateMachineArn = spec.stateMachineArn;
    this.stateMachineName = spec.stateMachineName;
    this.roleArn = spec.roleArn;
    this.region = spec.region;
    this.input = spec.input;
    this.definition = spec.definition;
    this.states = indexStates(spec.definition);
    this.onStatusChange = onStatusChange;
    this.startDate = Math.floor(ctx.now());
  }

  /** Record ExecutionStarted and run in the background. */
  start(): void {
    this.record('ExecutionStarted', {
      executionStartedEventDetails: {
        input: this.input,
        inputDetails: { truncated: false },
        roleArn: this.roleArn,
      },
    });
    this.onStatusChange(this);
    const timeout = this.definition.TimeoutSeconds;
    if (timeout !== undefined && timeout > 0) {
      this.ctx.clock.after(timeout * 1000, this.controller.signal, 'execution timeout').then(
        () => this.timeOut(),
        () => {},
      );
    }
    // The execution is an actor on the clock, and its work (tasks, sandboxes, their calls) draws
    // from its own random streams: its timeline does not depend on other runs.
    this.ctx.clock
      .spawn(`execution ${this.name}`, () => this.run(), this.arn)
      .catch((err) => {
        this.ctx.log({
          level: 'error',
          msg: 'execution crashed',
          executionArn: this.arn,
          error: String(err?.stack ?? err),
        });
        this.finish('FAILED', { error: 'States.Runtime', cause: String(err?.message ?? err) });
      });
  }

  /** StopExecution: ABORTED now, no Catch runs. */
  stop(error?: string, cause?: string, opts: { notify?: boolean } = {}): void {
    if (this.status !== 'RUNNING') return;
    const details: Record<string, string> = {};
    if (error !== undefined) details.error = error;
    if (cause !== undefined) details.cause = cause;
    this.finish('ABORTED', details, opts.notify ?? true);
  }

  snapshot(): ExecutionStatusChange {
    const s: ExecutionStatusChange = {
      executionArn: this.arn,
      stateMachineArn: this.stateMachineArn,
      name: this.name,
      status: this.status,
      startDate: this.startDate,
      input: this.input,
    };
    if (this.stopDate !== undefined) s.stopDate = this.stopDate;
    if (this.output !== undefined) s.output = this.output;
    if (this.error !== undefined) s.error = this.error;
    if (this.cause !== undefined) s.cause = this.cause;
    return s;
  }

  private timeOut(): void {
    if (this.status !== 'RUNNING') return;
    this.finish('TIMED_OUT', {
      error: 'States.Timeout',
      cause: `The execution timed out after ${this.definition.TimeoutSeconds} seconds.`,
    });
  }

  private async run(): Promise<void> {
    await statesTimeoutError();
    if (this.status !== 'RUNNING') return;
    const machine = new StateMachine(prepareForLibrary(this.definition), {
      validationOptions: { noValidate: true },
    });
    const handlers: Record<string, (input: any) => Promise<any>> = {};
    const clock = this.ctx.clock;
    for (const [name, state] of this.states) {
      // Each handler call is its own actor: Parallel branches run side by side.
      if (state.Type === 'Task')
        handlers[name] = (input) => clock.spawn(name, () => this.runTask(state, input));
      if (state.Type === 'Wait')
        handlers[name] = (input) => clock.spawn(name, () => this.runWait(state, input));
      if (state.Type === 'Parallel' || state.Type === 'Map') {
        for (const gate of retryGateNames(name, state))
          handlers[gate] = (input) => clock.spawn(gate, () => this.runRetryGate(name, input));
      }
    }
    const run = machine.run(JSON.parse(this.input), {
      overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: this.retryIntervals() },
      context: this.contextObject() as never,
    });
    this.abortRun = run.abort;
    const consumed = this.consume(run.eventLogs as AsyncGenerator<LibraryEvent>);
    try {
      // The library moves only through our handlers (actors themselves) and microtasks.
      const output = await clock.blockedOn(run.result);
      await clock.blockedOn(consumed);
      this.finish('SUCCEEDED', { output: json(output) });
    } catch (err) {
      if (this.status !== 'RUNNING') return;
      await clock.blockedOn(consumed);
      const failure =
        err instanceof ExecutionError ? ((err as { cause?: Error }).cause ?? err) : (err as Error);
      const details: Record<string, string> = {};
      // A Fail state without Error/Cause reports neither (the library fills in its own defaults).
      if (failure.name !== 'FailStateError') details.error = failure.name;
      if (failure.message !== 'Execution failed because of a Fail state') details.cause = failure.message;
      this.finish('FAILED', details);
    }
  }

  private finish(
    status: Exclude<ExecutionStatus, 'RUNNING'>,
    details: Record<string, string>,
    notify = true,
  ): void {
    if (this.status !== 'RUNNING') return;
    this.status = status;
    this.stopDate = Math.floor(this.ctx.now());
    if (details.output !== undefined) this.output = details.output;
    if (details.error !== undefined) this.error = details.error;
    if (details.cause !== undefined) this.cause = details.cause;
    switch (status) {
      case 'SUCCEEDED':
        this.record('ExecutionSucceeded', {
          executionSucceededEventDetails: { output: this.output, outputDetails: { truncated: false } },
        });
        break;
      case 'FAILED':
        this.record('ExecutionFailed', { executionFailedEventDetails: details });
        break;
      case 'ABORTED':
        this.record('ExecutionAborted', { executionAbortedEventDetails: details });
        break;
      case 'TIMED_OUT':
        this.record('ExecutionTimedOut', { executionTimedOutEventDetails: details });
        break;
    }
    // Stops the library's loop and branches, and every virtual sleep and pending invoke of ours.
    this.controller.abort();
    this.abortRun?.();
    if (notify) this.onStatusChange(this);
  }

  private record(type: string, details: Record<string, unknown> = {}): void {
    if (this.events.length >= MAX_HISTORY_EVENTS - 1 && this.status === 'RUNNING') {
      // AWS fails an execution whose history would pass 25,000 events (a polling loop that never ends).
      this.finish('FAILED', {
        error: 'States.Runtime',
        cause: `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`,
      });
      return;
    }
    const id = this.events.length + 1;
    this.events.push({
      timestamp: Math.floor(this.ctx.now()),
      type,
      id,
      previousEventId: id - 1,
      ...details,
    });
  }

  private async consume(events: AsyncGenerator<LibraryEvent>): Promise<void> {
    for await (const ev of events) {
      if (this.status !== 'RUNNING') continue;
      this.translate(ev);
    }
  }

  /** The library's event log in AWS's vocabulary (state type prefixes, *EventDetails members). */
  private translate(ev: LibraryEvent): void {
    const name = ev.state?.name ?? '';
    // The emulator's own retry gates (see prepareForLibrary) are not states of the machine.
    if (isRetryGate(name)) return;
    const kind = this.states.get(name)?.Type ?? ev.state?.type ?? '';
    switch (ev.type) {
      case 'StateEntered':
        this.retryAttempts.delete(name);
        this.record(`${kind}StateEntered`, {
          stateEnteredEventDetails: {
            name,
            input: json(ev.state?.input),
            inputDetails: { truncated: false },
          },
        });
        if (kind === 'Parallel') this.record('ParallelStateStarted');
        if (kind === 'Map') this.record('MapStateStarted');
        break;
      case 'StateExited':
        if (kind === 'Parallel') this.record('ParallelStateSucceeded');
        if (kind === 'Map') this.record('MapStateSucceeded');
        this.record(`${kind}StateExited`, {
          stateExitedEventDetails: {
            name,
            output: json(ev.state?.output),
            outputDetails: { truncated: false },
          },
        });
        break;
      case 'StateFailed':
        if (kind === 'Parallel' || kind === 'Map') this.record(`${kind}StateFailed`);
        break;
      case 'StateRetried': {
        const retriers = (this.states.get(name)?.Retry ?? []) as AslRetrier[];
        const i = retriers.findIndex((r) => json(r) === json(ev.retry?.retrier));
        if (i >= 0) {
          const attempts = this.retryAttempts.get(name) ?? retriers.map(() => 0);
          attempts[i] = ev.retry?.attempt ?? (attempts[i] ?? 0) + 1;
          this.retryAttempts.set(name, attempts);
        }
        break;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = `${ev.type[0]!.toLowerCase()}${ev.type.slice(1)}EventDetails`;
        this.record(ev.type, { [key]: { name: ev.parentState?.name, index: ev.index } });
        break;
      }
    }
  }

  /** `$$` as AWS fills it; StartTime and Input also under the names the prepared definition reads (see prepareForLibrary). */
  private contextObject(): Record<string, unknown> {
    const input = JSON.parse(this.input);
    const startTime = new Date(this.startDate).toISOString();
    return {
      Execution: {
        Id: this.arn,
        Name: this.name,
        RoleArn: this.roleArn,
        StartTime: startTime,
        Input: input,
        RedriveCount: 0,
        EmulatorStartTime: startTime,
        EmulatorInput: input,
      },
      StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
    };
  }

  /**
   * Parallel and Map retries: the library retries at once (interval 0); the pause, on the virtual
   * clock, happens in the retry gate that prepareForLibrary put at the start of every branch.
   */
  private retryIntervals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, state] of this.states) {
      if ((state.Type === 'Parallel' || state.Type === 'Map') && Array.isArray(state.Retry)) out[name] = 0;
    }
    return out;
  }

  /** Retries of each Parallel/Map state seen so far, and when the current one may start. */
  private readonly gates = new Map<string, { retries: number; until: number }>();

  /** The start of a branch of a retried Parallel/Map: wait out the retrier's interval once per retry. */
  private async runRetryGate(parent: string, input: unknown): Promise<unknown> {
    await drain();
    const state = this.states.get(parent);
    const retriers = (state?.Retry ?? []) as AslRetrier[];
    const attempts = this.retryAttempts.get(parent) ?? [];
    const retries = attempts.reduce((a, b) => a + b, 0);
    let gate = this.gates.get(parent);
    if (!gate || retries < gate.retries) gate = { retries: 0, until: 0 };
    if (retries > gate.retries) {
      // The retrier whose count went up decides the pause (attempts are 1-based in the event).
      const prev = this.gateAttempts.get(parent) ?? [];
      const i = attempts.findIndex((n, k) => n > (prev[k] ?? 0));
      const r = retriers[i];
      gate = { retries, until: this.ctx.now() + (r ? retryDelayMs(r, attempts[i]! - 1, this.ctx.rng) : 0) };
      this.gateAttempts.set(parent, [...attempts]);
    }
    this.gates.set(parent, gate);
    const wait = gate.until - this.ctx.now();
    if (wait > 0) await this.sleep(wait);
    return input;
  }

  private readonly gateAttempts = new Map<string, number[]>();

  /** A Wait state on the virtual clock (the prepared definition runs it as a local task that returns its input). */
  private async runWait(state: AslState, input: unknown): Promise<unknown> {
    let ms = 0;
    const context = this.contextObject();
    if (state.Seconds !== undefined) ms = Number(state.Seconds) * 1000;
    else if (state.Timestamp !== undefined) ms = Date.parse(state.Timestamp) - this.ctx.now();
    else if (state.SecondsPath !== undefined) {
      const seconds = readPath(state.SecondsPath, input, context);
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0) {
        throw runtimeError(
          `The SecondsPath parameter does not reference a valid integer value: ${json(seconds)}`,
        );
      }
      ms = seconds * 1000;
    } else if (state.TimestampPath !== undefined) {
      const ts = readPath(state.TimestampPath, input, context);
      const at = typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
      if (Number.isNaN(at))
        throw runtimeError(
          `The TimestampPath parameter does not reference a valid ISO-8601 timestamp: ${json(ts)}`,
        );
      ms = at - this.ctx.now();
    }
    await this.sleep(Math.max(0, ms));
    return input;
  }

  /** A Task state: its target, its Retry policy and its timeout, all on the virtual clock. */
  private async runTask(state: AslState, input: unknown): Promise<unknown> {
    await drain();
    const target = this.taskTarget(state, input);
    const retriers = (state.Retry ?? []) as AslRetrier[];
    const attempts = retriers.map(() => 0);
    for (;;) {
      this.throwIfStopped();
      try {
        return await this.attemptTask(state, target, input);
      } catch (err) {
        this.throwIfStopped();
        const i = matchingRetrier(retriers, err as Error);
        const retrier = retriers[i];
        if (!retrier || attempts[i]! >= (retrier.MaxAttempts ?? 3)) throw err;
        const delay = retryDelayMs(retrier, attempts[i]!, this.ctx.rng);
        attempts[i]!++;
        await this.sleep(delay);
      }
    }
  }

  private taskTarget(state: AslState, input: unknown): TaskTarget {
    const resource = String(state.Resource);
    if (LAMBDA_ARN.test(resource))
      return { integration: 'lambda', resource, functionName: resource, payload: input };
    if (LAMBDA_INVOKE.test(resource)) {
      const params = (input ?? {}) as Record<string, unknown>;
      if (typeof params.FunctionName !== 'string') {
        throw runtimeError("The field 'FunctionName' is required for arn:aws:states:::lambda:invoke");
      }
      return {
        integration: 'lambda:invoke',
        resource,
        functionName: params.FunctionName,
        payload: params.Payload ?? {},
      };
    }
    throw runtimeError(
      `The emulator cannot run Task resource '${resource}': only Lambda functions are supported`,
    );
  }

  private timeoutSeconds(state: AslState, input: unknown): number | undefined {
    if (typeof state.TimeoutSeconds === 'number') return state.TimeoutSeconds;
    if (typeof state.TimeoutSecondsPath === 'string') {
      const v = readPath(state.TimeoutSecondsPath, input, this.contextObject());
      if (typeof v !== 'number' || v < 1)
        throw runtimeError(
          `The TimeoutSecondsPath parameter does not reference a valid integer value: ${json(v)}`,
        );
      return v;
    }
    return undefined;
  }

  /** One invocation, with the history events AWS writes for it. */
  private async attemptTask(state: AslState, target: TaskTarget, input: unknown): Promise<unknown> {
    const timeout = this.timeoutSeconds(state, input);
    const body = Buffer.from(json(target.payload));
    const optimized = target.integration === 'lambda:invoke';
    const taskIds = { resourceType: 'lambda', resource: 'invoke' };
    if (optimized) {
      const scheduled: Record<string, unknown> = { ...taskIds, region: this.region, parameters: json(input) };
      if (timeout !== undefined) scheduled.timeoutInSeconds = timeout;
      this.record('TaskScheduled', { taskScheduledEventDetails: scheduled });
      this.record('TaskStarted', { taskStartedEventDetails: taskIds });
    } else {
      const scheduled: Record<string, unknown> = {
        resource: target.resource,
        input: body.toString('utf8'),
        inputDetails: { truncated: false },
      };
      if (timeout !== undefined) scheduled.timeoutInSeconds = timeout;
      this.record('LambdaFunctionScheduled', { lambdaFunctionScheduledEventDetails: scheduled });
      this.record('LambdaFunctionStarted');
    }
    const failed = (error: string, cause: string) => {
      if (this.status === 'RUNNING') {
        if (optimized) this.record('TaskFailed', { taskFailedEventDetails: { ...taskIds, error, cause } });
        else this.record('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error, cause } });
      }
      return taskError(error, cause);
    };

    const region = LAMBDA_ARN.exec(target.functionName)?.[1] ?? this.region;
    // The state machine's role authorizes the invocation; a refusal is Lambda's AccessDeniedException.
    const clock = this.ctx.clock;
    const invocation = clock.spawn('invoke', () =>
      this.ctx
        .authorizeAsRole(
          this.roleArn,
          'lambda',
          'lambda:InvokeFunction',
          functionArnOf(target.functionName, region, this.ctx.accountId),
          region,
        )
        .then(() => this.ctx.lambda.invoke(target.functionName, body, region)),
    );
    const attemptOver = new AbortController();
    const racers: Promise<unknown>[] = [invocation, this.stopped()];
    if (timeout !== undefined) {
      const signal = AbortSignal.any([this.controller.signal, attemptOver.signal]);
      racers.push(
        clock.after(timeout * 1000, signal, 'task timeout').then(
          () => 'timeout' as const,
          // Cancelled: the attempt is over (or the execution stopped, which `stopped` reports).
          () => new Promise<never>(() => {}),
        ),
      );
    }
    let result: Awaited<ReturnType<EmulatorContext['lambda']['invoke']>>;
    try {
      const won = await clock.blockedOn(Promise.race(racers)).finally(() => attemptOver.abort());
      if (won === 'timeout') {
        const cause = `Task timed out after ${timeout} seconds.`;
        if (this.status === 'RUNNING') {
          if (optimized)
            this.record('TaskTimedOut', {
              taskTimedOutEventDetails: { ...taskIds, error: 'States.Timeout', cause },
            });
          else
            this.record('LambdaFunctionTimedOut', {
              lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout', cause },
            });
        }
        const TimeoutError = await statesTimeoutError();
        throw new TimeoutError();
      }
      result = won as typeof result;
    } catch (err) {
      if ((err as Error)?.name === 'States.Timeout' || this.status !== 'RUNNING') throw err;
      if (isAwsError(err) && err.code === 'AccessDeniedException') {
        // Step Functions names a refused invocation Lambda.AWSLambdaException, with Lambda's
        // AccessDenied in the cause (awslabs/aws-deployment-framework#460).
        throw failed(
          'Lambda.AWSLambdaException',
          `${err.message} (Service: AWSLambda; Status Code: ${err.status}; Error Code: ${err.code}; Request ID: ${randomUUID()}; Proxy: null)`,
        );
      }
      if (isAwsError(err)) {
        throw failed(
          `Lambda.${err.code}`,
          `${err.message} (Service: Lambda, Status Code: ${err.status}, Request ID: ${randomUUID()})`,
        );
      }
      this.ctx.log({
        level: 'error',
        msg: 'lambda invoke crashed',
        executionArn: this.arn,
        error: String((err as Error)?.stack ?? err),
      });
      throw failed('Lambda.SdkClientException', String((err as Error)?.message ?? err));
    }

    const text = result.payload.toString('utf8');
    if (result.functionError) {
      // Step Functions names the error after the function's errorType and keeps the whole payload as the cause.
      let errorType = 'Lambda.Unknown';
      try {
        const parsed = JSON.parse(text) as { errorType?: unknown };
        if (typeof parsed?.errorType === 'string') errorType = parsed.errorType;
      } catch {
        // not JSON: keep the generic name
      }
      throw failed(errorType, text);
    }
    let payload: unknown = null;
    if (text.length > 0) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    if (optimized) {
      const requestId = randomUUID();
      const output = {
        ExecutedVersion: '$LATEST',
        Payload: payload,
        SdkHttpMetadata: {
          AllHttpHeaders: {
            'X-Amz-Executed-Version': ['$LATEST'],
            'x-amzn-RequestId': [requestId],
            'Content-Type': ['application/json'],
          },
          HttpHeaders: {
            'X-Amz-Executed-Version': '$LATEST',
            'x-amzn-RequestId': requestId,
            'Content-Type': 'application/json',
          },
          HttpStatusCode: result.statusCode,
        },
        SdkResponseMetadata: { RequestId: requestId },
        StatusCode: result.statusCode,
      };
      this.record('TaskSucceeded', {
        taskSucceededEventDetails: { ...taskIds, output: json(output), outputDetails: { truncated: false } },
      });
      return output;
    }
    this.record('LambdaFunctionSucceeded', {
      lambdaFunctionSucceededEventDetails: { output: json(payload), outputDetails: { truncated: false } },
    });
    return payload;
  }

  private throwIfStopped(): void {
    if (this.status !== 'RUNNING') throw runtimeError('Execution is no longer running');
  }

  /** Rejects once the execution has stopped, so a pending task does not hold the run. */
  private stopped(): Promise<never> {
    return new Promise((_resolve, reject) => {
      const signal = this.controller.signal;
      if (signal.aborted) return reject(runtimeError('Execution is no longer running'));
      signal.addEventListener('abort', () => reject(runtimeError('Execution is no longer running')), {
        once: true,
      });
    });
  }

  /** Sleep a virtual duration, blocked on the clock; rejects when the execution stops. */
  private sleep(virtualMs: number): Promise<void> {
    return this.ctx.clock.sleep(virtualMs, this.controller.signal).catch(() => {
      throw runtimeError('Execution is no longer running');
    });
  }
}

/** The unqualified function ARN a Task names (by name, partial or full ARN). */
function functionArnOf(ref: string, region: string, accountId: string): string {
  const full = /^(arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+)/.exec(ref);
  if (full) return full[1]!;
  const name = /^(?:\d{12}:function:)?([^:]+)/.exec(ref)?.[1] ?? ref;
  return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
}
