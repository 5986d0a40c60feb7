/**
 * The network lease pool: a lease is taken by one run only (EC2's per-VPC group-name uniqueness),
 * a retried task finds its own lease, a run releases it only once its endpoint is gone and never
 * deletes the pool's network, a leased network that was changed is reported as changed, and the
 * sweeper frees the leases of dead or expired runs but never one a live execution holds.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateVpcEndpointCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePool } from '../../cli/pool.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import {
  ExecutionInputSchema,
  LEASE_GROUP_NAME,
  POOL_TAG_KEYS,
  type PreflightOutput,
} from '../../statemachine/contract.ts';
import { leasedNetworkAsBuilt, leaseNetwork, type PoolNetwork, poolStatus } from '../../tasks/lib/pool.ts';
import { runTags, tagList } from '../../tasks/lib/tags.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let ec2: EC2Client;
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const future = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  // Pools of several networks per test: more VPCs than the default quota of 5.
  emu = await startTestEmulator({ quotas: { vpcsPerRegion: 40 } });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  ec2 = new EC2Client(emu.clientConfig());
});
afterAll(() => emu.close());

const tagsFor = (runId: string, expiresAt = future()) => ({ runId, owner: 'test', expiresAt });
const pooled = (pool: string, size: number) =>
  ensurePool(emu.clientConfig(), { pool, region: 'us-east-1', size, vpcCidr: '10.50.0.0/16' });

async function leaseRun(runId: string, pool: string, expiresAt = future()) {
  const { handler: createNetwork } = await import('../../tasks/create-network.ts');
  const input = ExecutionInputSchema.parse({ runId, region: 'us-east-1', modelId: MODEL, pool });
  const preflight: PreflightOutput = {
    serviceName: 'com.amazonaws.us-east-1.bedrock-runtime',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    modelResourceArns: [`arn:aws:bedrock:us-east-1::foundation-model/${MODEL}`],
    accountId: '123456789012',
    startedAt: new Date().toISOString(),
    expiresAt,
  };
  // No time to wait for a free network: a full pool answers at once (the ASL's Retry waits).
  const network = await createNetwork({ input, preflight }, { getRemainingTimeInMillis: () => 15_000 });
  return { input, preflight, network };
}

async function poolIntact(network: PoolNetwork) {
  const vpc = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [network.vpcId] }))).Vpcs ?? [];
  const subnets =
    (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: network.subnetIds }))).Subnets ?? [];
  const groups =
    (
      await ec2.send(
        new DescribeSecurityGroupsCommand({
          GroupIds: [network.workloadSecurityGroupId, network.endpointSecurityGroupId],
        }),
      )
    ).SecurityGroups ?? [];
  return vpc.length === 1 && subnets.length === 2 && groups.length === 2;
}

const leaseOf = async (pool: string) => (await poolStatus(ec2, pool)).map((n) => n.leasedBy ?? null);

describe('network lease pool', () => {
  it('pool create builds what CreateNetwork builds, tagged as the pool: no run id, no expiry', async () => {
    const [n] = await pooled('shape', 1);
    expect(n!.name).toBe('pool-shape-1');
    const vpc = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [n!.vpcId] }))).Vpcs![0]!;
    const keys = (vpc.Tags ?? []).map((t) => t.Key);
    expect(keys).toContain(POOL_TAG_KEYS.pool);
    expect(keys).not.toContain('privatelink-verify:run-id');
    expect(keys).not.toContain('privatelink-verify:expires-at');
    const check = await leasedNetworkAsBuilt(ec2, n!, ['us-east-1a', 'us-east-1b']);
    expect(check.result).toBe('passed');
    // Running create again adds nothing.
    expect((await pooled('shape', 1)).map((x) => x.vpcId)).toEqual([n!.vpcId]);
  });

  it('two runs racing for a one-network pool: exactly one holds the lease, the other is refused by EC2', async () => {
    const networks = await pooled('race', 1);
    const results = await Promise.all(
      ['race-a', 'race-b'].map((r) => leaseNetwork(ec2, 'race', tagsFor(r), networks)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? 'race-a' : 'race-b';
    expect(await leaseOf('race')).toEqual([winner]);
    // The loser asking again still gets nothing; the winner asking again gets its own lease back.
    const loser = winner === 'race-a' ? 'race-b' : 'race-a';
    expect(await leaseNetwork(ec2, 'race', tagsFor(loser), networks)).toBeUndefined();
    const again = await leaseNetwork(ec2, 'race', tagsFor(winner), networks);
    expect(again?.leaseGroupId).toBe(results.find(Boolean)!.leaseGroupId);
  });

  it('six runs on a three-network pool: three leases, each network held by one run', async () => {
    const networks = await pooled('many', 3);
    const runs = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const results = await Promise.all(runs.map((r) => leaseNetwork(ec2, 'many', tagsFor(r), networks)));
    const held = results.filter(Boolean).map((l) => l!.network.vpcId);
    expect(held).toHaveLength(3);
    expect(new Set(held).size).toBe(3);
    const groups =
      (
        await ec2.send(
          new DescribeSecurityGroupsCommand({
            Filters: [{ Name: 'group-name', Values: [LEASE_GROUP_NAME] }],
          }),
        )
      ).SecurityGroups ?? [];
    for (const n of networks) expect(groups.filter((g) => g.VpcId === n.vpcId)).toHaveLength(1);
  });

  it('CreateNetwork with a pool leases instead of building, and waits (retryable) when every network is leased', async () => {
    await pooled('busy', 1);
    const vpcsBefore = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length;
    const { network } = await leaseRun('busy-a', 'busy');
    expect(network.lease?.network).toBe('pool-busy-1');
    expect(network.observations?.[0]).toMatchObject({ obligation: 'no-other-way-out', result: 'passed' });
    expect((await ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length).toBe(vpcsBefore);
    await expect(leaseRun('busy-b', 'busy')).rejects.toMatchObject({
      name: 'PrivateLinkVerify.WaitingForQuota',
    });
  });

  it('CreateNetwork refuses a pool that does not exist as bad input, creating nothing', async () => {
    await expect(leaseRun('nopool-a', 'no-such-pool')).rejects.toMatchObject({
      name: 'PrivateLinkVerify.InvalidInput',
      message: expect.stringMatching(/pool "no-such-pool" has no networks/),
    });
  });

  it('a leased network whose endpoint group admits 443 from anywhere is reported as not as built', async () => {
    const [n] = await pooled('opened', 1);
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: n!.endpointSecurityGroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      }),
    );
    const check = await leasedNetworkAsBuilt(ec2, n!, ['us-east-1a', 'us-east-1b']);
    expect(check.result).toBe('failed');
    expect(check.observed).toMatch(
      /pool-opened-1-endpoint .* has ingress the pool did not write: tcp:443-443 0\.0\.0\.0\/0/,
    );
  });

  it('a leased network whose workload group lost its one rule is reported as lacking it', async () => {
    const [n] = await pooled('stripped', 1);
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: n!.endpointSecurityGroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            UserIdGroupPairs: [{ GroupId: n!.workloadSecurityGroupId }],
          },
        ],
      }),
    );
    const check = await leasedNetworkAsBuilt(ec2, n!, ['us-east-1a', 'us-east-1b']);
    expect(check.result).toBe('failed');
    expect(check.observed).toMatch(/lacks its ingress: tcp:443-443/);
  });

  it('Cleanup releases the lease only after the run endpoint is gone, and leaves the pooled network whole', async () => {
    const [n] = await pooled('release', 1);
    const { input, network } = await leaseRun('release-a', 'release');
    const endpoint = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: network.vpcId,
        ServiceName: 'com.amazonaws.us-east-1.bedrock-runtime',
        VpcEndpointType: 'Interface',
        SubnetIds: network.subnetIds,
        SecurityGroupIds: [network.endpointSecurityGroupId],
        PrivateDnsEnabled: true,
        TagSpecifications: [{ ResourceType: 'vpc-endpoint', Tags: tagList(runTags(input, future())) }],
      }),
    );
    const vpcEndpointId = endpoint.VpcEndpoint!.VpcEndpointId!;
    const { teardownPass, knownIdsOf } = await import('../../tasks/lib/teardown.ts');
    const { createLogger } = await import('../../tasks/lib/log.ts');
    const known = knownIdsOf({
      network,
      provisioned: { endpoint: { vpcEndpointId, state: 'available', privateDnsEnabled: true, dnsNames: [] } },
    });
    // Even told of the pooled VPC by id, teardown must not touch it.
    const first = await teardownPass('release-a', 'us-east-1', createLogger('test'), {
      ...known,
      vpc: [n!.vpcId],
    });
    expect(first.remaining.find((r) => r.id === network.lease!.leaseGroupId)?.reason).toMatch(
      /released once the run's endpoint .* is gone/,
    );
    expect(await leaseOf('release')).toEqual(['release-a']);
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    const out = await cleanup({
      input,
      network,
      provisioned: { endpoint: { vpcEndpointId, state: 'available', privateDnsEnabled: true, dnsNames: [] } },
    });
    expect(out.status).toBe('complete');
    expect(out.deleted).toEqual(
      expect.arrayContaining([{ type: 'security-group', id: network.lease!.leaseGroupId }]),
    );
    expect(await leaseOf('release')).toEqual([null]);
    expect(await poolIntact(n!)).toBe(true);
    // Free again: the next run leases the same network.
    expect((await leaseRun('release-b', 'release')).network.vpcId).toBe(n!.vpcId);
  });

  it('the safety net for an aborted execution releases its lease, knowing only the run id from the event', async () => {
    const [n] = await pooled('aborted', 1);
    const { input } = await leaseRun('aborted-a', 'aborted');
    expect(await leaseOf('aborted')).toEqual(['aborted-a']);
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    const out = await cleanup({
      'detail-type': 'Step Functions Execution Status Change',
      detail: { status: 'ABORTED', stopDate: Date.now() - 7_200_000, input: JSON.stringify(input) },
    });
    expect(out.status).toBe('complete');
    expect(await leaseOf('aborted')).toEqual([null]);
    expect(await poolIntact(n!)).toBe(true);
  });

  it('the sweeper frees an expired lease, and the lease of an ended execution before its expiry, never the pool', async () => {
    const [n1, n2] = await pooled('sweep', 2);
    await leaseRun('sweep-expired', 'sweep', new Date(Date.now() - 1000).toISOString());
    await leaseRun('sweep-ended', 'sweep');
    expect((await leaseOf('sweep')).sort()).toEqual(['sweep-ended', 'sweep-expired']);
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    // Without a way to ask Step Functions, only the expired lease may go.
    const blind = await sweep({ region: 'us-east-1' }, { isLive: async () => undefined });
    expect(blind.expiredRuns).toContain('sweep-expired');
    expect(blind.deadLeaseRuns).not.toContain('sweep-ended');
    expect((await leaseOf('sweep')).filter(Boolean)).toEqual(['sweep-ended']);
    // Step Functions says the execution has ended: its lease is freed now.
    const told = await sweep(
      { region: 'us-east-1' },
      { isLive: async (r) => (r === 'sweep-ended' ? false : undefined) },
    );
    expect(told.deadLeaseRuns).toEqual(['sweep-ended']);
    expect(await leaseOf('sweep')).toEqual([null, null]);
    expect(await poolIntact(n1!)).toBe(true);
    expect(await poolIntact(n2!)).toBe(true);
  });

  it('the sweeper leaves the lease of a live execution alone, even past its expiry', async () => {
    await pooled('live', 1);
    await leaseRun('live-a', 'live', new Date(Date.now() - 1000).toISOString());
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    const out = await sweep({ region: 'us-east-1' }, { isLive: async (r) => r === 'live-a' });
    expect(out.liveRuns).toContain('live-a');
    expect(out.expiredRuns).not.toContain('live-a');
    expect(await leaseOf('live')).toEqual(['live-a']);
  });

  it('the input refuses a pool with a deliberately closed endpoint group, and a malformed pool name', () => {
    const base = { runId: 'x', region: 'us-east-1', modelId: MODEL };
    expect(ExecutionInputSchema.safeParse({ ...base, pool: 'ci' }).success).toBe(true);
    expect(ExecutionInputSchema.safeParse({ ...base, pool: 'CI pool' }).success).toBe(false);
    const closed = ExecutionInputSchema.safeParse({
      ...base,
      pool: 'ci',
      options: { endpointAllows443: false },
    });
    expect(closed.success).toBe(false);
    expect(closed.error?.issues[0]?.message).toMatch(/cannot be combined with pool/);
  });
});
