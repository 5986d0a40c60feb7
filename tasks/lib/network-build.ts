/**
 * The network inside a VPC, exactly as CreateNetwork builds it for a run and `pool create` builds
 * it for a pooled network: DNS support and hostnames on (private DNS needs both), two private
 * subnets in two AZs with no internet route, and two security groups: the workload's, which may
 * only reach 443 on the endpoint's, which admits 443 only from the workload's. Idempotent: what
 * exists (by name) is found instead of created twice.
 */
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type EC2Client,
  ModifyVpcAttributeCommand,
  type ResourceType,
  RevokeSecurityGroupEgressCommand,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import { twoSubnets } from './cidr.ts';
import { aws, errorCode, isNotYetVisible } from './outcomes.ts';
import { waitUntil } from './waiter.ts';

/** EC2 may not know a resource it just created for a moment: retry NotFound briefly. */
export async function eventually<T>(what: string, call: () => Promise<T>): Promise<T> {
  const r = await waitUntil({
    what,
    poll: () => aws(what, call),
    done: () => true,
    timeoutMs: 60_000,
    minDelayMs: 500,
    maxDelayMs: 5_000,
    retryOn: isNotYetVisible,
  });
  if (!r.satisfied) throw r.lastError;
  return r.value as T;
}

async function ignoreDuplicate(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    if (errorCode(err) !== 'InvalidPermission.Duplicate' && errorCode(err) !== 'InvalidPermission.NotFound')
      throw err;
  }
}

/** Tags for a resource created with this name (TagSpecifications: tagged from creation). */
export type TagsFor = (type: ResourceType, name: string) => TagSpecification[];

export interface NetworkSpec {
  vpcId: string;
  vpcCidr: string;
  availabilityZones: readonly string[];
  /** Prefix of the subnet and group names: `plv-<run id>` or the pooled network's name. */
  namePrefix: string;
  tagsFor: TagsFor;
  /** Leave 443 out of the endpoint group (a deliberate misconfiguration a run may ask for). */
  endpointAllows443: boolean;
}

export interface BuiltNetwork {
  subnetIds: [string, string];
  workloadSecurityGroupId: string;
  endpointSecurityGroupId: string;
}

/** The workload group's only egress, and the endpoint group's only ingress: 443 between the two. */
export const HTTPS_BETWEEN = (groupId: string) => ({
  IpProtocol: 'tcp',
  FromPort: 443,
  ToPort: 443,
  UserIdGroupPairs: [{ GroupId: groupId }],
});

const ALL_EGRESS = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];

async function findOrCreateSubnet(
  ec2Api: EC2Client,
  spec: NetworkSpec,
  az: string,
  cidr: string,
  name: string,
) {
  const found = await aws('DescribeSubnets', () =>
    ec2Api.send(
      new DescribeSubnetsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [spec.vpcId] },
          { Name: 'cidr-block', Values: [cidr] },
        ],
      }),
    ),
  );
  const existing = found.Subnets?.[0]?.SubnetId;
  if (existing) return existing;
  const created = await eventually('CreateSubnet', () =>
    ec2Api.send(
      new CreateSubnetCommand({
        VpcId: spec.vpcId,
        AvailabilityZone: az,
        CidrBlock: cidr,
        TagSpecifications: spec.tagsFor('subnet', name),
      }),
    ),
  );
  return created.Subnet!.SubnetId!;
}

async function findOrCreateSecurityGroup(
  ec2Api: EC2Client,
  spec: NetworkSpec,
  groupName: string,
  description: string,
) {
  const found = await aws('DescribeSecurityGroups', () =>
    ec2Api.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [spec.vpcId] },
          { Name: 'group-name', Values: [groupName] },
        ],
      }),
    ),
  );
  const existing = found.SecurityGroups?.[0]?.GroupId;
  if (existing) return existing;
  const created = await eventually('CreateSecurityGroup', () =>
    ec2Api.send(
      new CreateSecurityGroupCommand({
        VpcId: spec.vpcId,
        GroupName: groupName,
        Description: description,
        TagSpecifications: spec.tagsFor('security-group', groupName),
      }),
    ),
  );
  return created.GroupId!;
}

/** Everything inside the VPC: attributes, subnets, groups and their rules. */
export async function buildNetworkInVpc(ec2Api: EC2Client, spec: NetworkSpec): Promise<BuiltNetwork> {
  const { vpcId } = spec;
  // Private DNS for the endpoint needs both attributes; AWS takes one attribute per call.
  await eventually('ModifyVpcAttribute', () =>
    ec2Api.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } })),
  );
  await eventually('ModifyVpcAttribute', () =>
    ec2Api.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } })),
  );

  const [cidrA, cidrB] = twoSubnets(spec.vpcCidr);
  const [azA, azB] = spec.availabilityZones;
  const subnetA = await findOrCreateSubnet(ec2Api, spec, azA!, cidrA, `${spec.namePrefix}-a`);
  const subnetB = await findOrCreateSubnet(ec2Api, spec, azB!, cidrB, `${spec.namePrefix}-b`);

  const workloadSg = await findOrCreateSecurityGroup(
    ec2Api,
    spec,
    `${spec.namePrefix}-workload`,
    'privatelink-verify probe: may reach the endpoint on 443 only',
  );
  const endpointSg = await findOrCreateSecurityGroup(
    ec2Api,
    spec,
    `${spec.namePrefix}-endpoint`,
    'privatelink-verify endpoint: admits 443 from the probe only',
  );

  // Replace the default allow-all egress with 443 to the endpoint's group only.
  await ignoreDuplicate(() =>
    eventually('RevokeSecurityGroupEgress', () =>
      ec2Api.send(new RevokeSecurityGroupEgressCommand({ GroupId: workloadSg, IpPermissions: ALL_EGRESS })),
    ),
  );
  await ignoreDuplicate(() =>
    eventually('AuthorizeSecurityGroupEgress', () =>
      ec2Api.send(
        new AuthorizeSecurityGroupEgressCommand({
          GroupId: workloadSg,
          IpPermissions: [HTTPS_BETWEEN(endpointSg)],
        }),
      ),
    ),
  );
  await ignoreDuplicate(() =>
    eventually('RevokeSecurityGroupEgress', () =>
      ec2Api.send(new RevokeSecurityGroupEgressCommand({ GroupId: endpointSg, IpPermissions: ALL_EGRESS })),
    ),
  );
  if (spec.endpointAllows443) {
    await ignoreDuplicate(() =>
      eventually('AuthorizeSecurityGroupIngress', () =>
        ec2Api.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: endpointSg,
            IpPermissions: [HTTPS_BETWEEN(workloadSg)],
          }),
        ),
      ),
    );
  }
  return {
    subnetIds: [subnetA, subnetB],
    workloadSecurityGroupId: workloadSg,
    endpointSecurityGroupId: endpointSg,
  };
}
