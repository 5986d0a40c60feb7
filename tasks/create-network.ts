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
import { TaskError } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { aws, errorCode, isNotYetVisible } from './lib/outcomes.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { type RunTags, runIdFilter, runTags, tagSpecifications } from './lib/tags.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';

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

async function findOrCreateVpc(
  ec2Api: EC2Client,
  input: ExecutionInput,
  tags: RunTags,
  queue: QueueState,
): Promise<string> {
  const found = await aws('DescribeVpcs', () =>
    ec2Api.send(new DescribeVpcsCommand({ Filters: [runIdFilter(input.runId)] })),
  );
  const existing = found.Vpcs?.find((v) => v.State !== 'deleting');
  if (existing?.VpcId) return existing.VpcId;
  const create = () =>
    aws('CreateVpc', () =>
      ec2Api.send(
        new CreateVpcCommand({
          CidrBlock: input.vpcCidr,
          TagSpecifications: tagSpecifications('vpc', tags, `plv-${input.runId}`),
        }),
      ),
    );
  // At the VPC quota, wait for a slot (other runs finish and free theirs) instead of failing.
  const r = await waitUntil({
    what: 'a VPC slot',
    poll: create,
    done: () => true,
    timeoutMs: queue.budgetMs,
    minDelayMs: 5_000,
    maxDelayMs: 30_000,
    retryOn: isQuotaLimit,
    onAttempt: (_v, n, err) => {
      if (err) {
        queue.met = true;
        queue.log.info('waiting for a VPC slot', { attempt: n, error: errorCode(err) });
      }
    },
  });
  if (!r.satisfied) {
    // Past this invocation's budget: the state machine's Retry (backoff, full jitter) calls again.
    throw new TaskError(
      QUOTA_WAIT_ERROR,
      `waiting for a VPC slot (${errorCode(r.lastError)}) for ${Math.round(queue.sincePreflightSeconds())} s so far`,
    );
  }
  return r.value!.Vpc!.VpcId!;
}

/** Quota refusals that clear when other runs finish: a run waits for a slot rather than failing. */
export const QUOTA_LIMIT_CODES = new Set([
  'VpcLimitExceeded',
  'VpcEndpointLimitExceeded',
  'NetworkInterfaceLimitExceeded',
  'SecurityGroupLimitExceeded',
  'SubnetLimitExceeded',
]);
const isQuotaLimit = (err: unknown) => QUOTA_LIMIT_CODES.has(errorCode(err));
/** The error the ASL retries CreateNetwork on while the region is at its VPC quota. */
export const QUOTA_WAIT_ERROR = 'PrivateLinkVerify.WaitingForQuota';
/** Longest one invocation waits for a slot before handing over to the state machine's Retry. */
const QUOTA_WAIT_PER_INVOCATION_SECONDS = 120;

interface QueueState {
  budgetMs: number;
  met: boolean;
  log: ReturnType<typeof createLogger>;
  sincePreflightSeconds: () => number;
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

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<NetworkOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const log = createLogger('CreateNetwork', { runId: input.runId });
  const ec2Api = client(EC2Client, input.region);
  const tags = runTags(input, preflight.expiresAt);

  const sincePreflightSeconds = () => (Date.now() - Date.parse(preflight.startedAt)) / 1000;
  const queue: QueueState = {
    budgetMs: budgetMs(QUOTA_WAIT_PER_INVOCATION_SECONDS, context),
    met: false,
    log,
    sincePreflightSeconds,
  };
  const vpcId = await findOrCreateVpc(ec2Api, input, tags, queue);
  // Only queueing (here or in an earlier invocation the ASL retried) puts a minute between the two.
  const queuedSeconds = queue.met || sincePreflightSeconds() > 60 ? Math.round(sincePreflightSeconds()) : 0;
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
    ...(queuedSeconds > 0 ? { quotaWaitSeconds: queuedSeconds } : {}),
  };
  log.info('network ready', { ...out });
  return out;
}
