import {
  CreateVpcEndpointCommand,
  DeleteNetworkInterfaceCommand,
  DeleteVpcEndpointsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  ModifyVpcEndpointCommand,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { LAMBDA_TRUST_POLICY, zippedFixture } from '../fixtures/lambda/bundle.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { type TestNetwork, twoSubnetNetwork } from '../helpers/network.ts';
import { eventually, functionReady, withClockHeld } from '../helpers/wait.ts';

/**
 * The instant profile keeps AWS's state machines and only shortens the delays (issue 9 item 4):
 * a client that does not wait for `available`, `Active`, `Successful`, a policy change or ENI
 * detachment fails here as it would on AWS. Each test makes the call a hasty client would make
 * right after the transition starts, and shows it refused or answered with the earlier state.
 */

let emu: Emulator;
let ec2: EC2Client;
let lambda: LambdaClient;
let roleArn: string;
let zip: Uint8Array;
let net: TestNetwork;

const RUNTIME = 'com.amazonaws.us-east-1.bedrock-runtime';
const policy = (effect: 'Allow' | 'Deny') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: effect, Principal: '*', Action: 'bedrock:InvokeModel', Resource: '*' }],
  });

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  emu = await startTestEmulator();
  expect(emu.ctx.profile.name).toBe('instant');
  ec2 = new EC2Client(adminClientConfig(emu));
  lambda = new LambdaClient(adminClientConfig(emu));
  const iam = new IAMClient(adminClientConfig(emu));
  const role = await iam.send(
    new CreateRoleCommand({ RoleName: 'instant-fn', AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'instant-fn',
      PolicyName: 'eni',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: [
              'ec2:CreateNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DeleteNetworkInterface',
            ],
            Resource: '*',
          },
        ],
      }),
    }),
  );
  roleArn = role.Role!.Arn!;
  zip = await zippedFixture('./behaviours.ts');
  net = await twoSubnetNetwork(ec2, { octet: 40, groupName: 'instant' });
});
afterAll(() => emu?.close());

const endpointState = async (id: string) =>
  String(
    (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] }))).VpcEndpoints?.[0]?.State,
  );

describe('instant profile: every lifecycle state AWS shows is observable', () => {
  it('an interface endpoint is pending before available, and deleting before gone', async () => {
    const created = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: net.vpcId,
        ServiceName: RUNTIME,
        VpcEndpointType: 'Interface',
        SubnetIds: net.subnets,
        SecurityGroupIds: [net.sg],
        PrivateDnsEnabled: true,
        PolicyDocument: policy('Deny'),
      }),
    );
    const id = created.VpcEndpoint!.VpcEndpointId!;
    expect(String(created.VpcEndpoint!.State)).toBe('pending');
    // A client that describes once and goes on sees `pending`, not `available`.
    expect(await endpointState(id)).toBe('pending');
    await eventually(
      () => endpointState(id),
      (s) => s === 'available',
      'available',
    );

    await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [id] }));
    expect(await endpointState(id)).toBe('deleting');
    await eventually(
      () => ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] })),
      (r) => (r.VpcEndpoints ?? []).length === 0,
      'endpoint gone',
    );
  });

  it('a policy change reaches traffic only after propagation: the old policy is in force at first', async () => {
    const created = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: net.vpcId,
        ServiceName: RUNTIME,
        VpcEndpointType: 'Interface',
        SubnetIds: net.subnets,
        SecurityGroupIds: [net.sg],
        PrivateDnsEnabled: false,
        PolicyDocument: policy('Allow'),
      }),
    );
    const id = created.VpcEndpoint!.VpcEndpointId!;
    await eventually(
      () => endpointState(id),
      (s) => s === 'available',
      'available',
    );
    const view = () => emu.ec2.interfaceEndpointsInVpc(net.vpcId).find((e) => e.vpcEndpointId === id)!;
    await withClockHeld(emu, async () => {
      await ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: id, PolicyDocument: policy('Deny') }));
      // Traffic still meets the old policy right after the change; DescribeVpcEndpoints shows the new one.
      expect(view().effectivePolicy).toEqual(JSON.parse(policy('Allow')));
      expect(
        (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] }))).VpcEndpoints?.[0]
          ?.PolicyDocument,
      ).toBe(policy('Deny'));
    });
    await eventually(view, (v) => JSON.stringify(v.effectivePolicy) === policy('Deny'), 'the Deny in force');
    await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [id] }));
  });

  it('a VPC function is Pending after CreateFunction: an immediate Invoke is refused, as on AWS', async () => {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'hasty',
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Role: roleArn,
        Code: { ZipFile: zip },
        VpcConfig: { SubnetIds: net.subnets, SecurityGroupIds: [net.sg] },
      }),
    );
    const err = await errorOf(
      lambda.send(
        new InvokeCommand({ FunctionName: 'hasty', Payload: new TextEncoder().encode('{"action":"echo"}') }),
      ),
    );
    // Lambda API reference, Invoke: ResourceConflictException (409) while the function is Pending.
    expect(err).toEqual({
      name: 'ResourceConflictException',
      message:
        'The operation cannot be performed at this time. The function is currently in the following state: Pending',
      status: 409,
    });
    await functionReady(lambda, 'hasty');
    const ok = await lambda.send(
      new InvokeCommand({ FunctionName: 'hasty', Payload: new TextEncoder().encode('{"action":"echo"}') }),
    );
    expect(ok.StatusCode).toBe(200);
  });

  it('a network update is InProgress before Successful, and a second update meanwhile is refused', async () => {
    await functionReady(lambda, 'hasty');
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'hasty',
        VpcConfig: { SubnetIds: [net.subnets[0]], SecurityGroupIds: [net.sg] },
      }),
    );
    expect(updated.LastUpdateStatus).toBe('InProgress');
    const second = await errorOf(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'hasty', Description: 'v3' })),
    );
    expect(second).toMatchObject({ name: 'ResourceConflictException', status: 409 });
    expect(second.message).toContain('An update is in progress for resource');
    await functionReady(lambda, 'hasty');
  });

  it('after DeleteFunction its ENIs stay in-use (DeleteNetworkInterface refused), then detach', async () => {
    await functionReady(lambda, 'hasty');
    const enis = async () =>
      (
        await ec2.send(
          new DescribeNetworkInterfacesCommand({
            Filters: [{ Name: 'description', Values: ['AWS Lambda VPC ENI-hasty-*'] }],
          }),
        )
      ).NetworkInterfaces ?? [];
    const before = await enis();
    expect(before.length).toBeGreaterThan(0);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'hasty' }));
    // A cleanup that deletes the ENIs without waiting for them to detach is refused.
    const refused = await errorOf(
      ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: before.at(-1)!.NetworkInterfaceId! })),
    );
    expect(refused).toMatchObject({ name: 'InvalidNetworkInterface.InUse' });
    const detached = await eventually(
      enis,
      (all) => all.every((n) => n.Status === 'available'),
      'ENIs detached',
    );
    for (const n of detached)
      await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: n.NetworkInterfaceId! }));
    expect(await enis()).toEqual([]);
  });
});
