import {
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DeleteNetworkInterfaceCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ModifyVpcEndpointCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES } from '../../emulator/core/latency.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { twoSubnetNetwork } from '../helpers/network.ts';
import { eventually, withClockHeld } from '../helpers/wait.ts';

/**
 * Time-driven behaviour, on the realistic profile with timeScale 0.001: a virtual minute takes
 * 60 real milliseconds. Tests assert on state transitions, never on wall time.
 */
let emu: Emulator;
let ec2: EC2Client;

beforeAll(async () => {
  emu = await startTestEmulator({ profile: PROFILES.realistic, timeScale: 0.001 });
  ec2 = new EC2Client(adminClientConfig(emu));
});
afterAll(() => emu.close());
afterEach(() => {
  emu.reset();
  emu.ctx.world.endpointPolicyUpdatesApply = true;
});

const RUNTIME = 'com.amazonaws.us-east-1.bedrock-runtime';
const policy = (effect: 'Allow' | 'Deny') => ({
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

const network = (client = ec2) => twoSubnetNetwork(client, { octet: 30, groupName: 'fn' });

async function createEndpoint(net: Awaited<ReturnType<typeof network>>, client = ec2) {
  const out = await client.send(
    new CreateVpcEndpointCommand({
      VpcId: net.vpcId,
      ServiceName: RUNTIME,
      VpcEndpointType: 'Interface',
      SubnetIds: net.subnets,
      SecurityGroupIds: [net.sg],
      PrivateDnsEnabled: true,
      PolicyDocument: JSON.stringify(policy('Deny')),
    }),
  );
  return out.VpcEndpoint!;
}

// EC2 sends lowercase states (`available`), though the SDK's enum spells them capitalised.
const endpointState = async (vpcId: string): Promise<string | undefined> =>
  (await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })))
    .VpcEndpoints?.[0]?.State;

describe('EC2 latency profile', () => {
  it('moves an endpoint from pending to available, and to usable some time after that', async () => {
    // Its own emulator at 10x the file's cap: the 20-30 simulated s between `available` and
    // usable are 200-300 ms of real time, more than a loaded machine takes between the poll that
    // sees `available` and the look at usable (at 0.001 they were 20-30 ms).
    const slow = await startTestEmulator({ profile: PROFILES.realistic, timeScale: 0.01 });
    try {
      const client = new EC2Client(adminClientConfig(slow));
      const net = await network(client);
      const ep = await createEndpoint(net, client);
      const view = () => slow.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!;
      expect(ep.State).toBe('pending');
      expect(view()).toMatchObject({ state: 'pending', usable: false });
      await eventually(
        async () =>
          // By filter, as endpointState does: by id, a just-created endpoint may be NotFound for a
          // moment on this profile (EC2's eventual consistency).
          (
            await client.send(
              new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }),
            )
          ).VpcEndpoints?.[0]?.State as string | undefined,
        (s) => s === 'available',
        'endpoint available',
      );
      // Settling starts at `available`: at least 20 virtual seconds pass before traffic flows.
      expect(view().usable).toBe(false);
      await eventually(() => view().usable, Boolean, 'endpoint usable', 20_000);
    } finally {
      await slow.close();
    }
  });

  it('shows a new policy in DescribeVpcEndpoints at once but enforces it only after propagation', async () => {
    const net = await network();
    const ep = await createEndpoint(net);
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy).toEqual(policy('Deny'));
    await withClockHeld(emu, async () => {
      await ec2.send(
        new ModifyVpcEndpointCommand({
          VpcEndpointId: ep.VpcEndpointId,
          PolicyDocument: JSON.stringify(policy('Allow')),
        }),
      );
      const described = (
        await ec2.send(
          new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }),
        )
      ).VpcEndpoints![0]!;
      expect(JSON.parse(described.PolicyDocument!)).toEqual(policy('Allow'));
      expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy).toEqual(policy('Deny'));
    });
    await eventually(
      () => emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy,
      (p) => JSON.stringify(p) === JSON.stringify(policy('Allow')),
      'policy propagation',
    );
  });

  it('never enforces a policy update in a world where endpoint policy updates do not apply', async () => {
    emu.ctx.world.endpointPolicyUpdatesApply = false;
    const net = await network();
    const ep = await createEndpoint(net);
    await ec2.send(
      new ModifyVpcEndpointCommand({
        VpcEndpointId: ep.VpcEndpointId,
        PolicyDocument: JSON.stringify(policy('Allow')),
      }),
    );
    await ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: ep.VpcEndpointId, ResetPolicy: true }));
    // Longer than the longest realistic propagation (120 virtual seconds).
    await new Promise((r) => setTimeout(r, emu.ctx.clock.toReal(300_000)));
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy).toEqual(policy('Deny'));
    const described = (
      await ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }))
    ).VpcEndpoints![0]!;
    expect(JSON.parse(described.PolicyDocument!).Statement[0].Effect).toBe('Allow');
    expect(JSON.parse(described.PolicyDocument!).Statement[0].Action).toBe('*');
  });

  it('keeps a deleted endpoint in `deleting` for a while, and blocks the subnet until it is gone', async () => {
    const net = await network();
    const ep = await createEndpoint(net);
    // Calls made right after one another, as a client on AWS makes them: simulated time stands
    // still meanwhile, however long the loaded machine takes between them.
    await withClockHeld(emu, async () => {
      await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [ep.VpcEndpointId!] }));
      expect(await endpointState(net.vpcId)).toBe('deleting');
      expect((await errorOf(ec2.send(new DeleteSubnetCommand({ SubnetId: net.subnets[0] })))).name).toBe(
        'DependencyViolation',
      );
    });
    await eventually(
      () => endpointState(net.vpcId),
      (s) => s === undefined,
      'endpoint gone',
    );
    await ec2.send(new DeleteSubnetCommand({ SubnetId: net.subnets[0] }));
  });
});

