/**
 * Deploys the product into an emulator through the ordinary Lambda, IAM and Step Functions APIs:
 * the same task manifest and ASL file the CDK stack uses, bundled with the same esbuild settings.
 */
import { readFileSync } from 'node:fs';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetPolicyCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { strFromU8, strToU8, zipSync } from 'fflate';
import type { Emulator } from '../emulator/emulator.ts';
import {
  baseOptions,
  LAMBDA_RUNTIME,
  REPO_ROOT,
  taskBuildOptions,
  writeProbeInject,
} from '../tasks/build.ts';
import {
  PROBE_FUNCTION,
  SWEEPER_FUNCTION,
  substitutionName,
  TASKS,
  type TaskDefinition,
} from '../tasks/manifest.ts';
import { cachedBundle, type Packing, stopBundler } from './bundle-cache.ts';
import { type SynthProduct, synthesizedProduct } from './synth-roles.ts';

export const STATE_MACHINE_NAME = 'privatelink-verify';
export const ASL_PATH = `${REPO_ROOT}statemachine/verify.asl.json`;

export interface DeployedProduct {
  stateMachineArn: string;
  region: string;
  functionArns: Record<string, string>;
  /** Milliseconds spent bundling and deploying. */
  deployMs: number;
}

/** The ASL with every `${Name}` substitution resolved; unknown names are an error, not a silent gap. */
export function resolveDefinition(asl: string, substitutions: Record<string, string>): string {
  return asl.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
    const v = substitutions[name];
    if (v === undefined) throw new Error(`ASL substitution \${${name}} has no value`);
    return v;
  });
}

let bundleCache: Promise<Map<string, Uint8Array>> | undefined;

/**
 * Bundles are the same for every deployment in one process: build them once (concurrent callers
 * share it), and across processes reuse them while nothing they are built from changed.
 */
export function buildBundles(): Promise<Map<string, Uint8Array>> {
  bundleCache ??= (async () => {
    const all: TaskDefinition[] = [...TASKS, SWEEPER_FUNCTION];
    try {
      const probe = await cachedBundle('probe', baseOptions(PROBE_FUNCTION.entry), UTF8);
      const probeInject = writeProbeInject(`${REPO_ROOT}.build/local`, strFromU8(probe.artifact));
      // One after another: esbuild parses ~2,400 SDK files per bundle, and 13 bundles at once
      // took its service process to 1.8 GB on a cache miss. Hits cost no esbuild at all.
      const zips: [string, Uint8Array][] = [];
      for (const t of all)
        zips.push([t.name, (await cachedBundle(t.name, taskBuildOptions(t, probeInject), ZIP)).artifact]);
      return new Map(zips);
    } finally {
      // esbuild's async API keeps a service child process alive; nothing else here bundles after this.
      await stopBundler();
    }
  })();
  return bundleCache;
}

/**
 * A deployment package holding one bundle as `index.mjs`, deflated once when the bundle is built
 * (cached with it). Stored packages saved the emulator ~0.3 s of inflating but, at 13 × ~1 MB
 * through the SDK and the emulator, raised npm start's peak by ~40 MB (322-360 MB against
 * 292-311 MB, three runs each).
 */
const ZIP: Packing = {
  id: 'zip index.mjs, deflated',
  pack: (text) => zipSync({ 'index.mjs': strToU8(text) }),
};

/** The probe's code as UTF-8, for CreateProbe's bundle to embed. */
const UTF8: Packing = { id: 'utf-8', pack: strToU8 };

/** `allowedModels`: the probe boundary's models, as users set them in the CDK context (default: the stack's). */
export async function deployProduct(
  emu: Emulator,
  opts: { region?: string; allowedModels?: string[]; vpcCidrPool?: string[] } = {},
): Promise<DeployedProduct> {
  const started = performance.now();
  const region = opts.region ?? 'us-east-1';
  const cfg = { ...emu.clientConfig(region) };
  const iam = new IAMClient(cfg);
  const lambda = new LambdaClient(cfg);
  const sfn = new SFNClient(cfg);

  const bundles = await buildBundles();

  // The roles, policies and boundary the CDK stack synthesizes, tokens resolved to this emulator.
  const synth = await synthesizedProduct(
    emu.ctx.accountId,
    region,
    STATE_MACHINE_NAME,
    opts.allowedModels,
    opts.vpcCidrPool,
  );
  await installIam(iam, synth);
  const functionArns: Record<string, string> = {};
  const all: TaskDefinition[] = [...TASKS, SWEEPER_FUNCTION];
  for (const t of all) {
    const fnName = `privatelink-verify-${t.name}`;
    let arn: string | undefined;
    try {
      arn = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fnName }))).FunctionArn;
    } catch {
      const f = synth.functions[t.name]!;
      arn = await createWhenRoleAssumable(lambda, fnName, t, f.roleArn, f.environment, bundles.get(t.name)!);
    }
    functionArns[substitutionName(t)] = arn!;
  }

  const definition = resolveDefinition(readFileSync(ASL_PATH, 'utf8'), functionArns);
  const sm = await sfn.send(
    new CreateStateMachineCommand({
      name: STATE_MACHINE_NAME,
      definition,
      roleArn: synth.stateMachineRoleArn,
      type: 'STANDARD',
    }),
  );
  return {
    region,
    stateMachineArn: sm.stateMachineArn!,
    functionArns,
    deployMs: performance.now() - started,
  };
}

/** Create what is missing: the boundary policy, then each role with its trust and policies. */
async function installIam(iam: IAMClient, synth: SynthProduct): Promise<void> {
  try {
    await iam.send(new GetPolicyCommand({ PolicyArn: synth.boundary.arn }));
  } catch {
    await iam.send(
      new CreatePolicyCommand({
        PolicyName: synth.boundary.name,
        PolicyDocument: JSON.stringify(synth.boundary.document),
        Description: 'privatelink-verify probe roles: permissions boundary (from the CDK stack)',
      }),
    );
  }
  await Promise.all(
    synth.roles.map(async (r) => {
      try {
        await iam.send(new GetRoleCommand({ RoleName: r.name }));
        return;
      } catch {
        // not there yet
      }
      await iam.send(
        new CreateRoleCommand({ RoleName: r.name, AssumeRolePolicyDocument: JSON.stringify(r.trustPolicy) }),
      );
      for (const p of r.inlinePolicies)
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: r.name,
            PolicyName: p.name,
            PolicyDocument: JSON.stringify(p.document),
          }),
        );
      for (const arn of r.managedPolicyArns)
        await iam.send(new AttachRolePolicyCommand({ RoleName: r.name, PolicyArn: arn }));
    }),
  );
}

/** A new role "cannot be assumed by Lambda" for a few seconds, exactly as on AWS. */
async function createWhenRoleAssumable(
  lambda: LambdaClient,
  name: string,
  t: TaskDefinition,
  roleArn: string,
  environment: Record<string, string>,
  zip: Uint8Array,
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: LAMBDA_RUNTIME,
          Handler: 'index.handler',
          Role: roleArn,
          Code: { ZipFile: zip },
          Timeout: t.timeoutSeconds,
          MemorySize: t.memoryMb,
          Description: t.description,
          Architectures: ['arm64'],
          ...(Object.keys(environment).length ? { Environment: { Variables: environment } } : {}),
        }),
      );
      return r.FunctionArn!;
    } catch (err) {
      const msg = String((err as Error).message);
      if (attempt < 40 && /cannot be assumed/.test(msg)) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      throw err;
    }
  }
}
