/**
 * The probe: a role that Lambda assumes, created with its identity policy (Bedrock only through
 * this run's endpoint, aws:SourceVpce), and a function created inside the run's VPC from the start
 * (changing VpcConfig later takes minutes). Runs after CreateEndpoint, whose policy already names
 * this role's ARN. The function's code is the probe bundle, embedded in this task at build time.
 * Idempotent by name.
 */
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  type FunctionConfiguration,
  GetFunctionConfigurationCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { strToU8, zipSync } from 'fflate';
import { PROBE_ROLE_PATH, type ProbeFunctionOutput } from '../statemachine/contract.ts';
import { unlistedModel } from '../statemachine/perimeter-spec.ts';
import { createBystanderRole, createCallerRole } from './lib/bystander-role.ts';
import { client } from './lib/clients.ts';
import { resourceFailed, timedOut } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { aws, errorCode, isNotFound } from './lib/outcomes.ts';
import { extraRoleName, policiesOfRun } from './lib/perimeter.ts';
import {
  IDENTITY_POLICY_NAME,
  identityPolicy,
  LAMBDA_VPC_MANAGED_POLICY,
  modelResourceArns,
  PERIMETER_ROLE_POLICY_NAME,
  probeTrustPolicy,
  unlistedModelFor,
} from './lib/policies.ts';
import { parseRunState, probeName, probeRoleArn, required } from './lib/run-state.ts';
import { runTags, tagList, tagMap } from './lib/tags.ts';
import { waitUntil } from './lib/waiter.ts';
import { PROBE_FUNCTION, TASK_ENV } from './manifest.ts';

declare const __PROBE_BUNDLE__: string;

/** A newly created role "cannot be assumed by Lambda" for some seconds: that error means "not yet". */
const isRoleNotReady = (err: unknown) =>
  errorCode(err) === 'InvalidParameterValueException' &&
  /cannot be assumed|execution role does not have permissions/i.test(String((err as Error).message));

export function probeZip(): Uint8Array {
  return zipSync({ 'index.mjs': strToU8(__PROBE_BUNDLE__) }, { level: 9 });
}

