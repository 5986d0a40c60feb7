/** Preflight refuses what cannot work before anything exists: no Bedrock endpoint service, or a CIDR outside the pool. */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema } from '../../statemachine/contract.ts';
import { TASK_ENV } from '../../tasks/manifest.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
});
afterEach(() => {
  delete process.env[TASK_ENV.vpcCidrPool];
});
afterAll(() => emu.close());

const input = (over: Record<string, unknown> = {}) =>
  ExecutionInputSchema.parse({
    runId: 'pre-1',
    region: 'us-east-1',
    modelId: 'us.anthropic.claude-3-haiku-20240307-v1:0',
    ...over,
  });

describe('Preflight', () => {
  it('picks two AZs the endpoint service offers and names both ARNs for an inference profile', async () => {
    const { handler } = await import('../../tasks/preflight.ts');
    const out = await handler({ input: input() });
    expect(out.availabilityZones).toHaveLength(2);
    expect(out.availabilityZones[0]).not.toBe(out.availabilityZones[1]);
    expect(out.modelResourceArns).toEqual([
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0',
      'arn:aws:bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
    ]);
  });

  it('refuses a VPC CIDR outside the configured pool, naming the pool', async () => {
    process.env[TASK_ENV.vpcCidrPool] = '10.50.0.0/16,10.60.0.0/16';
    const { handler } = await import('../../tasks/preflight.ts');
    await expect(handler({ input: input({ vpcCidr: '10.42.0.0/16' }) })).rejects.toMatchObject({
      name: 'PrivateLinkVerify.InvalidInput',
      message: expect.stringMatching(/outside the allowed pool 10\.50\.0\.0\/16, 10\.60\.0\.0\/16/),
    });
    await expect(handler({ input: input({ vpcCidr: '10.60.128.0/20' }) })).resolves.toBeDefined();
  });

  it('refuses a region without the bedrock-runtime endpoint service and creates nothing', async () => {
    const { handler } = await import('../../tasks/preflight.ts');
    await expect(handler({ input: input({ region: 'ca-west-1' }) })).rejects.toMatchObject({
      name: 'PrivateLinkVerify.Unsupported',
    });
    const vpcs = await new EC2Client(emu.clientConfig('ca-west-1')).send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs?.every((v) => v.IsDefault)).toBe(true);
  });
});
