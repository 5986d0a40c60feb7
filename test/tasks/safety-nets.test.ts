/**
 * The safety nets outside the state machine: Cleanup started by the EventBridge rule for an
 * ABORTED or TIMED_OUT execution, and the sweeper for runs whose expiry tag has passed.
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
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
        // Stopped long ago: nothing can still be in flight, so this pass may say complete.
        stopDate: Date.now() - 7_200_000,
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

  it('Cleanup stays pending after a stop until the longest task could have finished, and then removes what that task made', async () => {
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    const { LONGEST_TASK_TIMEOUT_SECONDS } = await import('../../tasks/manifest.ts');
    const input = ExecutionInputSchema.parse({
      runId: 'stopped-mid-create',
      region: 'us-east-1',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      vpcCidr: '10.46.0.0/16',
    });
    const stoppedAt = Date.now();
    const event = {
      'detail-type': 'Step Functions Execution Status Change',
      detail: { status: 'ABORTED', stopDate: stoppedAt, input: JSON.stringify(input) },
    };
    // Nothing exists yet at the stop: the first pass finds nothing but must not say complete.
    const first = await cleanup(event);
    expect(first.status).toBe('pending');
    expect(Date.parse(first.settleUntil!)).toBeGreaterThanOrEqual(
      stoppedAt + LONGEST_TASK_TIMEOUT_SECONDS * 1000,
    );
    // The CreateNetwork invocation still in flight finishes after the stop.
    await strandedNetwork('stopped-mid-create', new Date(Date.now() + 3_600_000), '10.46.0.0/16');
    const second = await cleanup({ ...event, cleanup: first });
    expect(second.status).toBe('pending');
    expect(second.deleted.map((r) => r.type)).toContain('vpc');
    expect(await vpcsOf('stopped-mid-create')).toEqual([]);
    // Once the settle time has passed, an empty inventory is complete.
    const third = await cleanup({
      ...event,
      cleanup: { ...second, settleUntil: new Date(Date.now() - 1).toISOString() },
    });
    expect(third.status).toBe('complete');
  });

  it('a refused DescribeVpcs does not stop cleanup: the rest is deleted and the report names the VPC it could not remove', async () => {
    const { network } = await strandedNetwork(
      'refused-list',
      new Date(Date.now() + 3_600_000),
      '10.47.0.0/16',
    );
    const { handler: cleanup } = await import('../../tasks/cleanup.ts');
    emu.setFaults([
      {
        kind: 'error',
        service: 'ec2',
        operation: 'DescribeVpcs',
        code: 'UnauthorizedOperation',
        status: 403,
      },
      { kind: 'error', service: 'ec2', operation: 'DeleteVpc', code: 'UnauthorizedOperation', status: 403 },
    ]);
    try {
      const input = ExecutionInputSchema.parse({
        runId: 'refused-list',
        region: 'us-east-1',
        modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        deadlines: { cleanupSeconds: 60 },
      });
      const out = await cleanup(
        {
          input,
          network,
          cleanup: {
            status: 'pending',
            attempt: 1,
            deleted: [],
            remaining: [],
            unlisted: [],
            startedAt: new Date(Date.now() - 120_000).toISOString(),
          },
        },
        { getRemainingTimeInMillis: () => 16_000 },
      );
      expect(out.status).toBe('incomplete');
      // Subnets and groups went although the VPC list was refused: found by tag and recorded id.
      expect(out.deleted.map((r) => r.type)).toEqual(expect.arrayContaining(['subnet', 'security-group']));
      expect(out.remaining).toEqual([
        expect.objectContaining({
          type: 'vpc',
          id: network.vpcId,
          reason: expect.stringMatching(/UnauthorizedOperation/),
        }),
      ]);
      expect(out.unlisted.join(' ')).toMatch(/DescribeVpcs: UnauthorizedOperation/);
    } finally {
      emu.setFaults([]);
    }
    const { handler: cleanupAgain } = await import('../../tasks/cleanup.ts');
    await cleanupAgain({ input: { runId: 'refused-list', region: 'us-east-1' }, network });
    expect(await vpcsOf('refused-list')).toEqual([]);
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

  it("the sweeper finds a run that left only its bystander role, by the role's tags, and deletes it", async () => {
    const { createBystanderRole } = await import('../../tasks/lib/bystander-role.ts');
    const iam = new IAMClient(emu.clientConfig());
    const verify = await iam.send(
      new CreateRoleCommand({
        RoleName: 'sweep-verify',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    await createBystanderRole({
      region: 'us-east-1',
      runId: 'expired-bystander',
      verifyRoleArn: verify.Role!.Arn!,
      vpcEndpointId: 'vpce-0123456789abcdef0',
      modelResourceArns: [
        'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      ],
      tags: {
        runId: 'expired-bystander',
        owner: 'test',
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
      },
    });
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    const result = await sweep({ region: 'us-east-1' });
    expect(result.expiredRuns).toContain('expired-bystander');
    expect(result.passes['expired-bystander']?.deleted).toContainEqual({
      type: 'iam-role',
      id: 'plv-by-expired-bystander',
    });
    await expect(iam.send(new GetRoleCommand({ RoleName: 'plv-by-expired-bystander' }))).rejects.toThrow(
      /cannot be found/,
    );
  });

  it("the sweeper finds a perimeter's extra role (plv-by-<run>.x1) by its tags and deletes it; another run's is kept", async () => {
    const { createCallerRole } = await import('../../tasks/lib/bystander-role.ts');
    const { extraRoleName } = await import('../../tasks/lib/perimeter.ts');
    const iam = new IAMClient(emu.clientConfig());
    const verifyArn = (await iam.send(new GetRoleCommand({ RoleName: 'sweep-verify' }))).Role!.Arn!;
    const make = (runId: string, expiresAt: Date) =>
      createCallerRole({
        region: 'us-east-1',
        roleName: extraRoleName(runId, 0),
        verifyRoleArn: verifyArn,
        description: 'test',
        policyName: 'plv-perimeter-role',
        policyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: '*' }],
        }),
        tags: { runId, owner: 'test', expiresAt: expiresAt.toISOString() },
      });
    await make('expired-extra', new Date(Date.now() - 60_000));
    await make('live-extra', new Date(Date.now() + 3_600_000));
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    const result = await sweep({ region: 'us-east-1' });
    expect(result.passes['expired-extra']?.deleted).toContainEqual({
      type: 'iam-role',
      id: 'plv-by-expired-extra.x1',
    });
    await expect(iam.send(new GetRoleCommand({ RoleName: 'plv-by-expired-extra.x1' }))).rejects.toThrow(
      /cannot be found/,
    );
    expect((await iam.send(new GetRoleCommand({ RoleName: 'plv-by-live-extra.x1' }))).Role).toBeDefined();
  });

  it('the sweeper under a refused DescribeVpcs still finds the expired run by its subnets, removes what it may, and reports the refused list', async () => {
    await strandedNetwork('expired-refused', new Date(Date.now() - 60_000), '10.48.0.0/16');
    emu.setFaults([
      {
        kind: 'error',
        service: 'ec2',
        operation: 'DescribeVpcs',
        code: 'UnauthorizedOperation',
        status: 403,
      },
    ]);
    try {
      const { handler: sweep } = await import('../../tasks/sweep.ts');
      const result = await sweep({ region: 'us-east-1' });
      expect(result.expiredRuns).toEqual(['expired-refused']);
      expect(result.unlisted.join(' ')).toMatch(/DescribeVpcs: UnauthorizedOperation/);
      const pass = result.passes['expired-refused']!;
      expect(pass.deleted.map((r) => r.type)).toEqual(expect.arrayContaining(['subnet', 'security-group']));
      // The VPC itself could not be found without DescribeVpcs: the pass says why it is not done.
      expect(pass.unlisted.join(' ')).toMatch(/DescribeVpcs/);
    } finally {
      emu.setFaults([]);
    }
    const { handler: sweep } = await import('../../tasks/sweep.ts');
    await sweep({ region: 'us-east-1' });
    expect(await vpcsOf('expired-refused')).toEqual([]);
  });
});
