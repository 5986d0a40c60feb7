/**
 * The network lease pool (opt-in, `input.pool`): a few pre-built networks, each exactly what
 * CreateNetwork builds for a run (tasks/lib/network-build.ts), tagged with the pool's name and no
 * run id or expiry, that runs lease one at a time. A run still creates and deletes its own
 * endpoint and probe inside the leased network.
 *
 * The lease is a security group named LEASE_GROUP_NAME in the pooled VPC, created with the run's
 * tags. Why this is race-free: EC2 itself refuses a second group of one name in one VPC ("You
 * can't have two security groups for the same VPC with the same name", EC2 API reference,
 * CreateSecurityGroup; names are unique within the VPC, case-insensitively), so when two runs
 * call CreateSecurityGroup for the same VPC at once exactly one succeeds and the other gets
 * `InvalidGroup.Duplicate`: the check and the write are one call that AWS makes atomic. No
 * read-then-write window exists, and no clock or ordering of tag writes is trusted. The group is
 * tagged at creation (TagSpecifications), so it is never seen without the run that holds it.
 * Releasing is deleting the group; it carries the run's tags, so the run's Cleanup, the safety
 * net for a dead execution and the sweeper (by expiry) all find it by tag as they find the run's
 * other resources (tasks/lib/teardown.ts releases it last, once the run's endpoint is gone).
 */
import {
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type IpPermission,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import {
  LEASE_GROUP_NAME,
  type Observation,
  POOL_TAG_KEYS,
  poolNetworkName,
  TAG_KEYS,
} from '../../statemachine/contract.ts';
import { buildNetworkInVpc, HTTPS_BETWEEN } from './network-build.ts';
import { aws, errorCode, isNotFound } from './outcomes.ts';
import { readOr } from './readback.ts';
import { type RunTags, runIdFilter, tagList } from './tags.ts';

export interface PoolNetwork {
  /** `pool-<pool>-<n>` */
  name: string;
  vpcId: string;
  subnetIds: [string, string];
  workloadSecurityGroupId: string;
  endpointSecurityGroupId: string;
}

export interface PoolNetworkStatus extends PoolNetwork {
  /** The run holding the lease, when one does. */
  leasedBy?: string;
  leaseGroupId?: string;
  leaseExpiresAt?: string;
}

const tagsOf = (tags: Tag[] | undefined) =>
  Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) as Record<string, string>;

/** True for a resource a pool owns: no run's teardown may delete it. */
export const isPooled = (tags: Tag[] | undefined) => tags?.some((t) => t.Key === POOL_TAG_KEYS.pool) ?? false;

const byPool = (pool: string) => [{ Name: `tag:${POOL_TAG_KEYS.pool}`, Values: [pool] }];

/** The pool's complete networks, in name order. A network missing a part is not offered. */
export async function poolNetworks(ec2: EC2Client, pool: string): Promise<PoolNetwork[]> {
  const vpcs = (await aws('DescribeVpcs', () => ec2.send(new DescribeVpcsCommand({ Filters: byPool(pool) }))))
    .Vpcs;
  const subnets = (
    await aws('DescribeSubnets', () => ec2.send(new DescribeSubnetsCommand({ Filters: byPool(pool) })))
  ).Subnets;
  const groups = (
    await aws('DescribeSecurityGroups', () =>
      ec2.send(new DescribeSecurityGroupsCommand({ Filters: byPool(pool) })),
    )
  ).SecurityGroups;
  const out: PoolNetwork[] = [];
  for (const v of vpcs ?? []) {
    if (v.State && v.State !== 'available') continue;
    const name = tagsOf(v.Tags)[POOL_TAG_KEYS.network];
    if (!name || !v.VpcId) continue;
    const mine = (tags: Tag[] | undefined) => tagsOf(tags)[POOL_TAG_KEYS.network] === name;
    const subnetOf = (suffix: string) =>
      subnets?.find((s) => s.VpcId === v.VpcId && mine(s.Tags) && tagsOf(s.Tags).Name === `${name}-${suffix}`)
        ?.SubnetId;
    const groupOf = (suffix: string) =>
      groups?.find((g) => g.VpcId === v.VpcId && mine(g.Tags) && g.GroupName === `${name}-${suffix}`)
        ?.GroupId;
    const [a, b, workload, endpoint] = [
      subnetOf('a'),
      subnetOf('b'),
      groupOf('workload'),
      groupOf('endpoint'),
    ];
    if (!a || !b || !workload || !endpoint) continue;
    out.push({
      name,
      vpcId: v.VpcId,
      subnetIds: [a, b],
      workloadSecurityGroupId: workload,
      endpointSecurityGroupId: endpoint,
    });
  }
  return out.sort((x, y) => x.name.localeCompare(y.name, 'en', { numeric: true }));
}

