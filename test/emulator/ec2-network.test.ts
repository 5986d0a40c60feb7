import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteInternetGatewayCommand,
  DeleteNatGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteTagsCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  DisassociateRouteTableCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  paginateDescribeSubnets,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let ec2: EC2Client;

beforeAll(async () => {
  emu = await startTestEmulator();
  ec2 = new EC2Client(adminClientConfig(emu));
});
afterAll(() => emu.close());
beforeEach(() => emu.reset());

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

async function newVpc(cidr = '10.0.0.0/16', tags: Record<string, string> = {}) {
  const out = await ec2.send(
    new CreateVpcCommand({
      CidrBlock: cidr,
      TagSpecifications: Object.keys(tags).length
        ? [{ ResourceType: 'vpc', Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }]
        : undefined,
    }),
  );
  return out.Vpc!.VpcId!;
}

async function newSubnet(vpcId: string, cidr: string, az = 'us-east-1a') {
  const out = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: az }),
  );
  return out.Subnet!.SubnetId!;
}

describe('EC2 VPCs', () => {
  it('creates a VPC with tags from TagSpecifications, DNS support on and DNS hostnames off', async () => {
    const vpcId = await newVpc('10.1.0.0/16', { run: 'r1' });
    const [vpc] = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs!;
    expect(vpc).toMatchObject({
      VpcId: vpcId,
      CidrBlock: '10.1.0.0/16',
      State: 'available',
      IsDefault: false,
    });
    expect(vpc!.Tags).toEqual([{ Key: 'run', Value: 'r1' }]);
    const support = await ec2.send(
      new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsSupport' }),
    );
    const hostnames = await ec2.send(
      new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' }),
    );
    expect(support.EnableDnsSupport?.Value).toBe(true);
    expect(hostnames.EnableDnsHostnames?.Value).toBe(false);
  });

  it('modifies one VPC attribute per call, as AWS does', async () => {
    const vpcId = await newVpc();
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
    const hostnames = await ec2.send(
      new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' }),
    );
    expect(hostnames.EnableDnsHostnames?.Value).toBe(true);
    const err = await errorOf(
      ec2.send(
        new ModifyVpcAttributeCommand({
          VpcId: vpcId,
          EnableDnsHostnames: { Value: false },
          EnableDnsSupport: { Value: false },
        }),
      ),
    );
    expect(err.name).toBe('InvalidParameterCombination');
  });

  it('creates a default VPC per region lazily, with default subnets, built in and not a leftover', async () => {
    const vpcs = (
      await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))
    ).Vpcs!;
    expect(vpcs).toHaveLength(1);
    const defaultVpc = vpcs[0]!.VpcId!;
    const subnets = (
      await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [defaultVpc] }] }))
    ).Subnets!;
    expect(subnets.map((s) => s.AvailabilityZone).sort()).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(subnets.every((s) => s.DefaultForAz)).toBe(true);
    const inv = emu.ec2.inventory().filter((i) => i.region === 'us-east-1');
    expect(inv.map((i) => i.type).sort()).toEqual(
      ['internet-gateway', 'route-table', 'security-group', 'subnet', 'subnet', 'subnet', 'vpc'].sort(),
    );
    expect(inv.every((i) => i.builtIn)).toBe(true);
    expect(emu.ec2.subnetHasInternetPath(subnets[0]!.SubnetId!)).toBe(true);
  });

  it('scopes resources by region', async () => {
    const vpcId = await newVpc();
    const west = new EC2Client(adminClientConfig(emu, 'us-west-2'));
    const err = await errorOf(west.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })));
    expect(err.name).toBe('InvalidVpcID.NotFound');
    const westVpcs = (await west.send(new DescribeVpcsCommand({}))).Vpcs!;
    expect(westVpcs.map((v) => v.VpcId)).not.toContain(vpcId);
  });

  it('refuses CIDRs outside /16–/28 and malformed or unknown ids', async () => {
    expect((await errorOf(newVpc('10.0.0.0/8'))).name).toBe('InvalidVpc.Range');
    expect((await errorOf(newVpc('10.0.0.0/29'))).name).toBe('InvalidVpc.Range');
    expect((await errorOf(newVpc('nonsense'))).name).toBe('InvalidParameterValue');
    expect((await errorOf(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-xyz'] })))).name).toBe(
      'InvalidVpcID.Malformed',
    );
    const notFound = await errorOf(ec2.send(new DeleteVpcCommand({ VpcId: 'vpc-0123456789abcdef0' })));
    expect(notFound).toMatchObject({ name: 'InvalidVpcID.NotFound', status: 400 });
  });

  it('counts the default VPC toward the VPC quota (VpcLimitExceeded)', async () => {
    // Default quota 5: the default VPC plus four of ours.
    for (let i = 0; i < 4; i++) await newVpc(`10.${i}.0.0/16`);
    const err = await errorOf(newVpc('10.9.0.0/16'));
    expect(err.name).toBe('VpcLimitExceeded');
  });

  it('refuses to delete a VPC that still has subnets or groups, and deletes its main table and default group with it', async () => {
    const vpcId = await newVpc();
    const subnetId = await newSubnet(vpcId, '10.0.1.0/24');
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'w', Description: 'd' }),
    );
    expect(await errorOf(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })))).toMatchObject({
      name: 'DependencyViolation',
      message: `The vpc '${vpcId}' has dependencies and cannot be deleted.`,
    });
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
    expect((await errorOf(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })))).name).toBe(
      'DependencyViolation',
    );
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    expect(emu.ec2.inventory().filter((i) => i.id === vpcId)).toEqual([]);
    const tables = (
      await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))
    ).RouteTables!;
    expect(tables).toEqual([]);
  });
});

