/**
 * Retried tasks must not create twice: the state machine retries a task whose first attempt may
 * have created resources before failing. Handlers run in-process against the emulator through
 * the same SDK environment variables a Lambda gets.
 */
import {
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, type RunState, TAG_KEYS } from '../../statemachine/contract.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let ec2: EC2Client;
const input = ExecutionInputSchema.parse({
  runId: 'idem-1',
  region: 'us-east-1',
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
});
const byRun = [{ Name: `tag:${TAG_KEYS.runId}`, Values: [input.runId] }];

beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  // CreateProbe embeds the probe's code at build time; in-process it reads this global instead.
  (globalThis as Record<string, unknown>).__PROBE_BUNDLE__ = 'export const handler = async () => ({});';
  ec2 = new EC2Client(emu.clientConfig());
});
afterAll(() => emu.close());

describe('tasks are idempotent', () => {
  let state: RunState = { input };

  it('CreateNetwork run twice, the second after a failure midway, makes one VPC and two subnets', async () => {
    const { handler: preflight } = await import('../../tasks/preflight.ts');
    const { handler: createNetwork } = await import('../../tasks/create-network.ts');
    state = { ...state, preflight: await preflight({ input }) };
    // First attempt dies after the VPC exists (as a Lambda timeout or crash would leave it).
    emu.setFaults([
      {
        kind: 'error',
        service: 'ec2',
        operation: 'CreateSubnet',
        code: 'UnauthorizedOperation',
        status: 403,
        times: 1,
      },
    ]);
    await expect(createNetwork(state)).rejects.toThrow();
    emu.setFaults([]);
    const first = await createNetwork(state);
    const second = await createNetwork(state);
    expect(second).toEqual(first);
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: byRun }));
    expect(vpcs.Vpcs).toHaveLength(1);
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [first.vpcId] }] }),
    );
    expect(subnets.Subnets).toHaveLength(2);
    state = { ...state, network: first };
  });

  it('CreateEndpoint run twice makes one endpoint', async () => {
    const { handler } = await import('../../tasks/create-endpoint.ts');
    const a = await handler(state);
    const b = await handler(state);
    expect(b.vpcEndpointId).toBe(a.vpcEndpointId);
    const eps = await ec2.send(new DescribeVpcEndpointsCommand({ Filters: byRun }));
    expect(eps.VpcEndpoints).toHaveLength(1);
    state = { ...state, provisioned: { endpoint: a } };
  });

  it('CreateProbe run twice makes one role and one function', async () => {
    const { handler } = await import('../../tasks/create-probe.ts');
    const a = await handler(state);
    const b = await handler(state);
    expect(b.functionArn).toBe(a.functionArn);
    const fns = await new LambdaClient(emu.clientConfig()).send(new ListFunctionsCommand({}));
    expect(fns.Functions?.filter((f) => f.FunctionName === `plv-probe-${input.runId}`)).toHaveLength(1);
  });

  it('teardown twice: the second pass deletes nothing and fails on nothing (NotFound is success)', async () => {
    const { teardownPass, listLeftovers } = await import('../../tasks/lib/teardown.ts');
    const { createLogger } = await import('../../tasks/lib/log.ts');
    const log = createLogger('test');
    // Instant profile: ENIs detach at once, so passes finish quickly; loop as Cleanup does.
    let pass = await teardownPass(input.runId, input.region, log);
    for (let i = 0; i < 10 && pass.remaining.length; i++)
      pass = await teardownPass(input.runId, input.region, log);
    expect(pass.remaining).toEqual([]);
    const again = await teardownPass(input.runId, input.region, log);
    expect(again).toEqual({ deleted: [], remaining: [], unlisted: [] });
    expect(await listLeftovers(input.runId, input.region)).toEqual({ leftovers: [], unlisted: [] });
  });
});
