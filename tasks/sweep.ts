/**
 * The sweeper: deletes resources of runs whose expiry tag has passed. Catches what a crashed,
 * stopped or timed-out run left behind, including Lambda ENIs that took longer than cleanup's
 * deadline. Every list call and every run stands alone: a refused call is reported in `unlisted`
 * and the sweeper removes everything else it can see.
 */
import {
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { IAMClient, ListRolesCommand, ListRoleTagsCommand } from '@aws-sdk/client-iam';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  BYSTANDER_NAME_PREFIX,
  LEASE_GROUP_NAME,
  PROBE_NAME_PREFIX,
  PROBE_ROLE_PATH,
  TAG_KEYS,
} from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { errorCode } from './lib/outcomes.ts';
import { type TeardownPass, teardownPass } from './lib/teardown.ts';

export interface SweepResult {
  region: string;
  expiredRuns: string[];
  /** Runs whose pool lease was freed because their execution is no longer running (before expiry). */
  deadLeaseRuns: string[];
  /** Expired or leasing runs left alone because their execution is still running. */
  liveRuns: string[];
  passes: Record<string, Pick<TeardownPass, 'deleted' | 'remaining' | 'unlisted'>>;
  /** List calls that did not answer: runs only they would have found are not swept. */
  unlisted: string[];
}

const describeError = (err: unknown) => `${errorCode(err)}: ${(err as Error)?.message ?? String(err)}`;

export async function expiredRunIds(
  region: string,
  now = Date.now(),
): Promise<{ runs: string[]; unlisted: string[]; extraRoles: Record<string, string[]> }> {
  const runs = new Set<string>();
  /** A perimeter's extra roles (`plv-by-<run>.x<n>`) by run: teardown cannot derive their number from the run id alone. */
  const extraRoles: Record<string, string[]> = {};
  const unlisted: string[] = [];
  const consider = (tags: Record<string, string | undefined>) => {
    const expires = Date.parse(String(tags[TAG_KEYS.expiresAt]));
    if (tags[TAG_KEYS.runId] && expires <= now) runs.add(String(tags[TAG_KEYS.runId]));
  };
  const fromTags = (tags: Tag[] | undefined) => Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));
  const ec2Api = client(EC2Client, region);
  const byExpiryTag = [{ Name: 'tag-key', Values: [TAG_KEYS.expiresAt] }];
  // Each tagged type on its own: a run whose VPC listing is refused is still found by its subnets.
  const listers: [string, () => Promise<(Tag[] | undefined)[]>][] = [
    [
      'DescribeVpcs',
      async () =>
        ((await ec2Api.send(new DescribeVpcsCommand({ Filters: byExpiryTag }))).Vpcs ?? []).map(
          (v) => v.Tags,
        ),
    ],
    [
      'DescribeSubnets',
      async () =>
        ((await ec2Api.send(new DescribeSubnetsCommand({ Filters: byExpiryTag }))).Subnets ?? []).map(
          (s) => s.Tags,
        ),
    ],
    [
      'DescribeSecurityGroups',
      async () =>
        (
          (await ec2Api.send(new DescribeSecurityGroupsCommand({ Filters: byExpiryTag }))).SecurityGroups ??
          []
        ).map((g) => g.Tags),
    ],
    [
      'DescribeVpcEndpoints',
      async () =>
        (
          (await ec2Api.send(new DescribeVpcEndpointsCommand({ Filters: byExpiryTag }))).VpcEndpoints ?? []
        ).map((e) => e.Tags),
    ],
  ];
  for (const [op, list] of listers) {
    try {
      for (const tags of await list()) consider(fromTags(tags));
    } catch (err) {
      unlisted.push(`${op}: ${describeError(err)}`);
    }
  }
  const iamApi = client(IAMClient, region);
  let marker: string | undefined;
  try {
    do {
      const page = await iamApi.send(
        new ListRolesCommand({ PathPrefix: PROBE_ROLE_PATH, ...(marker ? { Marker: marker } : {}) }),
      );
      for (const r of page.Roles ?? []) {
        if (!r.RoleName?.startsWith(PROBE_NAME_PREFIX) && !r.RoleName?.startsWith(BYSTANDER_NAME_PREFIX))
          continue;
        try {
          const tags = fromTags((await iamApi.send(new ListRoleTagsCommand({ RoleName: r.RoleName }))).Tags);
          consider(tags);
          const owner = tags[TAG_KEYS.runId];
          if (owner && r.RoleName.startsWith(`${BYSTANDER_NAME_PREFIX}${owner}.x`))
            extraRoles[String(owner)] = [...(extraRoles[String(owner)] ?? []), r.RoleName];
        } catch (err) {
          unlisted.push(`ListRoleTags ${r.RoleName}: ${describeError(err)}`);
        }
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
  } catch (err) {
    unlisted.push(`ListRoles: ${describeError(err)}`);
  }
  return { runs: [...runs].sort(), unlisted, extraRoles };
}

/**
 * Whether a run's execution is still running, when the sweeper knows the state machine (the
 * execution is named by the run id): `true` running, `false` ended or never existed, `undefined`
 * unknown (no state machine given, or DescribeExecution did not answer).
 */
export type Liveness = (runId: string) => Promise<boolean | undefined>;

export function executionLiveness(region: string, stateMachineArn: string | undefined): Liveness {
  if (!stateMachineArn) return async () => undefined;
  const sfn = client(SFNClient, region);
  // arn:…:stateMachine:<name> → arn:…:execution:<name>:<execution name>
  const executionArn = (runId: string) =>
    `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${runId}`;
  return async (runId) => {
    try {
      const r = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(runId) }));
      return r.status === 'RUNNING' || r.status === 'PENDING_REDRIVE';
    } catch (err) {
      if (errorCode(err) === 'ExecutionDoesNotExist') return false;
      return undefined;
    }
  };
}

