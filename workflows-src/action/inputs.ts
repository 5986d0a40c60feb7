/**
 * The action's inputs, read once at the edge and turned into a typed object. Every problem is
 * reported at once, before anything is started in AWS.
 */
import { isAbsolute, normalize } from 'node:path';
import { inputFieldProblem } from '../../statemachine/contract.ts';
import { DEFAULT_SPEC_FILE } from '../../statemachine/perimeter-spec.ts';

export const WAIT_MODES = ['verdict', 'complete'] as const;
export type WaitMode = (typeof WAIT_MODES)[number];

export const COMMENT_MODES = ['auto', 'off'] as const;
export type CommentMode = (typeof COMMENT_MODES)[number];

export interface VerifyInputs {
  stateMachineArn: string;
  /** Region of the state machine, taken from its ARN: where the Step Functions calls go. */
  stateMachineRegion: string;
  /**
   * Region the verification runs in (where Bedrock and the endpoint are). With a spec: '' (every
   * region of the spec) or one of the spec's regions (only that one is run).
   */
  region: string;
  /** The run's model. With a spec: '' or one of the spec's models (the spec's first is the run's own). */
  modelId: string;
  /**
   * The perimeter spec, relative to the workspace, when one is used: the `spec` input, or the
   * default file when it exists. Absent: no perimeter, today's single region/model run.
   */
  spec?: string;
  /** The base branch's spec (any path; a missing file means the pull request adds the spec). */
  baseSpec?: string;
  /** Models the stack's probe boundary allows; absent: the stack's, as cdk.json says, else its default. */
  allowedModels?: string[];
  /** Network lease pool every run leases from (`privatelink-verify pool create`); absent: each run builds its VPC. */
  pool?: string;
  wait: WaitMode;
  timeoutSeconds: number;
  comment: CommentMode;
  githubToken: string;
  /** Pull request to comment on when the event has none (workflow_dispatch). */
  prNumber?: number;
  /** First delay between polls; it backs off from here. */
  pollIntervalSeconds: number;
}

/** Names as written in action.yml. */
export const INPUT_NAMES = {
  stateMachineArn: 'state-machine-arn',
  region: 'region',
  modelId: 'model-id',
  wait: 'wait',
  timeoutMinutes: 'timeout-minutes',
  comment: 'comment',
  githubToken: 'github-token',
  prNumber: 'pr-number',
  pollIntervalSeconds: 'poll-interval-seconds',
  spec: 'spec',
  baseSpec: 'base-spec',
  allowedModels: 'allowed-models',
  pool: 'pool',
} as const;

export const INPUT_DEFAULTS = {
  wait: 'verdict',
  timeoutMinutes: '90',
  comment: 'auto',
  pollIntervalSeconds: '5',
  spec: DEFAULT_SPEC_FILE,
} as const;

export const STATE_MACHINE_ARN_PATTERN =
  /^arn:aws(?:-cn|-us-gov)?:states:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

