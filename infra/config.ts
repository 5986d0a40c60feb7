/**
 * What a deployment is configured with, from stack props or CDK context, validated at synth time
 * so a mistake fails `cdk synth` with a sentence that says what to fix instead of a failed deploy.
 */
import { MODEL_ID_PATTERN, REGION_PATTERN, TAG_KEYS } from '../statemachine/contract.ts';

/** Raw configuration as a user writes it (every field optional; context values arrive as strings). */
export interface PrivateLinkVerifyConfigInput {
  /** Region the stack and every verification run live in. */
  region?: string;
  /** `owner/name` of the GitHub repository whose workflows may start runs. Without it no GitHub role is made. */
  repository?: string;
  /** Branches whose workflow runs may assume the role (`sub` = `repo:O/R:ref:refs/heads/<branch>`). */
  branches?: string[] | string;
  /** GitHub environments whose jobs may assume the role (`sub` = `repo:O/R:environment:<env>`). */
  environments?: string[] | string;
  /** Allow `pull_request` workflow runs of the repository (`sub` = `repo:O/R:pull_request`). */
  allowPullRequests?: boolean | string;
  /** ARN of an existing GitHub OIDC provider: an account holds only one per URL. */
  existingOidcProviderArn?: string;
  /**
   * Model ids (or inference profile ids) the probe may call; the probe role's boundary names only
   * these. Name at least two: a run calls one the endpoint policy does not name, to show it refuses it.
   */
  allowedModels?: string[] | string;
  /** The run tag every modify/delete permission requires on the resource. */
  tagKey?: string;
  /** CIDR blocks runs may give their VPC (the Preflight task refuses others). */
  vpcCidrPool?: string[] | string;
  /** Retention of every log group, in days. */
  logRetentionDays?: number | string;
}

export interface PrivateLinkVerifyConfig {
  region: string;
  repository: string | undefined;
  branches: string[];
  environments: string[];
  allowPullRequests: boolean;
  existingOidcProviderArn: string | undefined;
  allowedModels: string[];
  tagKey: string;
  vpcCidrPool: string[];
  logRetentionDays: number;
}

export const DEFAULT_CONFIG = {
  region: 'us-east-1',
  branches: ['main'],
  environments: [] as string[],
  allowPullRequests: true,
  // The second model is the one the endpoint policy must refuse (obligation 3's unlisted-model
  // call): the probe boundary allows it, so only the endpoint policy can.
  allowedModels: ['anthropic.claude-3-haiku-20240307-v1:0', 'amazon.titan-text-express-v1'],
  tagKey: TAG_KEYS.runId,
  vpcCidrPool: ['10.42.0.0/16'],
  logRetentionDays: 90,
} as const;