describe('EC2 Lambda hyperplane ENIs', () => {
  it('stay in use after release, then detach, block deletes until then, and are deleted by Lambda later', async () => {
    const net = await network();
    const ids = emu.ec2.attachLambdaEnis({
      functionName: 'probe',
      region: 'us-east-1',
      subnetIds: net.subnets,
      securityGroupIds: [net.sg],
    });
    expect(ids).toHaveLength(2);
    const describeEnis = async () =>
      (
        await ec2.send(
          new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }),
        )
      ).NetworkInterfaces!;
    const enis = await describeEnis();
    for (const eni of enis) {
      expect(eni).toMatchObject({
        Status: 'in-use',
        InterfaceType: 'lambda',
        RequesterManaged: true,
        Groups: [{ GroupId: net.sg, GroupName: 'fn' }],
      });
      expect(eni.Description).toMatch(/^AWS Lambda VPC ENI-probe-[0-9a-f-]{36}$/);
    }
    const inUse = await errorOf(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: ids[0] })));
    expect(inUse.name).toBe('InvalidNetworkInterface.InUse');
    expect((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: net.sg })))).name).toBe(
      'DependencyViolation',
    );

    emu.ec2.releaseLambdaEnis('probe');
    expect((await describeEnis()).every((e) => e.Status === 'in-use')).toBe(true);
    expect((await errorOf(ec2.send(new DeleteSubnetCommand({ SubnetId: net.subnets[0] })))).name).toBe(
      'DependencyViolation',
    );

    const detached = await eventually(
      describeEnis,
      (list) => list.every((e) => e.Status === 'available'),
      'ENIs detached',
    );
    expect(detached.every((e) => e.InterfaceType === 'interface' && e.Attachment === undefined)).toBe(true);
    const byStatus = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'status', Values: ['available'] },
          { Name: 'description', Values: ['AWS Lambda VPC ENI*'] },
        ],
      }),
    );
    expect(byStatus.NetworkInterfaces).toHaveLength(2);

    // The cleanup task deletes one itself; Lambda removes the other on its own schedule.
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: ids[0] }));
    await eventually(describeEnis, (list) => list.length === 0, 'Lambda deleting its detached ENI');
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: net.sg }));
    for (const s of net.subnets) await ec2.send(new DeleteSubnetCommand({ SubnetId: s }));
    await ec2.send(new DeleteVpcCommand({ VpcId: net.vpcId }));
  });
});

describe('EC2 eventual consistency', () => {
  it('answers InvalidVpcID.NotFound for a VPC described by id moments after CreateVpc, then finds it', async () => {
    const lagging = await startTestEmulator({
      profile: {
        ...PROFILES.instant,
        ranges: { ...PROFILES.instant.ranges, eventualConsistency: [300, 300] },
      },
      timeScale: 0.001,
    });
    try {
      const client = new EC2Client(adminClientConfig(lagging));
      const vpcId = (await client.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }))).Vpc!.VpcId!;
      expect((await errorOf(client.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })))).name).toBe(
        'InvalidVpcID.NotFound',
      );
      const found = await eventually(
        () => client.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })).catch(() => undefined),
        (v) => v !== undefined,
        'VPC visible',
      );
      expect(found!.Vpcs![0]!.VpcId).toBe(vpcId);
    } finally {
      await lagging.close();
    }
  });
});

describe('EC2 faults', () => {
  it('answers DependencyViolation when the fault fires, then deletes on retry', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }))).Vpc!.VpcId!;
    emu.setFaults([{ kind: 'dependency-violation', service: 'ec2', operation: 'DeleteVpc', times: 1 }]);
    expect((await errorOf(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })))).name).toBe(
      'DependencyViolation',
    );
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    emu.setFaults([]);
  });

  it('answers InvalidSubnetID.NotFound right after create when the not-found fault fires', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.41.0.0/16' }))).Vpc!.VpcId!;
    const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.41.0.0/24' })))
      .Subnet!.SubnetId!;
    emu.setFaults([{ kind: 'not-found-after-create', service: 'ec2', times: 2 }]);
    expect((await errorOf(ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] })))).name).toBe(
      'InvalidSubnetID.NotFound',
    );
    expect((await errorOf(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })))).name).toBe(
      'InvalidVpcID.NotFound',
    );
    const found = await eventually(
      () => ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] })).catch(() => undefined),
      (v) => v !== undefined,
      'subnet visible',
    );
    expect(found!.Subnets![0]!.SubnetId).toBe(subnetId);
  });

  it('throttles with RequestLimitExceeded (HTTP 503) when told to', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'ec2', operation: 'DescribeVpcs', times: 1 }]);
    const err = await errorOf(ec2.send(new DescribeVpcsCommand({})));
    expect(err).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
    expect((await ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length).toBeGreaterThan(0);
  });
});
