/**
 * Network: a VPC with DNS support and hostnames on (private DNS needs both), two private subnets
 * in two AZs with no internet route, and two security groups: the workload's, which may only
 * reach 443 on the endpoint's, which admits 443 only from the workload's. Idempotent: a retried
 * task finds what it created by tag instead of creating a second VPC.
 */
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import type { ExecutionInput, NetworkOutput } from '../statemachine/contract.ts';
import { twoSubnets } from './lib/cidr.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { aws, errorCode, isNotYetVisible } from './lib/outcomes.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { type RunTags, runIdFilter, runTags, tagSpecifications } from './lib/tags.ts';
import { waitUntil } from './lib/waiter.ts';

/** EC2 may not know a resource it just created for a moment: retry NotFound briefly. */
async function eventually<T>(what: string, call: () => Promise<T>): Promise<T> {
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

async function findOrCreateVpc(ec2Api: EC2Client, input: ExecutionInput, tags: RunTags): Promise<string> {
  const found = await aws('DescribeVpcs', () =>
    ec2Api.send(new DescribeVpcsCommand({ Filters: [runIdFilter(input.runId)] })),
  );
  const existing = found.Vpcs?.find((v) => v.State !== 'deleting');
  if (existing?.VpcId) return existing.VpcId;
  const created = await aws('CreateVpc', () =>
    ec2Api.send(
      new CreateVpcCommand({
        CidrBlock: input.vpcCidr,
        TagSpecifications: tagSpecifications('vpc', tags, `plv-${input.runId}`),
      }),
    ),
  );
  return created.Vpc!.VpcId!;
}

async function findOrCreateSubnet(
  ec2Api: EC2Client,
  vpcId: string,
  az: string,
  cidr: string,
  tags: RunTags,
  name: string,
) {
  const found = await aws('DescribeSubnets', () =>
    ec2Api.send(
      new DescribeSubnetsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
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
        VpcId: vpcId,
        AvailabilityZone: az,
        CidrBlock: cidr,
        TagSpecifications: tagSpecifications('subnet', tags, name),
      }),
    ),
  );
  return created.Subnet!.SubnetId!;
}

async function findOrCreateSecurityGroup(
  ec2Api: EC2Client,
  vpcId: string,
  groupName: string,
  description: string,
  tags: RunTags,
) {
  const found = await aws('DescribeSecurityGroups', () =>
    ec2Api.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
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
        VpcId: vpcId,
        GroupName: groupName,
        Description: description,
        TagSpecifications: tagSpecifications('security-group', tags, groupName),
      }),
    ),
  );
  return created.GroupId!;
}

const ALL_EGRESS = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }];

export async function handler(event: unknown): Promise<NetworkOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const log = createLogger('CreateNetwork', { runId: input.runId });
  const ec2Api = client(EC2Client, input.region);
  const tags = runTags(input, preflight.expiresAt);

  const vpcId = await findOrCreateVpc(ec2Api, input, tags);
  // Private DNS for the endpoint needs both attributes; AWS takes one attribute per call.
  await eventually('ModifyVpcAttribute', () =>
    ec2Api.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } })),
  );
  await eventually('ModifyVpcAttribute', () =>
    ec2Api.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } })),
  );

  const [cidrA, cidrB] = twoSubnets(input.vpcCidr);
  const [azA, azB] = preflight.availabilityZones;
  const subnetA = await findOrCreateSubnet(ec2Api, vpcId, azA!, cidrA, tags, `plv-${input.runId}-a`);
  const subnetB = await findOrCreateSubnet(ec2Api, vpcId, azB!, cidrB, tags, `plv-${input.runId}-b`);

  const workloadSg = await findOrCreateSecurityGroup(
    ec2Api,
    vpcId,
    `plv-${input.runId}-workload`,
    'privatelink-verify probe: may reach the endpoint on 443 only',
    tags,
  );
  const endpointSg = await findOrCreateSecurityGroup(
    ec2Api,
    vpcId,
    `plv-${input.runId}-endpoint`,
    'privatelink-verify endpoint: admits 443 from the probe only',
    tags,
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
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: endpointSg }] },
          ],
        }),
      ),
    ),
  );
  await ignoreDuplicate(() =>
    eventually('RevokeSecurityGroupEgress', () =>
      ec2Api.send(new RevokeSecurityGroupEgressCommand({ GroupId: endpointSg, IpPermissions: ALL_EGRESS })),
    ),
  );
  if (input.options.endpointAllows443) {
    await ignoreDuplicate(() =>
      eventually('AuthorizeSecurityGroupIngress', () =>
        ec2Api.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: endpointSg,
            IpPermissions: [
              { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: workloadSg }] },
            ],
          }),
        ),
      ),
    );
  } else {
    log.warn('endpoint security group left without 443 ingress on purpose (options.endpointAllows443=false)');
  }

  const out: NetworkOutput = {
    vpcId,
    subnetIds: [subnetA, subnetB],
    workloadSecurityGroupId: workloadSg,
    endpointSecurityGroupId: endpointSg,
  };
  log.info('network ready', { ...out });
  return out;
}