/** Runs holding a pool lease now (a group named LEASE_GROUP_NAME carrying a run tag). */
export async function leasingRunIds(region: string): Promise<{ runs: string[]; unlisted: string[] }> {
  try {
    const r = await client(EC2Client, region).send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'group-name', Values: [LEASE_GROUP_NAME] },
          { Name: 'tag-key', Values: [TAG_KEYS.runId] },
        ],
      }),
    );
    const runs = (r.SecurityGroups ?? [])
      .map((g) => g.Tags?.find((t) => t.Key === TAG_KEYS.runId)?.Value)
      .filter((v): v is string => Boolean(v));
    return { runs: [...new Set(runs)].sort(), unlisted: [] };
  } catch (err) {
    return { runs: [], unlisted: [`DescribeSecurityGroups (leases): ${describeError(err)}`] };
  }
}

export async function handler(
  event: { region?: string; stateMachineArn?: string } = {},
  deps: { isLive?: Liveness } = {},
): Promise<SweepResult> {
  const region = event.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const log = createLogger('Sweeper', { region });
  const isLive = deps.isLive ?? executionLiveness(region, event.stateMachineArn);
  const { runs: expired, unlisted, extraRoles } = await expiredRunIds(region);
  const leasing = await leasingRunIds(region);
  unlisted.push(...leasing.unlisted);
  const expiredRuns: string[] = [];
  const deadLeaseRuns: string[] = [];
  const liveRuns: string[] = [];
  for (const runId of expired) {
    // Past its expiry but still running (a short ttl): its resources, its lease above all, are in use.
    if ((await isLive(runId)) === true) liveRuns.push(runId);
    else expiredRuns.push(runId);
  }
  // A lease whose execution has ended is freed now, not at its expiry hours later; one whose
  // execution cannot be looked up waits for its expiry (never free a lease a live run may hold).
  for (const runId of leasing.runs) {
    if (expired.includes(runId)) continue;
    const live = await isLive(runId);
    if (live === false) deadLeaseRuns.push(runId);
    else if (live === true) liveRuns.push(runId);
  }
  const passes: SweepResult['passes'] = {};
  for (const runId of [...expiredRuns, ...deadLeaseRuns]) {
    const roles = extraRoles[runId];
    const p = await teardownPass(runId, region, log.with({ runId }), roles ? { roles } : {});
    passes[runId] = { deleted: p.deleted, remaining: p.remaining, unlisted: p.unlisted };
    log.info('swept run', { runId, deleted: p.deleted.length, remaining: p.remaining.length });
  }
  if (unlisted.length) log.warn('some list calls did not answer', { unlisted });
  return { region, expiredRuns, deadLeaseRuns, liveRuns: [...new Set(liveRuns)].sort(), passes, unlisted };
}
