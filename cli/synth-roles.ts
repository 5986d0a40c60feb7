/**
 * The IAM the CDK stack synthesizes, for the local deployer: task roles, the state machine role,
 * the probe permissions boundary, their policies, and each task function's role and environment,
 * with the template's tokens resolved to the emulator's account, region and local names. Every
 * local run then exercises the least privilege users deploy.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { REPO_ROOT } from '../tasks/build.ts';
import { SWEEPER_FUNCTION, TASKS } from '../tasks/manifest.ts';

export const LOCAL_PREFIX = 'privatelink-verify';
export const BOUNDARY_NAME = `${LOCAL_PREFIX}-probe-boundary`;
export const STATE_MACHINE_ROLE = `${LOCAL_PREFIX}-states`;
/** The safety net's state machine name locally (cli/safety-net.ts deploys it). */
export const SAFETY_NET_STATE_MACHINE = `${LOCAL_PREFIX}-safety-net`;
export const SAFETY_NET_ROLE = `${LOCAL_PREFIX}-safety-net`;

export interface SynthRole {
  name: string;
  arn: string;
  trustPolicy: unknown;
  inlinePolicies: { name: string; document: unknown }[];
  managedPolicyArns: string[];
}

export interface SynthProduct {
  roles: SynthRole[];
  boundary: { name: string; arn: string; document: unknown };
  /** By task name. */
  functions: Record<string, { roleArn: string; environment: Record<string, string> }>;
  stateMachineRoleArn: string;
  /** The safety-net state machine's role (Cleanup in a loop after ABORTED/TIMED_OUT/FAILED). */
  safetyNetRoleArn: string;
  /** Milliseconds the synth took (0 when cached). */
  synthMs: number;
}

type Cfn = Record<string, { Type: string; Properties?: Record<string, any> }>;

const cache = new Map<string, SynthProduct>();

