/**
 * One verification from start to verdict: the code path the action and `privatelink-verify run`
 * share. It starts or re-attaches, watches, and turns what it saw into an outcome and a message.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { ExecutionInputArgs } from '../../statemachine/contract.ts';
import { describeFailure, leftoverWarning } from '../report/render.ts';
import {
  type Outcome,
  outcomeOf,
  type ProgressLog,
  startOrAttach,
  type WatchResult,
  watchExecution,
} from './execution.ts';
import { executionConsoleUrl } from './execution-name.ts';
import type { WaitMode } from './inputs.ts';

export interface VerificationRequest {
  client: SFNClient;
  stateMachineArn: string;
  name: string;
  input: ExecutionInputArgs;
  wait: WaitMode;
  timeoutSeconds: number;
  pollIntervalSeconds: number;
  log: ProgressLog;
  signal?: AbortSignal;
  /** Called as soon as the execution ARN is known (the action remembers it for cancellation). */
  onStarted?: (executionArn: string, attached: boolean) => void;
}

export interface VerificationResult extends WatchResult {
  outcome: Outcome;
  /** One line: what happened and, on failure, which check and why. */
  message: string;
  attached: boolean;
  executionUrl: string;
}

export async function runVerification(req: VerificationRequest): Promise<VerificationResult> {
  const started = await startOrAttach(req.client, {
    stateMachineArn: req.stateMachineArn,
    name: req.name,
    input: req.input,
  });
  req.onStarted?.(started.executionArn, started.attached);
  req.log.info(
    `${started.attached ? 'Attached to the existing' : 'Started'} execution ${req.name}; waiting for the ${
      req.wait === 'verdict' ? 'verdict' : 'execution to finish, cleanup included'
    }.`,
  );
  const watched = await watchExecution(req.client, started.executionArn, {
    mode: req.wait,
    timeoutSeconds: req.timeoutSeconds,
    pollIntervalSeconds: req.pollIntervalSeconds,
    log: req.log,
    ...(req.signal ? { signal: req.signal } : {}),
  });
  const outcome = outcomeOf(watched);
  return {
    ...watched,
    outcome,
    message: messageFor(watched, outcome, req.timeoutSeconds),
    attached: started.attached,
    executionUrl: executionConsoleUrl(started.executionArn),
  };
}

function messageFor(w: WatchResult, outcome: Outcome, timeoutSeconds: number): string {
  if (w.timedOut && !w.report) {
    const within =
      timeoutSeconds < 120
        ? `${Math.round(timeoutSeconds * 10) / 10} s`
        : `${Math.round(timeoutSeconds / 60)} min`;
    return `No verdict within ${within}; the execution keeps running and cleans up after itself: ${w.executionArn}`;
  }
  if (w.report) {
    if (outcome === 'pass') return `Verified: ${w.report.summary}`;
    if (outcome === 'pass-with-leftovers')
      return `Verified, but resources were left behind: ${leftoverWarning(w.report) ?? 'see the report'}`;
    if (outcome === 'fail') return `Verification failed: ${describeFailure(w.report)}`;
    if (w.report.verdict === 'pass') {
      return `The execution ended ${w.status} (${w.error ?? 'no error'}) after a passing verdict: ${w.cause ?? 'see the execution history'}`;
    }
    return `Could not verify: ${describeFailure(w.report)}`;
  }
  const detail = [w.error, w.cause].filter(Boolean).join(': ');
  if (w.status === 'SUCCEEDED')
    return 'The execution succeeded but its output is not a report this action understands.';
  return `${outcome === 'fail' ? 'Verification failed' : 'Could not verify'}: the execution ended ${w.status}${detail ? ` (${detail})` : ''}`;
}
