/**
 * Deploys the product into an emulator through the ordinary Lambda, IAM and Step Functions APIs:
 * the same task manifest and ASL file the CDK stack uses, bundled with the same esbuild settings.
 */
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { strToU8, zipSync } from 'fflate';
import type { Emulator } from '../emulator/emulator.ts';
import { bundleTask, LAMBDA_RUNTIME, REPO_ROOT, writeProbeInject } from '../tasks/build.ts';
import { SWEEPER_FUNCTION, substitutionName, TASKS, type TaskDefinition } from '../tasks/manifest.ts';

export const STATE_MACHINE_NAME = 'privatelink-verify';
export const ASL_PATH = `${REPO_ROOT}statemachine/verify.asl.json`;
const TASK_ROLE = 'privatelink-verify-tasks';

export interface DeployedProduct {
  stateMachineArn: string;
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

let bundleCache: Map<string, Uint8Array> | undefined;

/** Bundles are the same for every deployment in one process: build them once. */
export async function buildBundles(): Promise<Map<string, Uint8Array>> {
  if (bundleCache) return bundleCache;
  const probeInject = writeProbeInject(`${REPO_ROOT}.build/local`);
  const all: TaskDefinition[] = [...TASKS, SWEEPER_FUNCTION];
  const zips = await Promise.all(
    all.map(
      async (t) => [t.name, zipSync({ 'index.mjs': strToU8(await bundleTask(t, probeInject)) })] as const,
    ),
  );
  bundleCache = new Map(zips);
  return bundleCache;
}

export async function deployProduct(emu: Emulator, opts: { region?: string } = {}): Promise<DeployedProduct> {
  const started = performance.now();
  const region = opts.region ?? 'us-east-1';
  const cfg = { ...emu.clientConfig(region) };
  const iam = new IAMClient(cfg);
  const lambda = new LambdaClient(cfg);
  const sfn = new SFNClient(cfg);

  const bundles = await buildBundles();

  let roleArn: string;
  try {
    roleArn = (await iam.send(new GetRoleCommand({ RoleName: TASK_ROLE }))).Role!.Arn!;
  } catch {
    roleArn = (
      await iam.send(
        new CreateRoleCommand({
          RoleName: TASK_ROLE,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          }),
        }),
      )
    ).Role!.Arn!;
    // Locally one role serves every task; the CDK stack splits them by permission set.
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: TASK_ROLE,
        PolicyName: 'local-tasks',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              // Bedrock control-plane reads: Preflight looks the model up (infra/task-roles.ts LookUpModel).
              Action: [
                'ec2:*',
                'iam:*',
                'lambda:*',
                'sts:*',
                'bedrock:GetFoundationModel',
                'bedrock:GetInferenceProfile',
              ],
              Resource: '*',
            },
          ],
        }),
      }),
    );
  }

  const functionArns: Record<string, string> = {};
  const all: TaskDefinition[] = [...TASKS, SWEEPER_FUNCTION];
  for (const t of all) {
    const fnName = `privatelink-verify-${t.name}`;
    let arn: string | undefined;
    try {
      arn = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fnName }))).FunctionArn;
    } catch {
      arn = await createWhenRoleAssumable(lambda, fnName, t, roleArn, bundles.get(t.name)!);
    }
    functionArns[substitutionName(t)] = arn!;
  }

  const definition = resolveDefinition(readFileSync(ASL_PATH, 'utf8'), functionArns);
  const sm = await sfn.send(
    new CreateStateMachineCommand({
      name: STATE_MACHINE_NAME,
      definition,
      roleArn: `arn:aws:iam::${emu.ctx.accountId}:role/${TASK_ROLE}`,
      type: 'STANDARD',
    }),
  );
  return { stateMachineArn: sm.stateMachineArn!, functionArns, deployMs: performance.now() - started };
}

/** A new role "cannot be assumed by Lambda" for a few seconds, exactly as on AWS. */
async function createWhenRoleAssumable(
  lambda: LambdaClient,
  name: string,
  t: TaskDefinition,
  roleArn: string,
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