describe('EC2 subnets', () => {
  it('validates the subnet range, overlap and AZ', async () => {
    const vpcId = await newVpc();
    await newSubnet(vpcId, '10.0.1.0/24');
    expect((await errorOf(newSubnet(vpcId, '10.1.0.0/24'))).name).toBe('InvalidSubnet.Range');
    expect((await errorOf(newSubnet(vpcId, '10.0.1.128/25'))).name).toBe('InvalidSubnet.Conflict');
    const az = await errorOf(newSubnet(vpcId, '10.0.2.0/24', 'us-east-1z'));
    expect(az.name).toBe('InvalidParameterValue');
    expect(az.message).toContain('us-east-1a, us-east-1b, us-east-1c');
  });

  it('answers DescribeAvailabilityZones with three zones and their zone ids', async () => {
    const zones = (await ec2.send(new DescribeAvailabilityZonesCommand({}))).AvailabilityZones!;
    expect(zones.map((z) => [z.ZoneName, z.ZoneId, z.State])).toEqual([
      ['us-east-1a', 'use1-az1', 'available'],
      ['us-east-1b', 'use1-az2', 'available'],
      ['us-east-1c', 'use1-az3', 'available'],
    ]);
    const eu = new EC2Client(adminClientConfig(emu, 'eu-central-1'));
    const euZones = (await eu.send(new DescribeAvailabilityZonesCommand({ ZoneNames: ['eu-central-1b'] })))
      .AvailabilityZones!;
    expect(euZones.map((z) => z.ZoneId)).toEqual(['euc1-az2']);
  });

  it('pages DescribeSubnets with MaxResults and NextToken', async () => {
    const vpcId = await newVpc();
    for (let i = 0; i < 7; i++) await newSubnet(vpcId, `10.0.${i}.0/24`, `us-east-1${'abc'[i % 3]}`);
    const first = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], MaxResults: 5 }),
    );
    expect(first.Subnets).toHaveLength(5);
    expect(first.NextToken).toBeTruthy();
    const second = await ec2.send(
      new DescribeSubnetsCommand({
        Filters: [{ Name: 'vpc-id', Values: [vpcId] }],
        MaxResults: 5,
        NextToken: first.NextToken,
      }),
    );
    expect(second.Subnets).toHaveLength(2);
    expect(second.NextToken).toBeUndefined();
    const all: string[] = [];
    for await (const page of paginateDescribeSubnets(
      { client: ec2, pageSize: 5 },
      { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] },
    )) {
      all.push(...page.Subnets!.map((s) => s.SubnetId!));
    }
    expect(new Set(all).size).toBe(7);
    expect((await errorOf(ec2.send(new DescribeSubnetsCommand({ MaxResults: 2 })))).name).toBe(
      'InvalidParameterValue',
    );
  });
});

