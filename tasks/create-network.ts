/**
 * Network: a VPC with DNS support and hostnames on (private DNS needs both), two private subnets
 * in two AZs with no internet route, and two security groups: the workload's, which may only
 * reach 443 on the endpoint's, which admits 443 only from the workload's. Idempotent: a retried
 * task finds what it created by tag instead of creating a second VPC.
 */
import { CreateVpcCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { ExecutionInput, NetworkOutput, PreflightOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { invalidInput, TaskError } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { buildNetworkInVpc } from './lib/network-build.ts';
import { aws, errorCode } from './lib/outcomes.ts';
import { leasedNetworkAsBuilt, leaseNetwork, type PoolNetwork, poolNetworks } from './lib/pool.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { type RunTags, runIdFilter, runTags, tagSpecifications } from './lib/tags.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';

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
  if (input.pool) return leaseFromPool(ec2Api, input, preflight, tags, queue);
  const vpcId = await findOrCreateVpc(ec2Api, input, tags, queue);
  // Only queueing (here or in an earlier invocation the ASL retried) puts a minute between the two.
  const queuedSeconds = queue.met || sincePreflightSeconds() > 60 ? Math.round(sincePreflightSeconds()) : 0;
  const built = await buildNetworkInVpc(ec2Api, {
    vpcId,
    vpcCidr: input.vpcCidr,
    availabilityZones: preflight.availabilityZones,
    namePrefix: `plv-${input.runId}`,
    tagsFor: (type, name) => tagSpecifications(type, tags, name),
    endpointAllows443: input.options.endpointAllows443,
  });
  if (!input.options.endpointAllows443)
    log.warn('endpoint security group left without 443 ingress on purpose (options.endpointAllows443=false)');

  const out: NetworkOutput = {
    vpcId,
    ...built,
    ...(queuedSeconds > 0 ? { quotaWaitSeconds: queuedSeconds } : {}),
  };
  log.info('network ready', { ...out });
  return out;
}

/**
 * Lease a network of the input's pool instead of building one: the lease is taken atomically
 * (tasks/lib/pool.ts), then the network is read back, because a pooled network was built by
 * someone else, earlier, and may have been changed since: what it is now goes into the verdict.
 * No free network yet: wait for one as a run at the VPC quota waits for a slot.
 */
async function leaseFromPool(
  ec2Api: EC2Client,
  input: ExecutionInput,
  preflight: PreflightOutput,
  tags: RunTags,
  queue: QueueState,
): Promise<NetworkOutput> {
  const pool = input.pool!;
  const networks: PoolNetwork[] = await poolNetworks(ec2Api, pool);
  if (networks.length === 0)
    throw invalidInput(
      `pool "${pool}" has no networks in ${input.region}: create it first (privatelink-verify pool create --pool ${pool} --region ${input.region})`,
    );
  const r = await waitUntil({
    what: `a free network of pool ${pool}`,
    poll: () => leaseNetwork(ec2Api, pool, tags, networks),
    done: (lease) => lease !== undefined,
    timeoutMs: queue.budgetMs,
    minDelayMs: 5_000,
    maxDelayMs: 30_000,
    onAttempt: (lease, n) => {
      if (!lease) {
        queue.met = true;
        queue.log.info('waiting for a free pooled network', { pool, attempt: n, networks: networks.length });
      }
    },
  });
  if (!r.value) {
    throw new TaskError(
      QUOTA_WAIT_ERROR,
      `waiting for a free network of pool ${pool} (${networks.length} network(s), all leased) for ${Math.round(queue.sincePreflightSeconds())} s so far`,
    );
  }
  const lease = r.value;
  const queuedSeconds =
    queue.met || queue.sincePreflightSeconds() > 60 ? Math.round(queue.sincePreflightSeconds()) : 0;
  const observations = [await leasedNetworkAsBuilt(ec2Api, lease.network, preflight.availabilityZones)];
  const out: NetworkOutput = {
    vpcId: lease.network.vpcId,
    subnetIds: lease.network.subnetIds,
    workloadSecurityGroupId: lease.network.workloadSecurityGroupId,
    endpointSecurityGroupId: lease.network.endpointSecurityGroupId,
    lease: { pool, network: lease.network.name, leaseGroupId: lease.leaseGroupId },
    observations,
    ...(queuedSeconds > 0 ? { quotaWaitSeconds: queuedSeconds } : {}),
  };
  queue.log.info('leased network', {
    network: lease.network.name,
    vpcId: out.vpcId,
    observed: observations[0]?.result,
  });
  return out;
}
