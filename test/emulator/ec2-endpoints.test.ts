import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcEndpointCommand,
  DeleteNetworkInterfaceCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeVpcEndpointServicesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  ModifyVpcEndpointCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { FULL_ACCESS_POLICY } from '../../emulator/services/ec2.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { twoSubnetNetwork } from '../helpers/network.ts';
import { endpointAvailable, eventually, withClockHeld } from '../helpers/wait.ts';

let emu: Emulator;
let ec2: EC2Client;

beforeAll(async () => {
  emu = await startTestEmulator();
  ec2 = new EC2Client(adminClientConfig(emu));
});
afterAll(() => emu.close());
beforeEach(() => emu.reset());

const RUNTIME = 'com.amazonaws.us-east-1.bedrock-runtime';
const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error('expected the call to fail');
}

/** The product's network: DNS on, two subnets in two AZs, an endpoint SG. */
const network = (opts: { dnsHostnames?: boolean } = {}) =>
  twoSubnetNetwork(ec2, { octet: 20, groupName: 'endpoint', ...opts });

function endpointInput(net: Awaited<ReturnType<typeof network>>, extra: Record<string, unknown> = {}) {
  return {
    VpcId: net.vpcId,
    ServiceName: RUNTIME,
    VpcEndpointType: 'Interface' as const,
    SubnetIds: net.subnets,
    SecurityGroupIds: [net.sg],
    PrivateDnsEnabled: true,
    PolicyDocument: DENY_ALL,
    TagSpecifications: [{ ResourceType: 'vpc-endpoint' as const, Tags: [{ Key: 'run', Value: 'r1' }] }],
    ...extra,
  };
}

describe('EC2 endpoint services', () => {
  it('offers bedrock-runtime and bedrock as Interface services with their AZs and private DNS name', async () => {
    const out = await ec2.send(new DescribeVpcEndpointServicesCommand({ ServiceNames: [RUNTIME] }));
    expect(out.ServiceNames).toEqual([RUNTIME]);
    expect(out.ServiceDetails![0]).toMatchObject({
      ServiceName: RUNTIME,
      ServiceType: [{ ServiceType: 'Interface' }],
      AvailabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
      PrivateDnsName: 'bedrock-runtime.us-east-1.amazonaws.com',
      VpcEndpointPolicySupported: true,
      AcceptanceRequired: false,
    });
    const all = await ec2.send(new DescribeVpcEndpointServicesCommand({}));
    expect(all.ServiceNames).toEqual([RUNTIME, 'com.amazonaws.us-east-1.bedrock']);
  });

  it('answers InvalidServiceName for an unknown service and for Bedrock outside Bedrock regions', async () => {
    expect(
      (
        await errorOf(
          ec2.send(
            new DescribeVpcEndpointServicesCommand({ ServiceNames: ['com.amazonaws.us-east-1.nope'] }),
          ),
        )
      ).name,
    ).toBe('InvalidServiceName');
    const other = new EC2Client(adminClientConfig(emu, 'sa-east-1'));
    expect(
      (
        await errorOf(
          other.send(
            new DescribeVpcEndpointServicesCommand({
              ServiceNames: ['com.amazonaws.sa-east-1.bedrock-runtime'],
            }),
          ),
        )
      ).name,
    ).toBe('InvalidServiceName');
    expect((await other.send(new DescribeVpcEndpointServicesCommand({}))).ServiceNames ?? []).toEqual([]);
  });
});