/** The pool's networks with who holds each lease now. */
export async function poolStatus(ec2: EC2Client, pool: string): Promise<PoolNetworkStatus[]> {
  const networks = await poolNetworks(ec2, pool);
  const leases = await leaseGroups(
    ec2,
    networks.map((n) => n.vpcId),
  );
  return networks.map((n) => {
    const l = leases.find((g) => g.vpcId === n.vpcId);
    return l ? { ...n, leasedBy: l.runId, leaseGroupId: l.groupId, leaseExpiresAt: l.expiresAt } : n;
  });
}

interface LeaseGroup {
  groupId: string;
  vpcId: string;
  runId: string;
  expiresAt: string;
}

async function leaseGroups(ec2: EC2Client, vpcIds: string[], runId?: string): Promise<LeaseGroup[]> {
  if (vpcIds.length === 0) return [];
  const r = await aws('DescribeSecurityGroups', () =>
    ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'group-name', Values: [LEASE_GROUP_NAME] },
          { Name: 'vpc-id', Values: vpcIds },
          ...(runId ? [runIdFilter(runId)] : []),
        ],
      }),
    ),
  );
  return (r.SecurityGroups ?? []).map((g) => ({
    groupId: g.GroupId!,
    vpcId: g.VpcId!,
    runId: tagsOf(g.Tags)[TAG_KEYS.runId] ?? '',
    expiresAt: tagsOf(g.Tags)[TAG_KEYS.expiresAt] ?? '',
  }));
}

export interface Lease {
  network: PoolNetwork;
  leaseGroupId: string;
}

/** Where a run starts looking, so that runs starting together try different networks first. */
function startIndex(runId: string, n: number): number {
  let h = 0;
  for (const c of runId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return n ? h % n : 0;
}

/**
 * Take one free network of the pool, or undefined when every one is leased. Idempotent: a
 * retried task finds the lease it already holds (by its run tag) instead of taking a second.
 */
export async function leaseNetwork(
  ec2: EC2Client,
  pool: string,
  tags: RunTags,
  networks: PoolNetwork[],
): Promise<Lease | undefined> {
  const held = await leaseGroups(
    ec2,
    networks.map((n) => n.vpcId),
    tags.runId,
  );
  const mine = networks.find((n) => held.some((h) => h.vpcId === n.vpcId));
  if (mine) return { network: mine, leaseGroupId: held.find((h) => h.vpcId === mine.vpcId)!.groupId };
  const start = startIndex(tags.runId, networks.length);
  for (let i = 0; i < networks.length; i++) {
    const network = networks[(start + i) % networks.length]!;
    try {
      const created = await aws('CreateSecurityGroup', () =>
        ec2.send(
          new CreateSecurityGroupCommand({
            VpcId: network.vpcId,
            GroupName: LEASE_GROUP_NAME,
            Description: `privatelink-verify lease of ${network.name} (pool ${pool}): no rules, attached to nothing`,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: tagList(tags, network.name) }],
          }),
        ),
      );
      return { network, leaseGroupId: created.GroupId! };
    } catch (err) {
      // Another run holds this one (EC2 refused the second group of that name): try the next.
      if (errorCode(err) === 'InvalidGroup.Duplicate') continue;
      throw err;
    }
  }
  return undefined;
}

/** A permission as comparable atoms: one per protocol, port range and peer. */
function atoms(perms: IpPermission[] | undefined): string[] {
  const out: string[] = [];
  for (const p of perms ?? []) {
    const head = `${p.IpProtocol === '-1' ? 'all' : p.IpProtocol}:${p.FromPort ?? '*'}-${p.ToPort ?? '*'}`;
    for (const r of p.IpRanges ?? []) out.push(`${head} ${r.CidrIp}`);
    for (const r of p.Ipv6Ranges ?? []) out.push(`${head} ${r.CidrIpv6}`);
    for (const r of p.PrefixListIds ?? []) out.push(`${head} ${r.PrefixListId}`);
    for (const r of p.UserIdGroupPairs ?? []) out.push(`${head} ${r.GroupId}`);
  }
  return out.sort();
}

