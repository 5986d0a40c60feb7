/**
 * The safety nets outside the state machine: Cleanup started by the EventBridge rule for an
 * ABORTED or TIMED_OUT execution, and the sweeper for runs whose expiry tag has passed.
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, type PreflightOutput, TAG_KEYS } from '../../statemachine/contract.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let ec2: EC2Client;

beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  ec2 = new EC2Client(emu.clientConfig());
});
afterAll(() => emu.close());

/** Leave a run's network behind, as a run stopped midway would, with the given expiry. */
async function strandedNetwork(runId: string, expiresAt: Date, vpcCidr: string) {
  const { handler: preflight } = await import('../../tasks/preflight.ts');
  const { handler: createNetwork } = await import('../../tasks/create-network.ts');
  const input = ExecutionInputSchema.parse({
    runId,
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    vpcCidr,
  });
  const pre: PreflightOutput = { ...(await preflight({ input })), expiresAt: expiresAt.toISOString() };
  return { input, network: await createNetwork({ input, preflight: pre }) };
}

const vpcsOf = async (runId: string) =>
  (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: `tag:${TAG_KEYS.runId}`, Values: [runId] }] })))
    .Vpcs ?? [];

describe('safety nets', () => {
  it('Cleanup accepts the Step Functions status-change event of an ABORTED execution and removes the run', async () => {
    const { input } = await strandedNetwork('aborted-run', new Date(Date.now() + 3_600_000), '10.43.0.0/16');
    expect(await vpcsOf('aborted-run')).toHaveLength(1);
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    const out = await cleanup({
      'detail-type': 'Step Functions Execution Status Change',
      detail: {
        status: 'ABORTED',
        input: JSON.stringify(input),
        executionArn: 'arn:aws:states:us-east-1:123456789012:execution:privatelink-verify:aborted-run',
      },
    });
    expect(out.status).toBe('complete');
    expect(out.deleted.map((r) => r.type)).toEqual(
      expect.arrayContaining(['vpc', 'subnet', 'security-group']),
    );
    expect(await vpcsOf('aborted-run')).toEqual([]);
  });

  it('Cleanup of an input Preflight would refuse creates and deletes nothing', async () => {
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    const out = await cleanup({ input: { runId: 'has spaces', region: 'nowhere' } });
    expect(out).toMatchObject({ status: 'complete', deleted: [], remaining: [] });
  });

  it('the sweeper deletes runs whose expiry has passed and leaves unexpired runs alone', async () => {
    await strandedNetwork('expired-run', new Date(Date.now() - 60_000), '10.44.0.0/16');
    await strandedNetwork('fresh-run', new Date(Date.now() + 3_600_000), '10.45.0.0/16');
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    const result = await sweep({ region: 'us-east-1' });
    expect(result.expiredRuns).toEqual(['expired-run']);
    expect(result.passes['expired-run']?.remaining).toEqual([]);
    expect(await vpcsOf('expired-run')).toEqual([]);
    expect(await vpcsOf('fresh-run')).toHaveLength(1);
  });
});