describe('EC2 interface endpoints', () => {
  it('creates an endpoint with one requester-managed ENI per subnet, tags, policy and private DNS', async () => {
    const net = await network();
    const ep = (await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)))).VpcEndpoint!;
    expect(ep.VpcEndpointId).toMatch(/^vpce-[0-9a-f]{17}$/);
    expect(ep).toMatchObject({
      VpcEndpointType: 'Interface',
      ServiceName: RUNTIME,
      PrivateDnsEnabled: true,
      SubnetIds: net.subnets,
      Groups: [{ GroupId: net.sg, GroupName: 'endpoint' }],
      PolicyDocument: DENY_ALL,
      Tags: [{ Key: 'run', Value: 'r1' }],
    });
    expect(ep.DnsEntries?.map((d) => d.DnsName)).toContain('bedrock-runtime.us-east-1.amazonaws.com');
    const enis = (
      await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ep.NetworkInterfaceIds }))
    ).NetworkInterfaces!;
    expect(enis).toHaveLength(2);
    for (const eni of enis) {
      expect(eni).toMatchObject({
        InterfaceType: 'vpc_endpoint',
        RequesterManaged: true,
        Status: 'in-use',
        Description: `VPC Endpoint Interface ${ep.VpcEndpointId}`,
        Groups: [{ GroupId: net.sg, GroupName: 'endpoint' }],
      });
      expect(eni.PrivateIpAddress).toMatch(eni.SubnetId === net.subnets[0] ? /^10\.20\.1\./ : /^10\.20\.2\./);
    }
    // Every profile shows `pending` first (the instant one only shortens it), then `available`.
    expect(ep.State).toBe('pending');
    await endpointAvailable(ec2, ep.VpcEndpointId!);
    const view = await eventually(
      () => emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0],
      (v) => v?.usable === true,
      'endpoint usable',
    );
    expect(view).toMatchObject({ state: 'available', usable: true, privateDnsEnabled: true });
    expect(view!.effectivePolicy).toEqual(JSON.parse(DENY_ALL));
    expect(view!.privateIps).toEqual(
      net.subnets.map((s) => enis.find((e) => e.SubnetId === s)!.PrivateIpAddress),
    );

    const filtered = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'interface-type', Values: ['vpc_endpoint'] },
          { Name: 'description', Values: [`VPC Endpoint Interface ${ep.VpcEndpointId}`] },
          { Name: 'requester-managed', Values: ['true'] },
        ],
      }),
    );
    expect(filtered.NetworkInterfaces).toHaveLength(2);
  });

  it('attaches the full-access policy when none is given, and defaults to the VPC default group', async () => {
    const net = await network();
    const ep = (
      await ec2.send(
        new CreateVpcEndpointCommand({
          VpcId: net.vpcId,
          ServiceName: RUNTIME,
          VpcEndpointType: 'Interface',
          SubnetIds: [net.subnets[0]!],
        }),
      )
    ).VpcEndpoint!;
    expect(ep.PolicyDocument).toBe(FULL_ACCESS_POLICY);
    expect(ep.PrivateDnsEnabled).toBe(true);
    expect(ep.Groups?.[0]?.GroupName).toBe('default');
  });

  it('requires DNS support and hostnames for private DNS, and one private-DNS endpoint per service per VPC', async () => {
    const net = await network({ dnsHostnames: false });
    const noDns = await errorOf(ec2.send(new CreateVpcEndpointCommand(endpointInput(net))));
    expect(noDns).toEqual({
      name: 'InvalidParameter',
      message: `Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for ${net.vpcId}`,
    });
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: net.vpcId, EnableDnsHostnames: { Value: true } }));
    await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)));
    const clash = await errorOf(
      ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { SubnetIds: [] }))),
    );
    expect(clash.name).toBe('InvalidParameter');
    expect(clash.message).toContain('conflicting DNS domain for bedrock-runtime.us-east-1.amazonaws.com');
    const without = await ec2.send(
      new CreateVpcEndpointCommand(endpointInput(net, { SubnetIds: [], PrivateDnsEnabled: false })),
    );
    expect(without.VpcEndpoint?.PrivateDnsEnabled).toBe(false);
  });

  it('refuses bad input the way AWS does', async () => {
    const net = await network();
    const cases: [Record<string, unknown>, string][] = [
      [{ ServiceName: 'com.amazonaws.us-east-1.nope' }, 'InvalidServiceName'],
      [{ VpcEndpointType: 'Gateway' }, 'InvalidParameter'],
      [{ PolicyDocument: '{"Statement": [' }, 'InvalidPolicyDocument'],
      [
        {
          PolicyDocument: JSON.stringify({
            Statement: [{ Effect: 'Allow', Action: '*', Resource: 'x'.repeat(20_500) }],
          }),
        },
        'InvalidPolicyDocument',
      ],
      [{ SubnetIds: ['subnet-0123456789abcdef0'] }, 'InvalidSubnetID.NotFound'],
      [{ VpcId: 'vpc-0123456789abcdef0' }, 'InvalidVpcID.NotFound'],
      [{ SecurityGroupIds: ['sg-0123456789abcdef0'] }, 'InvalidGroup.NotFound'],
    ];
    for (const [extra, code] of cases) {
      expect(
        (await errorOf(ec2.send(new CreateVpcEndpointCommand(endpointInput(net, extra))))).name,
        code,
      ).toBe(code);
    }
    const sameAz = (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: net.vpcId,
          CidrBlock: '10.20.3.0/24',
          AvailabilityZone: 'us-east-1a',
        }),
      )
    ).Subnet!.SubnetId!;
    const dup = await errorOf(
      ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { SubnetIds: [net.subnets[0], sameAz] }))),
    );
    expect(dup.name).toBe('DuplicateSubnetsInSameZone');
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)).toEqual([]);
  });

  it('is idempotent on ClientToken: same token and parameters give the same endpoint, different parameters fail', async () => {
    const net = await network();
    const first = await ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { ClientToken: 'tok-1' })));
    const second = await ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { ClientToken: 'tok-1' })));
    expect(second.VpcEndpoint!.VpcEndpointId).toBe(first.VpcEndpoint!.VpcEndpointId);
    expect(second.ClientToken).toBe('tok-1');
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)).toHaveLength(1);
    const mismatch = await errorOf(
      ec2.send(
        new CreateVpcEndpointCommand(
          endpointInput(net, { ClientToken: 'tok-1', PolicyDocument: FULL_ACCESS_POLICY }),
        ),
      ),
    );
    expect(mismatch.name).toBe('IdempotentParameterMismatch');
  });

  it('modifies policy, groups and private DNS; ResetPolicy restores the full-access policy', async () => {
    const net = await network();
    const id = (await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)))).VpcEndpoint!.VpcEndpointId!;
    const other = (
      await ec2.send(
        new CreateSecurityGroupCommand({ VpcId: net.vpcId, GroupName: 'other', Description: 'o' }),
      )
    ).GroupId!;
    const allow = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'bedrock:InvokeModel', Resource: '*' }],
    });
    let [ep] = await withClockHeld(emu, async () => {
      const mod = await ec2.send(
        new ModifyVpcEndpointCommand({
          VpcEndpointId: id,
          PolicyDocument: allow,
          AddSecurityGroupIds: [other],
          RemoveSecurityGroupIds: [net.sg],
          PrivateDnsEnabled: false,
        }),
      );
      expect(mod.Return).toBe(true);
      // Traffic keeps the old policy for a while after the change (propagation, on every profile).
      expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy).toEqual(JSON.parse(DENY_ALL));
      return (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] }))).VpcEndpoints!;
    });
    expect(ep).toMatchObject({
      PolicyDocument: allow,
      Groups: [{ GroupId: other, GroupName: 'other' }],
      PrivateDnsEnabled: false,
    });
    await eventually(
      () => emu.ec2.interfaceEndpointsInVpc(net.vpcId)[0]!.effectivePolicy,
      (p) => JSON.stringify(p) === JSON.stringify(JSON.parse(allow)),
      'the new policy in force',
    );
    const enis = (
      await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ep!.NetworkInterfaceIds }))
    ).NetworkInterfaces!;
    expect(enis.every((e) => e.Groups?.map((g) => g.GroupId).join() === other)).toBe(true);

    await ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: id, ResetPolicy: true }));
    [ep] = (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] }))).VpcEndpoints!;
    expect(ep!.PolicyDocument).toBe(FULL_ACCESS_POLICY);
    expect(
      (
        await errorOf(
          ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: id, PolicyDocument: 'not json' })),
        )
      ).name,
    ).toBe('InvalidPolicyDocument');
  });

  it('filters and pages DescribeVpcEndpoints', async () => {
    const net = await network();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ep = await ec2.send(
        new CreateVpcEndpointCommand(
          endpointInput(net, {
            SubnetIds: [],
            PrivateDnsEnabled: false,
            TagSpecifications: [{ ResourceType: 'vpc-endpoint', Tags: [{ Key: 'n', Value: String(i) }] }],
          }),
        ),
      );
      ids.push(ep.VpcEndpoint!.VpcEndpointId!);
    }
    const page1 = await ec2.send(
      new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }], MaxResults: 2 }),
    );
    expect(page1.VpcEndpoints).toHaveLength(2);
    const page2 = await ec2.send(
      new DescribeVpcEndpointsCommand({
        Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }],
        MaxResults: 2,
        NextToken: page1.NextToken,
      }),
    );
    expect([...page1.VpcEndpoints!, ...page2.VpcEndpoints!].map((e) => e.VpcEndpointId)).toEqual(ids);
    const byTag = await ec2.send(
      new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'tag:n', Values: ['1'] }] }),
    );
    expect(byTag.VpcEndpoints!.map((e) => e.VpcEndpointId)).toEqual([ids[1]]);
    // New endpoints are `pending` first on every profile: wait before filtering on `available`.
    for (const id of ids) await endpointAvailable(ec2, id);
    const byState = await ec2.send(
      new DescribeVpcEndpointsCommand({
        Filters: [
          { Name: 'service-name', Values: [RUNTIME] },
          { Name: 'vpc-endpoint-state', Values: ['available'] },
          { Name: 'vpc-endpoint-type', Values: ['Interface'] },
        ],
      }),
    );
    expect(byState.VpcEndpoints).toHaveLength(3);
    expect(
      (
        await errorOf(
          ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ['vpce-0123456789abcdef0'] })),
        )
      ).name,
    ).toBe('InvalidVpcEndpointId.NotFound');
  });

  it('keeps endpoint ENIs out of reach of DeleteNetworkInterface and blocks SG, subnet and VPC deletion until the endpoint is gone', async () => {
    const net = await network();
    const ep = (await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)))).VpcEndpoint!;
    const eniId = ep.NetworkInterfaceIds![0]!;
    expect(
      (await errorOf(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eniId })))).name,
    ).toBe('InvalidParameterValue');
    expect((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: net.sg })))).name).toBe(
      'DependencyViolation',
    );
    const subnetErr = await errorOf(ec2.send(new DeleteSubnetCommand({ SubnetId: net.subnets[0] })));
    expect(subnetErr).toEqual({
      name: 'DependencyViolation',
      message: `The subnet '${net.subnets[0]}' has dependencies and cannot be deleted.`,
    });

    const del = await ec2.send(
      new DeleteVpcEndpointsCommand({ VpcEndpointIds: [ep.VpcEndpointId!, 'vpce-0123456789abcdef0'] }),
    );
    expect(del.Unsuccessful).toEqual([
      {
        ResourceId: 'vpce-0123456789abcdef0',
        Error: {
          Code: 'InvalidVpcEndpoint.NotFound',
          Message: "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist",
        },
      },
    ]);
    // `deleting` first on every profile, then gone, and the ENIs go with the endpoint.
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId).map((e) => e.state)).toEqual(['deleting']);
    await eventually(
      () => ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] })),
      (r) => (r.VpcEndpoints ?? []).length === 0,
      'endpoint gone',
    );
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)).toEqual([]);
    expect(
      (await errorOf(ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] })))).name,
    ).toBe('InvalidNetworkInterfaceID.NotFound');
    const again = await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [ep.VpcEndpointId!] }));
    expect(again.Unsuccessful?.[0]?.Error?.Code).toBe('InvalidVpcEndpoint.NotFound');

    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: net.sg }));
    for (const s of net.subnets) await ec2.send(new DeleteSubnetCommand({ SubnetId: s }));
    await ec2.send(new DeleteVpcCommand({ VpcId: net.vpcId }));
    expect(emu.leftovers('run')).toEqual([]);
  });

  it('moves ENIs with AddSubnetIds and RemoveSubnetIds, one subnet per AZ', async () => {
    const net = await network();
    const ep = (
      await ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { SubnetIds: [net.subnets[0]] })))
    ).VpcEndpoint!;
    await ec2.send(
      new ModifyVpcEndpointCommand({
        VpcEndpointId: ep.VpcEndpointId,
        AddSubnetIds: [net.subnets[1]!],
        RemoveSubnetIds: [net.subnets[0]!],
      }),
    );
    const [view] = emu.ec2.interfaceEndpointsInVpc(net.vpcId);
    expect(view!.subnetIds).toEqual([net.subnets[1]]);
    const enis = (
      await ec2.send(
        new DescribeNetworkInterfacesCommand({
          Filters: [{ Name: 'interface-type', Values: ['vpc_endpoint'] }],
        }),
      )
    ).NetworkInterfaces!;
    expect(enis.map((e) => e.SubnetId)).toEqual([net.subnets[1]]);
    expect(view!.privateIps).toEqual([enis[0]!.PrivateIpAddress]);
  });

  it('enforces the interface endpoints per VPC quota', async () => {
    const net = await network();
    emu.ctx.quotas.interfaceEndpointsPerVpc = 1;
    try {
      await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)));
      const err = await errorOf(
        ec2.send(
          new CreateVpcEndpointCommand(endpointInput(net, { PrivateDnsEnabled: false, SubnetIds: [] })),
        ),
      );
      expect(err.name).toBe('VpcEndpointLimitExceeded');
    } finally {
      emu.ctx.quotas.interfaceEndpointsPerVpc = 50;
    }
  });

  it('answers DryRunOperation without creating anything', async () => {
    const net = await network();
    expect(
      (await errorOf(ec2.send(new CreateVpcEndpointCommand(endpointInput(net, { DryRun: true }))))).name,
    ).toBe('DryRunOperation');
    expect(emu.ec2.interfaceEndpointsInVpc(net.vpcId)).toEqual([]);
  });

  it('answers the request with the EC2 NotFound code when a not-found-after-create fault fires', async () => {
    const net = await network();
    const id = (await ec2.send(new CreateVpcEndpointCommand(endpointInput(net)))).VpcEndpoint!.VpcEndpointId!;
    emu.setFaults([
      { kind: 'not-found-after-create', service: 'ec2', operation: 'DescribeVpcEndpoints', times: 1 },
    ]);
    expect((await errorOf(ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] })))).name).toBe(
      'InvalidVpcEndpointId.NotFound',
    );
    const [ep] = (await ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [id] }))).VpcEndpoints!;
    expect(ep!.VpcEndpointId).toBe(id);
  });
});