export async function handler(event: unknown): Promise<ProbeFunctionOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const network = required(state.network, 'network');
  const endpoint = required(state.provisioned?.endpoint, 'endpoint');
  const name = probeName(input.runId);
  const log = createLogger('CreateProbe', { runId: input.runId, functionName: name });
  const tags = runTags(input, preflight.expiresAt);

  let role: Role | undefined;
  try {
    role = (
      await aws('GetRole', () => client(IAMClient, input.region).send(new GetRoleCommand({ RoleName: name })))
    ).Role;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!role) {
    const boundary = process.env[TASK_ENV.probePermissionsBoundaryArn];
    role = (
      await aws('CreateRole', () =>
        client(IAMClient, input.region).send(
          new CreateRoleCommand({
            RoleName: name,
            Path: PROBE_ROLE_PATH,
            AssumeRolePolicyDocument: probeTrustPolicy(process.env[TASK_ENV.outsideCallerRoleArn]),
            Description: `privatelink-verify probe for run ${input.runId}`,
            ...(boundary ? { PermissionsBoundary: boundary } : {}),
            Tags: tagList(tags),
          }),
        ),
      )
    ).Role!;
    log.info('probe role created', { roleArn: role.Arn });
  }
  // The endpoint policy was written naming this ARN before the role existed: they must agree.
  const expectedArn = probeRoleArn(preflight.accountId, input.runId);
  if (role.Arn !== expectedArn)
    throw resourceFailed(
      `the probe role is ${role.Arn}, but the endpoint policy names ${expectedArn}: the allow check could not pass`,
    );
  const allowedModels = (process.env[TASK_ENV.allowedModels] ?? '').split(',').filter(Boolean);
  const written = input.perimeter
    ? policiesOfRun({ ...state, preflight }, input.perimeter, endpoint.vpcEndpointId)
    : undefined;
  // A model the stack allows but the endpoint policy does not name: the identity policy allows it
  // too, so only the endpoint policy can refuse it (obligation 3). A perimeter's own identity
  // policy decides for itself whether it allows that model.
  const unlistedModelId = input.perimeter
    ? unlistedModel(input.perimeter.models, allowedModels)
    : unlistedModelFor(input.modelId, allowedModels);
  const unlistedArns =
    unlistedModelId && !input.perimeter
      ? modelResourceArns(input.region, preflight.accountId, unlistedModelId)
      : [];
  // With the role, before anything can assume it: the role may call Bedrock only through this endpoint.
  await aws('PutRolePolicy', () =>
    client(IAMClient, input.region).send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: IDENTITY_POLICY_NAME,
        PolicyDocument: written
          ? written.identity()
          : identityPolicy(endpoint.vpcEndpointId, preflight.modelResourceArns, unlistedArns),
      }),
    ),
  );
  await aws('AttachRolePolicy', () =>
    client(IAMClient, input.region).send(
      new AttachRolePolicyCommand({ RoleName: name, PolicyArn: LAMBDA_VPC_MANAGED_POLICY }),
    ),
  );

  let fn: FunctionConfiguration | undefined;
  try {
    fn = await aws('GetFunctionConfiguration', () =>
      client(LambdaClient, input.region).send(new GetFunctionConfigurationCommand({ FunctionName: name })),
    );
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!fn) {
    const zip = probeZip();
    const created = await waitUntil({
      what: 'probe function created',
      poll: () =>
        aws('CreateFunction', () =>
          client(LambdaClient, input.region).send(
            new CreateFunctionCommand({
              FunctionName: name,
              Runtime: 'nodejs24.x',
              Architectures: ['arm64'],
              Role: role!.Arn,
              Handler: 'index.handler',
              Code: { ZipFile: zip },
              Timeout: PROBE_FUNCTION.timeoutSeconds,
              MemorySize: PROBE_FUNCTION.memoryMb,
              Description: `privatelink-verify probe for run ${input.runId}`,
              VpcConfig: {
                SubnetIds: network.subnetIds,
                SecurityGroupIds: [network.workloadSecurityGroupId],
              },
              Tags: tagMap(tags),
            }),
          ),
        ),
      done: () => true,
      timeoutMs: 120_000,
      minDelayMs: 2_000,
      maxDelayMs: 10_000,
      retryOn: isRoleNotReady,
      onAttempt: (_v, attempt, err) => err && log.info('role not assumable yet; retrying', { attempt }),
    });
    if (!created.satisfied) throw timedOut(`Lambda could not assume the new role ${role.Arn} within 120 s`);
    fn = created.value!;
    log.info('probe function created', { functionArn: fn.FunctionArn, state: fn.State });
  }
  // After CreateFunction, so they are off the critical path: the function's Pending wait covers them.
  const verifyRoleArn = process.env[TASK_ENV.outsideCallerRoleArn];
  const boundaryArn = process.env[TASK_ENV.probePermissionsBoundaryArn];
  const bystander = verifyRoleArn
    ? await createBystanderRole({
        region: input.region,
        runId: input.runId,
        verifyRoleArn,
        vpcEndpointId: endpoint.vpcEndpointId,
        modelResourceArns: preflight.modelResourceArns,
        tags,
        ...(boundaryArn ? { boundaryArn } : {}),
        ...(written ? { policyDocument: written.bystanderIdentity() } : {}),
      })
    : undefined;
  if (bystander) log.info('bystander role ready', { roleArn: bystander.roleArn });
  const extraRoles: NonNullable<ProbeFunctionOutput['extraRoles']> = [];
  if (verifyRoleArn && written)
    for (const [i, r] of input.perimeter!.roles.entries()) {
      const made = await createCallerRole({
        region: input.region,
        roleName: extraRoleName(input.runId, i),
        verifyRoleArn,
        description: `privatelink-verify role "${r.name}" of the perimeter for run ${input.runId}`,
        policyName: PERIMETER_ROLE_POLICY_NAME,
        policyDocument: written.role(i),
        tags,
        ...(boundaryArn ? { boundaryArn } : {}),
      });
      extraRoles.push({ name: r.name, ...made });
      log.info('perimeter role ready', { name: r.name, roleArn: made.roleArn });
    }
  return {
    functionName: name,
    functionArn: fn.FunctionArn!,
    roleName: name,
    roleArn: role.Arn!,
    state: String(fn.State ?? 'Pending'),
    identityPolicyName: IDENTITY_POLICY_NAME,
    ...(unlistedModelId ? { unlistedModelId } : {}),
    ...(bystander ? { bystanderRoleName: bystander.roleName, bystanderRoleArn: bystander.roleArn } : {}),
    ...(extraRoles.length ? { extraRoles } : {}),
  };
}