/** CDK context keys (`cdk synth -c privatelink-verify:repository=o/r`, or `context` in cdk.json). */
export const CONTEXT_KEYS: Record<keyof PrivateLinkVerifyConfigInput, string> = {
  region: 'privatelink-verify:region',
  repository: 'privatelink-verify:repository',
  branches: 'privatelink-verify:branches',
  environments: 'privatelink-verify:environments',
  allowPullRequests: 'privatelink-verify:allowPullRequests',
  existingOidcProviderArn: 'privatelink-verify:existingOidcProviderArn',
  allowedModels: 'privatelink-verify:allowedModels',
  tagKey: 'privatelink-verify:tagKey',
  vpcCidrPool: 'privatelink-verify:vpcCidrPool',
  logRetentionDays: 'privatelink-verify:logRetentionDays',
};

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const REPOSITORY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
/** Git ref names and environment names end up inside the `sub` claim: keep to characters that cannot widen it. */
const REF_PATTERN = /^[A-Za-z0-9._/-]{1,255}$/;
const ENVIRONMENT_PATTERN = /^[A-Za-z0-9 ._-]{1,255}$/;
const OIDC_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`privatelink-verify configuration is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Lists arrive from context as JSON arrays or comma-separated strings. */
function list(value: string[] | string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed.map((v) => String(v).trim()).filter(Boolean);
    } catch {
      // Not JSON after all: read it as a comma-separated list, and let validation name the bad item.
    }
  }
  return text
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

function bool(value: boolean | string | undefined): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (/^(true|yes|1)$/i.test(value)) return true;
  if (/^(false|no|0)$/i.test(value)) return false;
  return Number.NaN as unknown as boolean;
}

export function cidrProblem(cidr: string): string | undefined {
  const m = CIDR_PATTERN.exec(cidr);
  if (!m) return `"${cidr}" is not an IPv4 CIDR block like 10.42.0.0/16`;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return `"${cidr}" has an octet above 255`;
  const prefix = Number(m[5]);
  if (prefix < 16 || prefix > 24) return `"${cidr}" must have a prefix between /16 and /24`;
  const value = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  if ((value & ~mask) >>> 0 !== 0) return `"${cidr}" has host bits set: use the network address`;
  return undefined;
}

/** Validate and fill defaults; every problem is reported at once. */
export function resolveConfig(input: PrivateLinkVerifyConfigInput): PrivateLinkVerifyConfig {
  const problems: string[] = [];

  const region = input.region?.trim() || DEFAULT_CONFIG.region;
  if (!REGION_PATTERN.test(region))
    problems.push(`region "${region}" is not an AWS region code such as us-east-1`);

  const repository = input.repository?.trim() || undefined;
  if (repository !== undefined && !REPOSITORY_PATTERN.test(repository)) {
    problems.push(`repository "${repository}" must be "owner/name" as on GitHub (no wildcards)`);
  }

  const branches = list(input.branches) ?? [...DEFAULT_CONFIG.branches];
  for (const b of branches) {
    if (!REF_PATTERN.test(b) || b.includes('*')) problems.push(`branch "${b}" is not a plain branch name`);
  }
  const environments = list(input.environments) ?? [...DEFAULT_CONFIG.environments];
  for (const e of environments) {
    if (!ENVIRONMENT_PATTERN.test(e)) problems.push(`environment "${e}" is not a GitHub environment name`);
  }
  const allowPullRequests = bool(input.allowPullRequests) ?? DEFAULT_CONFIG.allowPullRequests;
  if (typeof allowPullRequests !== 'boolean' || Number.isNaN(allowPullRequests)) {
    problems.push(`allowPullRequests must be true or false, got "${String(input.allowPullRequests)}"`);
  }
  if (repository && branches.length === 0 && environments.length === 0 && allowPullRequests !== true) {
    problems.push(
      'the GitHub role would trust nothing: give at least one branch, environment or allowPullRequests=true',
    );
  }

  const existingOidcProviderArn = input.existingOidcProviderArn?.trim() || undefined;
  if (existingOidcProviderArn !== undefined && !OIDC_ARN_PATTERN.test(existingOidcProviderArn)) {
    problems.push(
      `existingOidcProviderArn "${existingOidcProviderArn}" must be arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com`,
    );
  }

  const allowedModels = list(input.allowedModels) ?? [...DEFAULT_CONFIG.allowedModels];
  if (allowedModels.length === 0) problems.push('allowedModels must name at least one model id');
  for (const m of allowedModels) {
    if (!MODEL_ID_PATTERN.test(m)) {
      problems.push(
        `allowed model "${m}" must look like anthropic.claude-3-haiku-20240307-v1:0 or us.anthropic.claude-3-haiku-20240307-v1:0`,
      );
    }
  }

  const tagKey = input.tagKey?.trim() || DEFAULT_CONFIG.tagKey;
  const knownKeys: string[] = Object.values(TAG_KEYS);
  if (!knownKeys.includes(tagKey)) {
    problems.push(
      `tagKey "${tagKey}" must be one of the tags every run resource carries: ${knownKeys.join(', ')}`,
    );
  }

  const vpcCidrPool = list(input.vpcCidrPool) ?? [...DEFAULT_CONFIG.vpcCidrPool];
  if (vpcCidrPool.length === 0) problems.push('vpcCidrPool must hold at least one CIDR block');
  for (const c of vpcCidrPool) {
    const problem = cidrProblem(c);
    if (problem) problems.push(`vpcCidrPool: ${problem}`);
  }

  const logRetentionDays =
    input.logRetentionDays === undefined ? DEFAULT_CONFIG.logRetentionDays : Number(input.logRetentionDays);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.push(
      `logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}, got "${String(input.logRetentionDays)}"`,
    );
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    region,
    repository,
    branches,
    environments,
    allowPullRequests: allowPullRequests as boolean,
    existingOidcProviderArn,
    allowedModels,
    tagKey,
    vpcCidrPool,
    logRetentionDays,
  };
}

/** Read every key from CDK context; explicit props win over context. */
export function configFromContext(
  tryGetContext: (key: string) => unknown,
  props: PrivateLinkVerifyConfigInput = {},
): PrivateLinkVerifyConfigInput {
  const out: Record<string, unknown> = {};
  for (const [field, key] of Object.entries(CONTEXT_KEYS)) {
    const value = (props as Record<string, unknown>)[field] ?? tryGetContext(key);
    if (value !== undefined) out[field] = value;
  }
  return out as PrivateLinkVerifyConfigInput;
}