/**
 * The leased network read back: its two groups must hold exactly the rules CreateNetwork writes
 * (workload: egress 443 to the endpoint group only, no ingress; endpoint: ingress 443 from the
 * workload group only, no egress) and its subnets must be the pool's, in the zones preflight
 * chose. The run did not build this network: a change since the pool built it fails the run
 * (obligation no-other-way-out: the groups are what confine the probe to the endpoint). The
 * routes are read by VerifyAllow for every run's VPC, leased or not.
 */
export async function leasedNetworkAsBuilt(
  ec2: EC2Client,
  network: PoolNetwork,
  zones: readonly string[],
): Promise<Observation> {
  const { workloadSecurityGroupId: w, endpointSecurityGroupId: e } = network;
  const reading = await readOr('no-other-way-out', `the leased network ${network.name}`, async () => {
    const groups =
      (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [w, e] }))).SecurityGroups ?? [];
    const subnets =
      (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: network.subnetIds }))).Subnets ?? [];
    return { groups, subnets };
  });
  if (!('value' in reading)) return reading.unobserved;
  const { groups, subnets } = reading.value;
  const findings: string[] = [];
  const expect = (groupId: string, direction: 'ingress' | 'egress', want: string[]) => {
    const g = groups.find((x) => x.GroupId === groupId);
    if (!g) return findings.push(`security group ${groupId} is gone`);
    const got = atoms(direction === 'ingress' ? g.IpPermissions : g.IpPermissionsEgress);
    const extra = got.filter((a) => !want.includes(a));
    const missing = want.filter((a) => !got.includes(a));
    if (extra.length)
      findings.push(
        `${g.GroupName} (${groupId}) has ${direction} the pool did not write: ${extra.join(', ')}`,
      );
    if (missing.length)
      findings.push(`${g.GroupName} (${groupId}) lacks its ${direction}: ${missing.join(', ')}`);
    if (g.VpcId !== network.vpcId) findings.push(`${groupId} is not in ${network.vpcId}`);
  };
  const https = (peer: string) => atoms([HTTPS_BETWEEN(peer)]);
  expect(w, 'egress', https(e));
  expect(w, 'ingress', []);
  expect(e, 'ingress', https(w));
  expect(e, 'egress', []);
  for (const id of network.subnetIds) {
    const s = subnets.find((x) => x.SubnetId === id);
    if (!s) findings.push(`subnet ${id} is gone`);
    else if (s.VpcId !== network.vpcId) findings.push(`subnet ${id} is not in ${network.vpcId}`);
  }
  const inZones = subnets.map((s) => s.AvailabilityZone ?? '').sort();
  if (subnets.length === 2 && inZones.join(',') !== [...zones].sort().join(','))
    findings.push(`the subnets are in ${inZones.join(', ')}, preflight chose ${zones.join(', ')}`);
  const evidence = [
    `leased ${network.name}: ${network.vpcId}, subnets ${network.subnetIds.join(', ')}, workload group ${w}, endpoint group ${e}`,
    ...groups.map(
      (g) =>
        `${g.GroupId} ${g.GroupName}: ingress ${atoms(g.IpPermissions).join(', ') || 'none'}; egress ${atoms(g.IpPermissionsEgress).join(', ') || 'none'}`,
    ),
    ...findings,
  ];
  return {
    obligation: 'no-other-way-out',
    result: findings.length ? 'failed' : 'passed',
    observed: findings.length
      ? `the leased network ${network.name} is not as the pool built it: ${findings.join('; ')}`
      : `the leased network ${network.name}'s groups hold only the pool's rules (the probe may reach 443 on the endpoint group, nothing else)`,
    evidence,
  };
}

// ---- creating and destroying a pool (the CLI's `pool` command, with the caller's credentials) ----

export interface PoolSpec {
  pool: string;
  size: number;
  vpcCidr: string;
  owner: string;
  availabilityZones: readonly string[];
}

