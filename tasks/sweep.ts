/**
 * The sweeper: deletes resources of runs whose expiry tag has passed. Catches what a crashed,
 * stopped or timed-out run left behind, including Lambda ENIs that took longer than cleanup's deadline.
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient, ListRolesCommand, ListRoleTagsCommand } from '@aws-sdk/client-iam';
import { PROBE_NAME_PREFIX, PROBE_ROLE_PATH, TAG_KEYS } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { type TeardownPass, teardownPass } from './lib/teardown.ts';

export interface SweepResult {
  region: string;
  expiredRuns: string[];
  passes: Record<string, Pick<TeardownPass, 'deleted' | 'remaining'>>;
}

export async function expiredRunIds(region: string, now = Date.now()): Promise<string[]> {
  const runs = new Set<string>();
  const vpcs = await client(EC2Client, region).send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'tag-key', Values: [TAG_KEYS.expiresAt] }] }),
  );
  for (const v of vpcs.Vpcs ?? []) {
    const tags = Object.fromEntries((v.Tags ?? []).map((t) => [t.Key, t.Value]));
    const expires = Date.parse(String(tags[TAG_KEYS.expiresAt]));
    if (tags[TAG_KEYS.runId] && expires <= now) runs.add(String(tags[TAG_KEYS.runId]));
  }
  let marker: string | undefined;
  do {
    const page = await client(IAMClient, region).send(
      new ListRolesCommand({ PathPrefix: PROBE_ROLE_PATH, ...(marker ? { Marker: marker } : {}) }),
    );
    for (const r of page.Roles ?? []) {
      if (!r.RoleName?.startsWith(PROBE_NAME_PREFIX)) continue;
      const tags = Object.fromEntries(
        (
          (await client(IAMClient, region).send(new ListRoleTagsCommand({ RoleName: r.RoleName }))).Tags ?? []
        ).map((t) => [t.Key, t.Value]),
      );
      const expires = Date.parse(String(tags[TAG_KEYS.expiresAt]));
      if (tags[TAG_KEYS.runId] && expires <= now) runs.add(String(tags[TAG_KEYS.runId]));
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return [...runs].sort();
}

export async function handler(event: { region?: string } = {}): Promise<SweepResult> {
  const region = event.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const log = createLogger('Sweeper', { region });
  const expiredRuns = await expiredRunIds(region);
  const passes: SweepResult['passes'] = {};
  for (const runId of expiredRuns) {
    const p = await teardownPass(runId, region, log.with({ runId }));
    passes[runId] = { deleted: p.deleted, remaining: p.remaining };
    log.info('swept run', { runId, deleted: p.deleted.length, remaining: p.remaining.length });
  }
  return { region, expiredRuns, passes };
}