describe('EC2 tags and filters', () => {
  it('filters by tag:Key, tag-key and wildcards; CreateTags and DeleteTags change what matches', async () => {
    const a = await newVpc('10.0.0.0/16', { run: 'run-1', owner: 'ci' });
    const b = await newVpc('10.1.0.0/16', { run: 'run-2' });
    const byTag = async (Name: string, Values: string[]) =>
      (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name, Values }] })))
        .Vpcs!.map((v) => v.VpcId)
        .sort();
    expect(await byTag('tag:run', ['run-1'])).toEqual([a]);
    expect(await byTag('tag:run', ['run-*'])).toEqual([a, b].sort());
    expect(await byTag('tag-key', ['owner'])).toEqual([a]);
    await ec2.send(new CreateTagsCommand({ Resources: [b], Tags: [{ Key: 'owner', Value: 'ci' }] }));
    expect(await byTag('tag:owner', ['ci'])).toEqual([a, b].sort());
    await ec2.send(
      new DeleteTagsCommand({ Resources: [a], Tags: [{ Key: 'owner', Value: 'someone-else' }] }),
    );
    expect(await byTag('tag:owner', ['ci'])).toEqual([a, b].sort());
    await ec2.send(new DeleteTagsCommand({ Resources: [a], Tags: [{ Key: 'owner' }] }));
    expect(await byTag('tag:owner', ['ci'])).toEqual([b]);
    expect(
      emu
        .leftovers('run')
        .map((i) => i.id)
        .sort(),
    ).toEqual([a, b].sort());
  });

  it('refuses unknown filters, reserved tag keys, tags on unknown resources and a wrong TagSpecification type', async () => {
    expect(
      (await errorOf(ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] }))))
        .name,
    ).toBe('InvalidParameterValue');
    const vpcId = await newVpc();
    expect(
      (
        await errorOf(
          ec2.send(new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'aws:x', Value: 'y' }] })),
        )
      ).name,
    ).toBe('InvalidParameterValue');
    expect(
      (
        await errorOf(
          ec2.send(
            new CreateTagsCommand({
              Resources: ['subnet-0123456789abcdef0'],
              Tags: [{ Key: 'a', Value: 'b' }],
            }),
          ),
        )
      ).name,
    ).toBe('InvalidSubnetID.NotFound');
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await ec2.send(new CreateTagsCommand({ Resources: [vpcId], Tags: fifty }));
    const limit = await errorOf(
      ec2.send(new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'one-more', Value: 'v' }] })),
    );
    expect(limit.name).toBe('TagLimitExceeded');
    const wrong = await errorOf(
      ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: '10.0.9.0/24',
          TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'a', Value: 'b' }] }],
        }),
      ),
    );
    expect(wrong.name).toBe('InvalidParameterValue');
  });
});

describe('EC2 security groups', () => {
  it('creates groups with an allow-all egress rule, authorizes and revokes ingress by CIDR and by group', async () => {
    const vpcId = await newVpc();
    const workload = await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: 'workload',
        Description: 'probe',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'run', Value: 'r' }] }],
      }),
    );
    const endpoint = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'endpoint', Description: 'e' }),
    );
    const auth = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: endpoint.GroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            UserIdGroupPairs: [{ GroupId: workload.GroupId }],
          },
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/16' }] },
        ],
      }),
    );
    expect(auth.Return).toBe(true);
    expect(auth.SecurityGroupRules?.map((r) => r.SecurityGroupRuleId?.startsWith('sgr-'))).toEqual([
      true,
      true,
    ]);
    const [g] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [endpoint.GroupId!] })))
      .SecurityGroups!;
    expect(g!.IpPermissions).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        UserIdGroupPairs: [expect.objectContaining({ GroupId: workload.GroupId })],
        IpRanges: [expect.objectContaining({ CidrIp: '10.0.0.0/16' })],
      }),
    ]);
    expect(g!.IpPermissionsEgress).toEqual([
      expect.objectContaining({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }),
    ]);
    expect(emu.ec2.securityGroup(endpoint.GroupId!)?.ingress).toHaveLength(2);

    const dup = await errorOf(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: endpoint.GroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/16' }] },
          ],
        }),
      ),
    );
    expect(dup.name).toBe('InvalidPermission.Duplicate');

    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: endpoint.GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/16' }] },
        ],
      }),
    );
    const missing = await errorOf(
      ec2.send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: endpoint.GroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/16' }] },
          ],
        }),
      ),
    );
    expect(missing.name).toBe('InvalidPermission.NotFound');

    await ec2.send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: workload.GroupId,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: workload.GroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            UserIdGroupPairs: [{ GroupId: endpoint.GroupId }],
          },
        ],
      }),
    );
    expect(emu.ec2.securityGroup(workload.GroupId!)?.egress).toEqual([
      { ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIpv4: [], groupIds: [endpoint.GroupId] },
    ]);

    const byName = (
      await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['workload'] }] }),
      )
    ).SecurityGroups!;
    expect(byName.map((x) => x.GroupId)).toEqual([workload.GroupId]);
  });

  it('refuses duplicate names, deleting the default group, and deleting a group another group refers to', async () => {
    const vpcId = await newVpc();
    const a = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'a', Description: 'a' }),
    );
    const b = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'b', Description: 'b' }),
    );
    expect(
      (
        await errorOf(
          ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'a', Description: 'again' })),
        )
      ).name,
    ).toBe('InvalidGroup.Duplicate');
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: b.GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: a.GroupId }] },
        ],
      }),
    );
    const dep = await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: a.GroupId })));
    expect(dep).toMatchObject({
      name: 'DependencyViolation',
      message: `resource ${a.GroupId} has a dependent object`,
    });
    const [def] = (
      await ec2.send(
        new DescribeSecurityGroupsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: ['default'] },
          ],
        }),
      )
    ).SecurityGroups!;
    expect((await errorOf(ec2.send(new DeleteSecurityGroupCommand({ GroupId: def!.GroupId })))).name).toBe(
      'CannotDelete',
    );
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: b.GroupId }));
    const deleted = await ec2.send(new DeleteSecurityGroupCommand({ GroupId: a.GroupId }));
    expect(deleted.Return).toBe(true);
    expect(
      (await errorOf(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [a.GroupId!] })))).name,
    ).toBe('InvalidGroup.NotFound');
  });
});

