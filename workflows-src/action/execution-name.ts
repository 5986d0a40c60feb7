/**
 * The execution name: deterministic from the workflow run, so a second start in the same attempt
 * finds the execution already running and attaches to it instead of provisioning twice.
 */
import { createHash } from 'node:crypto';
import {
  canonicalInput,
  type ExecutionInputArgs,
  INPUT_DIGEST_LENGTH,
  PROBE_RUN_ID_MAX,
  RUN_ID_PATTERN,
  USER_RUN_ID_MAX,
} from '../../statemachine/contract.ts';

/** Digest of the full input but its run id (region, model, CIDR, options, deadlines, any spec). */
export function inputDigest(input: Omit<ExecutionInputArgs, 'runId'> & { runId?: string }): string {
  return createHash('sha256')
    .update(canonicalInput({ runId: 'x', ...input }, { withoutRunId: true }))
    .digest('hex')
    .slice(0, INPUT_DIGEST_LENGTH);
}

/**
 * A person's run id made into an execution name that cannot lie: `<run id>-<input digest>`. The
 * same run id with other input is another execution (and, being the tag, another set of resources).
 */
export function runIdForInput(userRunId: string, input: Omit<ExecutionInputArgs, 'runId'>): string {
  if (!RUN_ID_PATTERN.test(userRunId) || userRunId.length > USER_RUN_ID_MAX)
    throw new Error(`run id "${userRunId}" must be 1–${USER_RUN_ID_MAX} letters, digits, "-" or "_"`);
  return `${userRunId}-${inputDigest(input)}`;
}

export interface ExecutionNameParts {
  /** owner/name */
  repository: string;
  runId: string;
  runAttempt: string;
  /** Tells apart two verifications in one workflow run (matrix jobs, several regions or models). */
  discriminator?: string;
  /** The execution input (its run id aside): its digest is part of the name, so other input is another execution. */
  input?: Omit<ExecutionInputArgs, 'runId'>;
}

/**
 * The name is also the run id the resources are tagged and named with, so it obeys the contract's
 * run id rule (letters, digits, '-', '_'; at most PROBE_RUN_ID_MAX, well inside the 80 of an
 * execution name). The readable part is the repository name; the hash keeps names of different
 * repositories (and discriminators) apart even when the readable part is cut.
 */
export function executionName(parts: ExecutionNameParts): string {
  if (!/^\d{1,20}$/.test(parts.runId)) throw new Error(`GITHUB_RUN_ID "${parts.runId}" is not a run id`);
  if (!/^\d{1,5}$/.test(parts.runAttempt))
    throw new Error(`GITHUB_RUN_ATTEMPT "${parts.runAttempt}" is not an attempt number`);
  if (!/^[^/\s]+\/[^/\s]+$/.test(parts.repository))
    throw new Error(`GITHUB_REPOSITORY "${parts.repository}" is not owner/name`);
  const hash = createHash('sha256')
    .update(
      `${parts.repository}\n${parts.discriminator ?? ''}\n${parts.input ? inputDigest(parts.input) : ''}`,
    )
    .digest('hex')
    .slice(0, 8);
  const tail = `-${parts.runId}-${parts.runAttempt}-${hash}`;
  const room = PROBE_RUN_ID_MAX - tail.length;
  const repoName = parts.repository.split('/')[1]!;
  const readable = repoName
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, Math.max(0, room))
    .replace(/[-_]+$/, '');
  const name = `${readable || 'run'}${tail}`.slice(-PROBE_RUN_ID_MAX);
  if (!RUN_ID_PATTERN.test(name)) throw new Error(`internal: execution name "${name}" is not valid`);
  return name;
}

/** arn:aws:states:R:A:stateMachine:N + name → arn:aws:states:R:A:execution:N:name */
export function executionArnFor(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** The Step Functions console page of one execution. */
export function executionConsoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  const partition = executionArn.split(':')[1] ?? 'aws';
  const host =
    partition === 'aws-cn'
      ? `console.amazonaws.cn`
      : partition === 'aws-us-gov'
        ? `console.amazonaws-us-gov.com`
        : `${region}.console.aws.amazon.com`;
  return `https://${host}/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}