export class InputError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid input: ${problems.join('; ')}`);
    this.name = 'InputError';
    this.problems = problems;
  }
}

export interface ParseOptions {
  /**
   * Whether a workspace-relative file exists. The default spec is used only when it exists; a spec
   * named explicitly must exist. Without it no file exists (tests of the other inputs).
   */
  fileExists?: (relativePath: string) => boolean;
}

/** `get` returns the raw, trimmed value of an input ('' when unset), as @actions/core does. */
export function parseInputs(get: (name: string) => string, opts: ParseOptions = {}): VerifyInputs {
  const problems: string[] = [];
  const raw = (name: string, fallback = '') => get(name).trim() || fallback;
  const fileExists = opts.fileExists ?? (() => false);
  // Only a caller that reads specs (the action) is told a spec would do instead.
  const orSpec = (what: string) => (opts.fileExists ? ` (or a ${INPUT_NAMES.spec} that names ${what})` : '');

  const specText = raw(INPUT_NAMES.spec);
  const specPath = specText || INPUT_DEFAULTS.spec;
  let spec: string | undefined;
  if (isAbsolute(specPath) || normalize(specPath).split(/[\\/]/).includes('..')) {
    // The spec is the pull request's: it is read from the checked-out workspace, never beside it.
    problems.push(
      `${INPUT_NAMES.spec} "${specPath}" must be a path inside the workspace (relative, no "..")`,
    );
  } else if (fileExists(specPath)) spec = specPath;
  else if (specText)
    problems.push(
      `${INPUT_NAMES.spec} "${specText}" does not exist in the workspace (check out the repository first)`,
    );

  const stateMachineArn = raw(INPUT_NAMES.stateMachineArn);
  const arnMatch = STATE_MACHINE_ARN_PATTERN.exec(stateMachineArn);
  if (!stateMachineArn) problems.push(`${INPUT_NAMES.stateMachineArn} is required`);
  else if (!arnMatch) {
    problems.push(
      `${INPUT_NAMES.stateMachineArn} "${stateMachineArn}" is not a state machine ARN like arn:aws:states:us-east-1:123456789012:stateMachine:privatelink-verify`,
    );
  }

  const region = raw(INPUT_NAMES.region);
  if (!region) {
    if (!spec) problems.push(`${INPUT_NAMES.region} is required${orSpec('regions')}`);
  } else {
    const problem = inputFieldProblem('region', region);
    if (problem) problems.push(`${INPUT_NAMES.region} "${region}": ${problem}`);
  }

  const modelId = raw(INPUT_NAMES.modelId);
  if (!modelId) {
    if (!spec) problems.push(`${INPUT_NAMES.modelId} is required${orSpec('models')}`);
  } else {
    const problem = inputFieldProblem('modelId', modelId);
    if (problem) problems.push(`${INPUT_NAMES.modelId} "${modelId}": ${problem}`);
  }

  const wait = raw(INPUT_NAMES.wait, INPUT_DEFAULTS.wait);
  if (!(WAIT_MODES as readonly string[]).includes(wait)) {
    problems.push(`${INPUT_NAMES.wait} "${wait}" must be one of: ${WAIT_MODES.join(', ')}`);
  }

  const timeoutText = raw(INPUT_NAMES.timeoutMinutes, INPUT_DEFAULTS.timeoutMinutes);
  const timeoutMinutes = Number(timeoutText);
  if (!/^\d+(\.\d+)?$/.test(timeoutText) || !(timeoutMinutes > 0) || timeoutMinutes > 360) {
    problems.push(
      `${INPUT_NAMES.timeoutMinutes} "${timeoutText}" must be a number of minutes above 0 and at most 360`,
    );
  }

  const comment = raw(INPUT_NAMES.comment, INPUT_DEFAULTS.comment);
  if (!(COMMENT_MODES as readonly string[]).includes(comment)) {
    problems.push(`${INPUT_NAMES.comment} "${comment}" must be one of: ${COMMENT_MODES.join(', ')}`);
  }

  const githubToken = raw(INPUT_NAMES.githubToken);
  if (comment !== 'off' && !githubToken) {
    problems.push(
      `${INPUT_NAMES.githubToken} is required unless ${INPUT_NAMES.comment} is "off" (pass \${{ github.token }})`,
    );
  }

  const prText = raw(INPUT_NAMES.prNumber);
  let prNumber: number | undefined;
  if (prText) {
    prNumber = Number(prText);
    if (!/^[1-9]\d{0,9}$/.test(prText))
      problems.push(`${INPUT_NAMES.prNumber} "${prText}" must be a pull request number`);
  }

  const pollText = raw(INPUT_NAMES.pollIntervalSeconds, INPUT_DEFAULTS.pollIntervalSeconds);
  const pollIntervalSeconds = Number(pollText);
  if (!/^\d+(\.\d+)?$/.test(pollText) || !(pollIntervalSeconds >= 0.01) || pollIntervalSeconds > 60) {
    problems.push(
      `${INPUT_NAMES.pollIntervalSeconds} "${pollText}" must be a number of seconds from 0.01 to 60`,
    );
  }

  const baseSpec = raw(INPUT_NAMES.baseSpec) || undefined;
  if (baseSpec && !spec)
    problems.push(`${INPUT_NAMES.baseSpec} needs a spec: "${specPath}" does not exist in the workspace`);

  const allowedText = raw(INPUT_NAMES.allowedModels);
  let allowedModels: string[] | undefined;
  if (allowedText) {
    allowedModels = allowedText
      .split(/[\s,]+/)
      .map((m) => m.trim())
      .filter(Boolean);
    for (const m of allowedModels) {
      const problem = inputFieldProblem('modelId', m);
      if (problem) problems.push(`${INPUT_NAMES.allowedModels} "${m}": ${problem}`);
    }
  }

  const pool = raw(INPUT_NAMES.pool);
  if (pool) {
    const problem = inputFieldProblem('pool', pool);
    if (problem) problems.push(`${INPUT_NAMES.pool} "${pool}": ${problem}`);
  }

  if (problems.length > 0) throw new InputError(problems);
  return {
    stateMachineArn,
    stateMachineRegion: arnMatch![1]!,
    region,
    modelId,
    wait: wait as WaitMode,
    timeoutSeconds: timeoutMinutes * 60,
    comment: comment as CommentMode,
    githubToken,
    ...(prNumber !== undefined ? { prNumber } : {}),
    pollIntervalSeconds,
    ...(spec ? { spec } : {}),
    ...(baseSpec ? { baseSpec } : {}),
    ...(allowedModels ? { allowedModels } : {}),
    ...(pool ? { pool } : {}),
  };
}