describe('EC2 internet path', () => {
  it('has no internet path in a new VPC, gains one through an IGW route, and loses it when the IGW is detached', async () => {
    const vpcId = await newVpc();
    const privateSubnet = await newSubnet(vpcId, '10.0.1.0/24');
    expect(emu.ec2.subnetHasInternetPath(privateSubnet)).toBe(false);

    const igw = (
      await ec2.send(
        new CreateInternetGatewayCommand({
          TagSpecifications: [{ ResourceType: 'internet-gateway', Tags: [{ Key: 'run', Value: 'r' }] }],
        }),
      )
    ).InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const [gw] = (await ec2.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [igw] })))
      .InternetGateways!;
    expect(gw!.Attachments).toEqual([{ VpcId: vpcId, State: 'available' }]);
    expect(emu.ec2.subnetHasInternetPath(privateSubnet)).toBe(false);

    const publicSubnet = await newSubnet(vpcId, '10.0.2.0/24', 'us-east-1b');
    const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    await ec2.send(
      new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }),
    );
    const assoc = await ec2.send(
      new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: publicSubnet }),
    );
    expect(emu.ec2.subnetHasInternetPath(publicSubnet)).toBe(true);
    expect(emu.ec2.subnetHasInternetPath(privateSubnet)).toBe(false);

    // A NAT gateway in the public subnet gives the private subnet a path through its own table.
    const nat = await ec2.send(new CreateNatGatewayCommand({ SubnetId: publicSubnet, ClientToken: 'nat-1' }));
    const natId = nat.NatGateway!.NatGatewayId!;
    const again = await ec2.send(
      new CreateNatGatewayCommand({ SubnetId: publicSubnet, ClientToken: 'nat-1' }),
    );
    expect(again.NatGateway!.NatGatewayId).toBe(natId);
    const [main] = (
      await ec2.send(
        new DescribeRouteTablesCommand({
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'association.main', Values: ['true'] },
          ],
        }),
      )
    ).RouteTables!;
    await ec2.send(
      new CreateRouteCommand({
        RouteTableId: main!.RouteTableId,
        DestinationCidrBlock: '0.0.0.0/0',
        NatGatewayId: natId,
      }),
    );
    expect(emu.ec2.subnetHasInternetPath(privateSubnet)).toBe(true);
    expect(
      (await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natId] }))).NatGateways![0]!.State,
    ).toBe('available');

    expect(
      (await errorOf(ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }))))
        .name,
    ).toBe('DependencyViolation');
    await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    expect(emu.ec2.subnetHasInternetPath(privateSubnet)).toBe(false);
    expect((await errorOf(ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw })))).name).toBe(
      'DependencyViolation',
    );
    await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    expect(emu.ec2.subnetHasInternetPath(publicSubnet)).toBe(false);
    const routes = (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rtb] }))).RouteTables![0]!
      .Routes!;
    expect(routes.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')?.State).toBe('blackhole');

    expect((await errorOf(ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb })))).name).toBe(
      'DependencyViolation',
    );
    await ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc.AssociationId }));
    await ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb }));
    await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
    expect(emu.leftovers('run')).toEqual([]);
  });

  it('fails a public NAT gateway in a VPC without an internet gateway', async () => {
    const vpcId = await newVpc();
    const subnet = await newSubnet(vpcId, '10.0.1.0/24');
    const nat = await ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet }));
    expect(nat.NatGateway).toMatchObject({ State: 'failed', FailureCode: 'Gateway.NotAttached' });
  });
});
