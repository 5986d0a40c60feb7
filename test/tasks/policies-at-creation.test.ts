/**
 * The policies under test are in force from creation: CreateEndpoint writes the allow policy
 * naming the probe role before the role exists, CreateProbe gives the role its aws:SourceVpce
 * identity policy as it creates it, and no policy is changed before the allow check. The policy
 * still decides who: a function in the same VPC under a role the policy does not name, with an
 * identity policy that would allow the call, is refused by the endpoint policy. Handlers run
 * in-process against the emulator; the probe is the real probe bundle.
 */
import { DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileNamed } from '../../emulator/core/latency.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, type RunState } from '../../statemachine/contract.ts';
import { buildProbeCodeSync } from '../../tasks/build.ts';
import { startTestEmulator } from '../helpers/emulator.ts';
import { functionReady } from '../helpers/wait.ts';

let emu: Emulator;
const operations: string[] = [];
const input = ExecutionInputSchema.parse({
  runId: 'policies-at-creation',
  region: 'us-east-1',
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
});

beforeAll(async () => {
  // Instant delays, but a slower clock than the default: the probe's SDK timeouts count virtual
  // time, and a real round trip through the data plane must fit in them on a loaded machine.
  emu = await startTestEmulator({ profile: profileNamed('instant'), timeScale: 0.05 });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  (globalThis as Record<string, unknown>).__PROBE_BUNDLE__ = buildProbeCodeSync();
  const original = emu.ctx.log;
  (emu.ctx as { log: typeof original }).log = (line) => {
    if (typeof line.operation === 'string' && line.status === 200) operations.push(line.operation);
    original(line);
  };
}, 60_000);
afterAll(() => emu.close());

describe('the policies under test are in force from creation', () => {
  let state: RunState = { input };

  it('CreateEndpoint attaches the allow policy naming the probe role by ARN before the role exists', async () => {
    const { handler: preflight } = await import('../../tasks/preflight.ts');
    const { handler: createNetwork } = await import('../../tasks/create-network.ts');
    const { handler: createEndpoint } = await import('../../tasks/create-endpoint.ts');
    state = { ...state, preflight: await preflight({ input }) };
    state = { ...state, network: await createNetwork(state) };
    const iam = new IAMClient(emu.clientConfig());
    const roleName = `plv-probe-${input.runId}`;
    await expect(iam.send(new GetRoleCommand({ RoleName: roleName }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });

    const endpoint = await createEndpoint(state);
    state = { ...state, provisioned: { endpoint } };
    const described = await new EC2Client(emu.clientConfig()).send(
      new DescribeVpcEndpointsCommand({ VpcEndpointIds: [endpoint.vpcEndpointId] }),
    );
    const policy = JSON.parse(described.VpcEndpoints![0]!.PolicyDocument!);
    expect(JSON.parse(endpoint.endpointPolicy!)).toEqual(policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: '*',
        Resource: state.preflight!.modelResourceArns,
        Condition: {
          ArnEquals: {
            'aws:PrincipalArn': `arn:aws:iam::${state.preflight!.accountId}:role/privatelink-verify/${roleName}`,
          },
        },
      }),
    ]);
  });

  it('CreateProbe creates the role that ARN names, bound to this endpoint by its identity policy', async () => {
    const { handler: createProbe } = await import('../../tasks/create-probe.ts');
    const probe = await createProbe(state);
    const endpointPolicy = JSON.parse(state.provisioned!.endpoint!.endpointPolicy!);
    expect(probe.roleArn).toBe(endpointPolicy.Statement[0].Condition.ArnEquals['aws:PrincipalArn']);
    const inline = await new IAMClient(emu.clientConfig()).send(
      new GetRolePolicyCommand({ RoleName: probe.roleName, PolicyName: probe.identityPolicyName! }),
    );
    const identity = JSON.parse(decodeURIComponent(inline.PolicyDocument!));
    expect(identity.Statement[0].Condition).toEqual({
      StringEquals: { 'aws:SourceVpce': state.provisioned!.endpoint!.vpcEndpointId },
    });
    state = { ...state, provisioned: { ...state.provisioned, probe } };
  });

  it('the probe is allowed as soon as the endpoint carries traffic, with no policy change in between', async () => {
    const { handler: waitEndpoint } = await import('../../tasks/wait-endpoint.ts');
    const { handler: waitProbe } = await import('../../tasks/wait-probe.ts');
    const { pollProbe } = await import('../../tasks/lib/probe-runs.ts');
    const { createLogger } = await import('../../tasks/lib/log.ts');
    const endpoint = await waitEndpoint(state);
    const probe = await waitProbe(state);
    state = { ...state, provisioned: { endpoint, probe } };
    const allowed = await pollProbe({
      input,
      functionName: probe.functionName,
      what: 'the probe allowed through the endpoint',
      done: (r) => r.outcome === 'allowed' && r.resolvedPrivate,
      timeoutMs: 60_000,
      log: createLogger('test'),
    });
    expect(allowed.satisfied, JSON.stringify(allowed.last)).toBe(true);
    expect(operations).not.toContain('ModifyVpcEndpoint');
  }, 90_000);

  it('a role the endpoint policy does not name is refused by it, though its identity policy would allow', async () => {
    const { identityPolicy, LAMBDA_TRUST_POLICY, LAMBDA_VPC_MANAGED_POLICY } = await import(
      '../../tasks/lib/policies.ts'
    );
    const { probeZip } = await import('../../tasks/create-probe.ts');
    const { invokeProbe } = await import('../../tasks/lib/probe-runs.ts');
    const iam = new IAMClient(emu.clientConfig());
    const lambda = new LambdaClient(emu.clientConfig());
    const name = 'plv-bystander-policies-at-creation';
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: '/privatelink-verify/',
        AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY,
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: LAMBDA_VPC_MANAGED_POLICY }));
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: 'same-as-the-probe',
        PolicyDocument: identityPolicy(
          state.provisioned!.endpoint!.vpcEndpointId,
          state.preflight!.modelResourceArns,
        ),
      }),
    );
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs24.x',
        Role: role.Role!.Arn!,
        Handler: 'index.handler',
        Timeout: 60,
        Code: { ZipFile: probeZip() },
        VpcConfig: {
          SubnetIds: state.network!.subnetIds,
          SecurityGroupIds: [state.network!.workloadSecurityGroupId],
        },
      }),
    );
    await functionReady(lambda, name);
    const bystander = await invokeProbe(input.region, name, { region: input.region, modelId: input.modelId });
    expect(bystander.resolvedPrivate).toBe(true);
    // No statement names it: the endpoint policy refuses by not allowing (an implicit refusal, told
    // apart from the run's explicit Deny since the proof obligations).
    expect(bystander.outcome).toBe('not-allowed-by-endpoint-policy');
    expect(bystander.errorMessage).toMatch(/because no VPC endpoint policy allows/);
    // The named role, same VPC, same moment: still allowed.
    const probe = await invokeProbe(input.region, state.provisioned!.probe!.functionName, {
      region: input.region,
      modelId: input.modelId,
    });
    expect(probe.outcome).toBe('allowed');
  }, 60_000);
});