/** Build the pool's networks that do not exist yet (by name): safe to run again. */
export async function createPool(ec2: EC2Client, spec: PoolSpec): Promise<PoolNetwork[]> {
  const existing = await aws('DescribeVpcs', () =>
    ec2.send(new DescribeVpcsCommand({ Filters: byPool(spec.pool) })),
  );
  for (let i = 1; i <= spec.size; i++) {
    const name = poolNetworkName(spec.pool, i);
    const tags = (n: string): Tag[] => [
      { Key: POOL_TAG_KEYS.pool, Value: spec.pool },
      { Key: POOL_TAG_KEYS.network, Value: name },
      { Key: TAG_KEYS.owner, Value: spec.owner },
      { Key: 'Name', Value: n },
    ];
    let vpcId = existing.Vpcs?.find(
      (v) => v.State !== 'deleting' && tagsOf(v.Tags)[POOL_TAG_KEYS.network] === name,
    )?.VpcId;
    if (!vpcId) {
      const created = await aws('CreateVpc', () =>
        ec2.send(
          new CreateVpcCommand({
            CidrBlock: spec.vpcCidr,
            TagSpecifications: [{ ResourceType: 'vpc', Tags: tags(name) }],
          }),
        ),
      );
      vpcId = created.Vpc!.VpcId!;
    }
    await buildNetworkInVpc(ec2, {
      vpcId,
      vpcCidr: spec.vpcCidr,
      availabilityZones: spec.availabilityZones,
      namePrefix: name,
      tagsFor: (type, n) => [{ ResourceType: type, Tags: tags(n) }],
      endpointAllows443: true,
    });
  }
  return poolNetworks(ec2, spec.pool);
}

export interface DestroyResult {
  deleted: string[];
  /** What stays, each with why (a live lease, a run's ENIs still detaching, a refusal). */
  remaining: string[];
}

/**
 * Delete the pool's networks. A leased network is left alone (its run is using it) unless
 * `force`; anything EC2 refuses (a run's Lambda ENIs still detaching) is reported, not hidden.
 */
export async function destroyPool(ec2: EC2Client, pool: string, force = false): Promise<DestroyResult> {
  const result: DestroyResult = { deleted: [], remaining: [] };
  const status = await poolStatus(ec2, pool);
  const vpcs =
    (await aws('DescribeVpcs', () => ec2.send(new DescribeVpcsCommand({ Filters: byPool(pool) })))).Vpcs ??
    [];
  const groups =
    (
      await aws('DescribeSecurityGroups', () =>
        ec2.send(new DescribeSecurityGroupsCommand({ Filters: byPool(pool) })),
      )
    ).SecurityGroups ?? [];
  const subnets =
    (await aws('DescribeSubnets', () => ec2.send(new DescribeSubnetsCommand({ Filters: byPool(pool) }))))
      .Subnets ?? [];
  const attempt = async (what: string, call: () => Promise<unknown>) => {
    try {
      await call();
      result.deleted.push(what);
    } catch (err) {
      if (!isNotFound(err)) result.remaining.push(`${what}: ${errorCode(err)}: ${(err as Error).message}`);
    }
  };
  for (const v of vpcs) {
    const leased = status.find((s) => s.vpcId === v.VpcId && s.leasedBy);
    if (leased && !force) {
      result.remaining.push(`${leased.name} (${v.VpcId}): leased by run ${leased.leasedBy}`);
      continue;
    }
    const mine = groups.filter((g) => g.VpcId === v.VpcId);
    for (const g of mine) {
      // The two groups reference each other: drop the references or neither can go.
      const ingress = (g.IpPermissions ?? []).filter((p) => p.UserIdGroupPairs?.length);
      const egress = (g.IpPermissionsEgress ?? []).filter((p) => p.UserIdGroupPairs?.length);
      if (ingress.length)
        await ec2
          .send(new RevokeSecurityGroupIngressCommand({ GroupId: g.GroupId!, IpPermissions: ingress }))
          .catch(() => {});
      if (egress.length)
        await ec2
          .send(new RevokeSecurityGroupEgressCommand({ GroupId: g.GroupId!, IpPermissions: egress }))
          .catch(() => {});
    }
    if (leased?.leaseGroupId)
      await attempt(`lease ${leased.leaseGroupId}`, () =>
        ec2.send(new DeleteSecurityGroupCommand({ GroupId: leased.leaseGroupId! })),
      );
    for (const g of mine)
      await attempt(`security-group ${g.GroupId}`, () =>
        ec2.send(new DeleteSecurityGroupCommand({ GroupId: g.GroupId! })),
      );
    for (const s of subnets.filter((x) => x.VpcId === v.VpcId))
      await attempt(`subnet ${s.SubnetId}`, () =>
        ec2.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId! })),
      );
    await attempt(`vpc ${v.VpcId}`, () => ec2.send(new DeleteVpcCommand({ VpcId: v.VpcId! })));
  }
  return result;
}
