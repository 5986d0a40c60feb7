/**
 * Queue under the VPC quota: a run that meets VpcLimitExceeded waits for a slot (in the task, then
 * through the state machine's Retry) instead of failing, and says how long it waited.
 * VpcLimitExceeded is the EC2 error for "The maximum number of VPCs has been reached"
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, type PreflightOutput } from '../../statemachine/contract.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;

beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
});
afterAll(() => emu.close());

describe('queue under the VPC quota', () => {
  it('at the quota CreateNetwork hands over to the Retry with WaitingForQuota, and once a slot frees reports the wait', async () => {
    const { handler: preflight } = await import('../../tasks/preflight.ts');
    const { handler: createNetwork, QUOTA_WAIT_ERROR } = await import('../../tasks/create-network.ts');
    const input = ExecutionInputSchema.parse({
      runId: 'queued-run',
      region: 'us-east-1',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    });
    const pre = await preflight({ input });
    // The default VPC holds the only slot.
    const quotas = emu.ctx.quotas as unknown as Record<string, number>;
    const saved = quotas.vpcsPerRegion!;
    quotas.vpcsPerRegion = 1;
    // A Lambda with 16 s left has a 1 s waiting budget (15 s margin): short enough for a test.
    const context = { getRemainingTimeInMillis: () => 16_000 };
    const err = await createNetwork({ input, preflight: pre }, context).catch((e: Error) => e);
    expect((err as Error).name).toBe(QUOTA_WAIT_ERROR);
    expect((err as Error).message).toMatch(/waiting for a VPC slot \(VpcLimitExceeded\)/);

    quotas.vpcsPerRegion = saved;
    // The Retry called again three minutes after Preflight: the wait is in the network output.
    const earlier: PreflightOutput = { ...pre, startedAt: new Date(Date.now() - 190_000).toISOString() };
    const out = await createNetwork({ input, preflight: earlier }, context);
    expect(out.quotaWaitSeconds).toBeGreaterThanOrEqual(190);
    const { buildReport } = await import('../../tasks/build-report.ts');
    const { renderReportText } = await import('../../workflows-src/report/render.ts');
    const report = buildReport({ input, preflight: earlier, network: out }, 'final');
    expect(renderReportText(report)).toMatch(/Waited 3 min 1\d s for a VPC slot/);
  });

  it('the ASL retries CreateNetwork on WaitingForQuota with backoff and full jitter', async () => {
    const { readFileSync } = await import('node:fs');
    const asl = JSON.parse(
      readFileSync(new URL('../../statemachine/verify.asl.json', import.meta.url), 'utf8'),
    );
    const retry = asl.States.CreateNetwork.Retry.find((r: { ErrorEquals: string[] }) =>
      r.ErrorEquals.includes('PrivateLinkVerify.WaitingForQuota'),
    );
    expect(retry).toMatchObject({ JitterStrategy: 'FULL' });
    expect(retry.MaxAttempts).toBeGreaterThanOrEqual(10);
  });
});
