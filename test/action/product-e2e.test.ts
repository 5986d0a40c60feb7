/**
 * End to end: the bundled action against the emulator with the real product deployed (the task
 * Lambdas and the verification ASL), not a fixture.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deployProduct } from '../../cli/deploy.ts';
import { ensurePool } from '../../cli/pool.ts';
import { runCommand } from '../../cli/run.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { ReportSchema, TAG_KEYS } from '../../statemachine/contract.ts';
import { COMMENT_MARKER } from '../../workflows-src/action/github.ts';
import { REPO_ROOT } from '../../workflows-src/build.ts';
import { startTestEmulator } from '../helpers/emulator.ts';
import { MODEL, pullRequestPayload, runBundledAction } from './fixtures.ts';
import { GitHubStandIn } from './github-stand-in.ts';

let emu: Emulator;
let gh: GitHubStandIn;
let stateMachineArn: string;

beforeAll(async () => {
  // As `local --profile instant` runs: at 0.001 the state machine's 7,200 s timeout is 7 s of real
  // time, which a loaded machine's compute (counted in virtual time) can use up.
  emu = await startTestEmulator({ timeScale: 0.01 });
  gh = await GitHubStandIn.start();
  stateMachineArn = (await deployProduct(emu, { region: 'us-east-1' })).stateMachineArn;
}, 120_000);

afterAll(async () => {
  await gh?.close();
  await emu?.close();
});

beforeEach(() => gh.reset());

function run(runId: string, extra: Record<string, string> = {}) {
  return runBundledAction({
    emulatorUrl: emu.url,
    githubUrl: gh.url,
    event: 'pull_request',
    payload: pullRequestPayload(7),
    runId,
    inputs: {
      'state-machine-arn': stateMachineArn,
      region: 'us-east-1',
      'model-id': MODEL,
      wait: 'complete',
      'github-token': 'ghs_standin',
      'poll-interval-seconds': '0.05',
      'timeout-minutes': '5',
      ...extra,
    },
  });
}

describe('the bundled action with the product deployed', () => {
  it('a correctly configured endpoint passes, the comment says so, and nothing is left behind', async () => {
    const result = await run('6101');
    expect(result.code, result.stdout).toBe(0);
    expect(result.outputs.verdict).toBe('pass');
    const report = ReportSchema.parse(JSON.parse(result.outputs['report-json']!));
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ['allow', 'passed'],
      ['deny', 'passed'],
    ]);
    expect(report.cleanup.status).toBe('complete');
    expect(report.propagationSeconds).toBeGreaterThanOrEqual(0);
    expect(gh.comments).toHaveLength(1);
    expect(gh.comments[0]!.body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(gh.comments[0]!.body).toContain('PrivateLink verification passed');
    expect(emu.leftovers(TAG_KEYS.runId, report.runId)).toEqual([]);
  }, 120_000);

  it('an endpoint whose policy changes never apply fails the step and names the failing check', async () => {
    emu.ctx.world = { ...emu.ctx.world, endpointPolicyUpdatesApply: false };
    try {
      const result = await run('6102');
      expect(result.code, result.stdout).toBe(1);
      expect(result.outputs.verdict).toBe('fail');
      // The flip to Deny never applies (the creation-time allow stays), so an obligation fails: the message names it and says why.
      expect(result.stdout).toMatch(/::error::Verification failed: obligation "[a-z-]+" failed: \S/);
      expect(gh.comments[0]!.body).toContain('PrivateLink verification failed');
    } finally {
      emu.ctx.world = { ...emu.ctx.world, endpointPolicyUpdatesApply: true };
    }
  }, 120_000);
});

describe('the bundled action with a network lease pool', () => {
  it('leases a pooled network instead of building a VPC, passes, and leaves the pool as it found it', async () => {
    const cfg = emu.clientConfig('us-east-1');
    await ensurePool(cfg, { pool: 'ci', region: 'us-east-1', size: 1 });
    const ec2 = new EC2Client(cfg);
    const vpcs = async () =>
      ((await ec2.send(new DescribeVpcsCommand({}))).Vpcs ?? []).map((v) => v.VpcId).sort();
    const before = await vpcs();
    const result = await run('6103', { pool: 'ci' });
    expect(result.code, result.stdout).toBe(0);
    const report = ReportSchema.parse(JSON.parse(result.outputs['report-json']!));
    // The world where the input is dropped on the way builds a VPC of the run's own: no lease.
    expect(report.leasedNetwork).toBe('pool-ci-1');
    expect(report.cleanup.status).toBe('complete');
    expect(await vpcs()).toEqual(before);
    expect(emu.leftovers(TAG_KEYS.runId, report.runId)).toEqual([]);
  }, 120_000);

  it('refuses a pool name that pool create would refuse, before starting anything', async () => {
    const sfn = new SFNClient(emu.clientConfig('us-east-1'));
    const executions = async () =>
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.length ?? 0;
    const before = await executions();
    const result = await run('6104', { pool: 'Not_A_Pool' });
    // A failed step is exit 1 on GitHub (as for every bad input of the action).
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      '::error::Invalid input: pool "Not_A_Pool": pool must be 1–24 lower-case letters',
    );
    expect(result.stdout).toContain('Nothing was started.');
    expect(await executions()).toBe(before);
  }, 60_000);
});

describe("the bundled action with this repository's perimeter spec and the product deployed", () => {
  it("verifies the spec's matrix live: the report carries every cell, the JUnit file one case each", async () => {
    const ws = mkdtempSync(join(tmpdir(), 'plv-e2e-ws-'));
    copyFileSync(join(REPO_ROOT, 'privatelink-verify.yml'), join(ws, 'privatelink-verify.yml'));
    const result = await runBundledAction({
      emulatorUrl: emu.url,
      githubUrl: gh.url,
      event: 'pull_request',
      payload: pullRequestPayload(8),
      runId: '6201',
      workspace: ws,
      inputs: {
        'state-machine-arn': stateMachineArn,
        wait: 'complete',
        'github-token': 'ghs_standin',
        'poll-interval-seconds': '0.05',
        'timeout-minutes': '5',
      },
    });
    expect(result.code, result.stdout).toBe(0);
    const report = ReportSchema.parse(JSON.parse(result.outputs['report-json']!));
    expect(report.specFile).toBe('privatelink-verify.yml');
    expect(report.matrix?.length).toBeGreaterThan(0);
    expect(report.matrix!.every((c) => c.result === 'passed' || c.result === 'skipped')).toBe(true);
    const junit = readFileSync(result.outputs['junit-file']!, 'utf8');
    // One testcase per cell, per obligation, and the region's cleanup.
    const cases = junit.match(/<testcase /g) ?? [];
    expect(cases.length).toBe(report.matrix!.length + report.obligations.length + 1);
    expect(junit).not.toContain('<failure');
    expect(emu.leftovers(TAG_KEYS.runId, report.runId)).toEqual([]);
  }, 180_000);
});

describe('privatelink-verify run --local', () => {
  it('starts the emulator, deploys the product and prints the passing report', async () => {
    let stdout = '';
    let stderr = '';
    const code = await runCommand(['--local', '--json'], {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
    });
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout);
    expect(doc.outcome).toBe('pass');
    expect(doc.status).toBe('SUCCEEDED');
    expect(ReportSchema.parse(doc.report).cleanup.status).toBe('complete');
    expect(stderr).toContain('deploying the product');
  }, 120_000);
});
