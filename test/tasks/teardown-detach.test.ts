/**
 * Teardown detaches the probe from the VPC (an empty VpcConfig) before deleting it, so Lambda
 * starts releasing the probe's ENIs on its own. Shown where it matters: DeleteFunction is refused,
 * yet the ENIs detach, are deleted, and the network goes; only the function is left, and named.
 * Where the detach is refused too, the ENIs stay attached and hold the VPC, and the report says so.
 */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../emulator/core/faults.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, type RunState, TAG_KEYS } from '../../statemachine/contract.ts';
import type { TeardownPass } from '../../tasks/lib/teardown.ts';
import { startTestEmulator } from '../helpers/emulator.ts';
import { functionReady } from '../helpers/wait.ts';

let emu: Emulator;

beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  (globalThis as Record<string, unknown>).__PROBE_BUNDLE__ = 'export const handler = async () => ({});';
});
afterAll(() => emu.close());

const refuse = (operation: string): FaultRule => ({
  kind: 'error',
  service: 'lambda',
  operation,
  code: 'AccessDeniedException',
  status: 403,
  message: `refused by the test: ${operation}`,
});

/** A run up to an Active probe in its VPC, as the state machine leaves it at the verdict. */
async function runWithProbe(runId: string, vpcCidr: string): Promise<RunState> {
  const input = ExecutionInputSchema.parse({
    runId,
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    vpcCidr,
  });
  const { handler: preflight } = await import('../../tasks/preflight.ts');
  const { handler: createNetwork } = await import('../../tasks/create-network.ts');
  const { handler: createEndpoint } = await import('../../tasks/create-endpoint.ts');
  const { handler: createProbe } = await import('../../tasks/create-probe.ts');
  let state: RunState = { input, preflight: await preflight({ input }) };
  state = { ...state, network: await createNetwork(state) };
  state = { ...state, provisioned: { endpoint: await createEndpoint(state) } };
  const probe = await createProbe(state);
  await functionReady(new LambdaClient(emu.clientConfig()), probe.functionName);
  return { ...state, provisioned: { ...state.provisioned, probe } };
}

/** Teardown passes as Cleanup makes them, until nothing changes any more or a real-time deadline. */
async function tearDown(state: RunState, forMs: number): Promise<TeardownPass> {
  const { teardownPass, knownIdsOf } = await import('../../tasks/lib/teardown.ts');
  const { createLogger } = await import('../../tasks/lib/log.ts');
  const log = createLogger('test');
  const end = Date.now() + forMs;
  let pass = await teardownPass(state.input.runId, state.input.region, log, knownIdsOf(state));
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    pass = await teardownPass(state.input.runId, state.input.region, log, knownIdsOf(state));
    if (pass.remaining.every((l) => l.type === 'lambda-function')) break;
  }
  return pass;
}

const vpcsOf = async (runId: string) =>
  (
    await new EC2Client(emu.clientConfig()).send(
      new DescribeVpcsCommand({ Filters: [{ Name: `tag:${TAG_KEYS.runId}`, Values: [runId] }] }),
    )
  ).Vpcs ?? [];

describe('teardown detaches the probe from the VPC before deleting it', () => {
  it('DeleteFunction refused: the detached probe lets go of its ENIs and the network is deleted', async () => {
    const state = await runWithProbe('detach-1', '10.42.61.0/24');
    emu.setFaults([refuse('DeleteFunction')]);
    try {
      const pass = await tearDown(state, 10_000);
      expect(pass.remaining.map((l) => `${l.type} ${l.id}`)).toEqual([
        `lambda-function plv-probe-${state.input.runId}`,
      ]);
      expect(await vpcsOf(state.input.runId)).toEqual([]);
      const fn = await new LambdaClient(emu.clientConfig()).send(
        new GetFunctionConfigurationCommand({ FunctionName: `plv-probe-${state.input.runId}` }),
      );
      expect(fn.VpcConfig?.SubnetIds ?? []).toEqual([]);
    } finally {
      emu.setFaults([]);
    }
  });

  it('detach and DeleteFunction both refused: the attached ENIs hold the VPC, and teardown says why', async () => {
    const state = await runWithProbe('detach-2', '10.42.62.0/24');
    emu.setFaults([refuse('DeleteFunction'), refuse('UpdateFunctionConfiguration')]);
    try {
      // Ample for the instant profile's 20-30 virtual s ENI detach, were the ENIs released.
      const pass = await tearDown(state, 3_000);
      expect(await vpcsOf(state.input.runId)).toHaveLength(1);
      expect(pass.remaining).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            type: 'network-interface',
            reason: expect.stringMatching(/Lambda network interface still in-use/),
          }),
          expect.objectContaining({ type: 'vpc' }),
        ]),
      );
    } finally {
      emu.setFaults([]);
    }
  });
});