/** What the synthesized IAM depends on: a change to any of these files synthesizes anew. */
function sourcesDigest(): string {
  const h = createHash('sha256');
  const files = [
    ...readdirSync(join(REPO_ROOT, 'infra')).map((f) => join('infra', f)),
    'tasks/manifest.ts',
    'statemachine/contract.ts',
    'statemachine/verify.asl.json',
    'statemachine/safety-net.asl.json',
    'package-lock.json',
  ].sort();
  for (const f of files) h.update(f).update(readFileSync(join(REPO_ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Synthesize once per account/region: a synth costs seconds (≈20 s measured on a loaded 2-core
 * machine), so the result is kept in memory and on disk, keyed by the digest of its sources.
 */
export async function synthesizedProduct(
  accountId: string,
  region: string,
  stateMachineName: string,
  allowedModels?: string[],
  vpcCidrPool?: string[],
): Promise<SynthProduct> {
  const models = allowedModels?.length ? allowedModels : undefined;
  const pool = vpcCidrPool?.length ? vpcCidrPool : undefined;
  const keyed = [models?.join(','), pool ? `pool=${pool.join(',')}` : undefined].filter(Boolean).join(';');
  const digest = keyed ? `-${createHash('sha256').update(keyed).digest('hex').slice(0, 8)}` : '';
  const key = `${accountId}-${region}-${stateMachineName}${digest}`;
  const hit = cache.get(key);
  if (hit) return { ...hit, synthMs: 0 };
  const file = join(REPO_ROOT, '.build', 'local', `synth-${key}-${sourcesDigest()}.json`);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as SynthProduct;
    cache.set(key, stored);
    return { ...stored, synthMs: 0 };
  }
  const product = await synthesize(accountId, region, stateMachineName, models, pool);
  cache.set(key, product);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(product));
  return product;
}

async function synthesize(
  accountId: string,
  region: string,
  stateMachineName: string,
  allowedModels: string[] | undefined,
  vpcCidrPool?: string[],
): Promise<SynthProduct> {
  const started = performance.now();
  // aws-cdk-lib costs about 50 MB and half a second to load: only a cache miss pays for it.
  const [{ App }, { Template }, { PrivateLinkVerifyStack }, { PERMISSION_SETS }] = await Promise.all([
    import('aws-cdk-lib'),
    import('aws-cdk-lib/assertions'),
    import('../infra/stack.ts'),
    import('../infra/task-roles.ts'),
  ]);
  const app = new App();
  const stack = new PrivateLinkVerifyStack(app, 'PrivateLinkVerify', {
    env: { account: accountId, region },
    config: { region, ...(allowedModels ? { allowedModels } : {}), ...(vpcCidrPool ? { vpcCidrPool } : {}) },
    taskCode: 'placeholder-for-tests',
  });
  const resources = Template.fromStack(stack).toJSON().Resources as Cfn;
  const id = (c: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(c.node.defaultChild as CfnElement);
  const iamArn = (kind: string, name: string) => `arn:aws:iam::${accountId}:${kind}/${name}`;

  // What Ref and Fn::GetAtt …Arn of each resource are locally.
  const refs = new Map<string, { ref: string; arn: string; name?: string }>();
  const roleIds = new Map<string, string>();
  for (const set of PERMISSION_SETS) {
    const name = `${LOCAL_PREFIX}-${set}`;
    roleIds.set(id(stack.taskRoles.roles[set]), name);
  }
  roleIds.set(id(stack.stateMachine.role as never), STATE_MACHINE_ROLE);
  roleIds.set(id(stack.safetyNet.role as never), SAFETY_NET_ROLE);
  for (const [logicalId, name] of roleIds) refs.set(logicalId, { ref: name, arn: iamArn('role', name) });
  const boundaryArn = iamArn('policy', BOUNDARY_NAME);
  refs.set(id(stack.probeBoundary.policy), { ref: boundaryArn, arn: boundaryArn });
  const fnIds = new Map<string, string>();
  for (const t of [...TASKS, SWEEPER_FUNCTION]) {
    const name = `${LOCAL_PREFIX}-${t.name}`;
    const logicalId = id(stack.taskFunctions.functions[t.name]!);
    fnIds.set(logicalId, t.name);
    const arn = `arn:aws:lambda:${region}:${accountId}:function:${name}`;
    refs.set(logicalId, { ref: name, arn });
  }
  const smArn = `arn:aws:states:${region}:${accountId}:stateMachine:${stateMachineName}`;
  refs.set(id(stack.stateMachine), { ref: smArn, arn: smArn, name: stateMachineName });
  const netArn = `arn:aws:states:${region}:${accountId}:stateMachine:${SAFETY_NET_STATE_MACHINE}`;
  refs.set(id(stack.safetyNet), { ref: netArn, arn: netArn, name: SAFETY_NET_STATE_MACHINE });
  for (const [logicalId, r] of Object.entries(resources)) {
    if (refs.has(logicalId)) continue;
    if (r.Type === 'AWS::Logs::LogGroup') {
      const name = `/aws/${LOCAL_PREFIX}/${logicalId}`;
      refs.set(logicalId, { ref: name, arn: `arn:aws:logs:${region}:${accountId}:log-group:${name}:*` });
    }
  }
  const resolve = (v: unknown): any => resolveTokens(v, refs, { accountId, region });

  const roles: SynthRole[] = [];
  for (const [logicalId, name] of roleIds) {
    const props = resources[logicalId]!.Properties ?? {};
    roles.push({
      name,
      arn: iamArn('role', name),
      trustPolicy: resolve(props.AssumeRolePolicyDocument),
      inlinePolicies: ((props.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]).map(
        (p) => ({
          name: p.PolicyName,
          document: resolve(p.PolicyDocument),
        }),
      ),
      managedPolicyArns: ((props.ManagedPolicyArns ?? []) as unknown[]).map((a) => String(resolve(a))),
    });
  }
  // AWS::IAM::Policy resources attach to roles by Ref.
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    for (const roleRef of (r.Properties?.Roles ?? []) as unknown[]) {
      // Only the roles the local deployer installs (not, say, EventBridge's role for the rule).
      const logicalId = (roleRef as { Ref?: string } | null)?.Ref;
      if (!logicalId || !roleIds.has(logicalId)) continue;
      const name = String(resolve(roleRef));
      roles
        .find((x) => x.name === name)
        ?.inlinePolicies.push({
          name: r.Properties!.PolicyName,
          document: resolve(r.Properties!.PolicyDocument),
        });
    }
  }
  const functions: SynthProduct['functions'] = {};
  for (const [logicalId, task] of fnIds) {
    const props = resources[logicalId]!.Properties ?? {};
    functions[task] = {
      roleArn: String(resolve(props.Role)),
      environment: resolve(props.Environment?.Variables ?? {}) as Record<string, string>,
    };
  }
  const product: SynthProduct = {
    roles,
    boundary: {
      name: BOUNDARY_NAME,
      arn: boundaryArn,
      document: resolve(resources[id(stack.probeBoundary.policy)]!.Properties!.PolicyDocument),
    },
    functions,
    stateMachineRoleArn: iamArn('role', STATE_MACHINE_ROLE),
    safetyNetRoleArn: iamArn('role', SAFETY_NET_ROLE),
    synthMs: performance.now() - started,
  };
  return product;
}

/** CloudFormation intrinsics the stack's IAM uses: Ref, Fn::GetAtt …Arn (and a state machine's …Name), Fn::Join, pseudo parameters. */
function resolveTokens(
  v: unknown,
  refs: Map<string, { ref: string; arn: string; name?: string }>,
  env: { accountId: string; region: string },
): unknown {
  if (Array.isArray(v)) return v.map((x) => resolveTokens(x, refs, env));
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('Ref' in o) {
    const name = String(o.Ref);
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': env.region,
      'AWS::AccountId': env.accountId,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'PrivateLinkVerify',
    };
    const r = pseudo[name] ?? refs.get(name)?.ref;
    if (r === undefined) throw new Error(`local deployer: cannot resolve Ref ${name}`);
    return r;
  }
  if ('Fn::GetAtt' in o) {
    const [logicalId, attr] = o['Fn::GetAtt'] as [string, string];
    const r = refs.get(logicalId);
    // A state machine's Name (the sweeper may describe that machine's executions).
    if (r?.name !== undefined && attr === 'Name') return r.name;
    if (!r || attr !== 'Arn')
      throw new Error(`local deployer: cannot resolve Fn::GetAtt ${logicalId}.${attr}`);
    return r.arn;
  }
  if ('Fn::Join' in o) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveTokens(p, refs, env))).join(sep);
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolveTokens(x, refs, env)]));
}
