/**
 * `privatelink-verify run`: the action's code path from a terminal, against the emulator.
 */
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../cli/run.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { ReportSchema } from '../../statemachine/contract.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { deployFixture, fixtureReport, MODEL } from './fixtures.ts';

let emu: Emulator;
let sfn: SFNClient;
let passArn: string;
let failArn: string;
const saved = { ...process.env };

beforeAll(async () => {
  emu = await startTestEmulator();
  sfn = new SFNClient(adminClientConfig(emu));
  passArn = await deployFixture(emu, fixtureReport('pass'));
  failArn = await deployFixture(emu, fixtureReport('fail'));
  // The command uses the default credential chain, as it would against AWS.
  process.env.AWS_ENDPOINT_URL = emu.url;
  process.env.AWS_ACCESS_KEY_ID = 'AKIALOCALADMIN000000';
  process.env.AWS_SECRET_ACCESS_KEY = 'local-admin-secret';
});

afterAll(async () => {
  process.env = saved;
  await emu?.close();
});

async function run(argv: string[]) {
  if (argv.includes('--state-machine-arn')) argv = [...argv, '--poll-interval-seconds', '0.02'];
  let stdout = '';
  let stderr = '';
  const code = await runCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('privatelink-verify run', () => {
  it('prints the text report of a passing execution and exits 0', async () => {
    const r = await run([
      '--state-machine-arn',
      passArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--wait',
      'complete',
      '--run-id',
      'cli-pass-1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('PASS: PrivateLink verification passed');
    expect(r.stdout).toContain('[passed] Deny after the policy flip');
    expect(r.stdout).toContain('cleanup: complete, nothing left');
    expect(r.stderr).toMatch(/▶ VerdictKnown entered/);
  });

  it('exits 1 on a failed verification and says which check failed', async () => {
    const r = await run([
      '--state-machine-arn',
      failArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--run-id',
      'cli-fail-1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Verification failed: check "deny" failed');
  });

  it('prints the report as JSON with --json', async () => {
    const r = await run([
      '--state-machine-arn',
      passArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--json',
      '--run-id',
      'cli-json-1',
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcome).toBe('pass');
    expect(ReportSchema.parse(doc.report).verdict).toBe('pass');
  });

  it('re-attaches when run again with the same --run-id', async () => {
    const args = [
      '--state-machine-arn',
      passArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--wait',
      'complete',
      '--run-id',
      'cli-again-1',
    ];
    const first = await run(args);
    const second = await run(args);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('Attached to the existing execution cli-again-1');
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: passArn }));
    expect(listed.executions!.filter((e) => e.name === 'cli-again-1')).toHaveLength(1);
  });

  it.each([
    [[], '--state-machine-arn is required (or --local)'],
    [
      ['--state-machine-arn', 'nope', '--region', 'us-east-1', '--model', MODEL],
      '--state-machine-arn "nope" is not a state machine ARN',
    ],
    [['--local', '--region', 'mars-1'], '--region "mars-1" is not an AWS region code'],
    [['--local', '--wait', 'never'], '--wait "never" must be one of: verdict, complete'],
    [['--local', '--run-id', 'has space'], '--run-id "has space" must be'],
    [['--frobnicate'], "Unknown option '--frobnicate'"],
  ])('exits 2 with a clear message for %j and starts nothing', async (argv, message) => {
    const before = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: passArn }))).executions!
      .length;
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect((await sfn.send(new ListExecutionsCommand({ stateMachineArn: passArn }))).executions!.length).toBe(
      before,
    );
  });

  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: privatelink-verify run');
  });
});
