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

  it('a passing verdict with leftovers exits 1 with a warning, never "Verified" alone', async () => {
    const leftArn = await deployFixture(
      emu,
      fixtureReport('pass'),
      // The verdict passed; the final report says cleanup could not remove the VPC.
      {
        finalCleanup: {
          status: 'incomplete',
          leftovers: [{ type: 'vpc', id: 'vpc-0left', reason: 'delete refused' }],
        },
      },
    );
    const r = await run([
      '--state-machine-arn',
      leftArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--wait',
      'complete',
    ]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toContain('PASS-WITH-LEFTOVERS');
    expect(r.stdout).toContain('Verified, but resources were left behind');
    expect(r.stdout).not.toMatch(/^Verified:/m);
    expect(r.stderr).toMatch(/warning: Cleanup incomplete: 1 resource\(s\) left behind/);
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
    expect(r.stdout).toContain('Verification failed: obligation "own-deny-refuses-stably" failed');
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
    expect(second.stderr).toMatch(/Attached to the existing execution cli-again-1-[0-9a-f]{8}/);
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: passArn }));
    expect(listed.executions!.filter((e) => e.name?.startsWith('cli-again-1-'))).toHaveLength(1);
  });

  it('the same --run-id with another model is another execution, never the old verdict (stale re-attach)', async () => {
    const base = [
      '--state-machine-arn',
      passArn,
      '--region',
      'us-east-1',
      '--wait',
      'complete',
      '--run-id',
      'nightly',
    ];
    const first = await run([...base, '--model', MODEL]);
    const second = await run([...base, '--model', `us.${MODEL}`]);
    expect(first.code).toBe(0);
    expect(second.stderr).toMatch(/Started execution nightly-/);
    expect(second.stderr).not.toMatch(/Attached/);
    const names = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: passArn })))
      .executions!.map((e) => e.name!)
      .filter((n) => n.startsWith('nightly-'));
    expect(new Set(names).size).toBe(2);
  });

  it('re-attaching to an execution of that name with other input is refused: one line, exit 2', async () => {
    const { runIdForInput } = await import('../../workflows-src/action/execution-name.ts');
    const { StartExecutionCommand } = await import('@aws-sdk/client-sfn');
    // Someone else's execution already holds the very name this run would use, with other input.
    const name = runIdForInput('squatted', { region: 'us-east-1', modelId: MODEL });
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: passArn,
        name,
        input: JSON.stringify({ runId: name, region: 'us-west-2', modelId: MODEL }),
      }),
    );
    const r = await run([
      '--state-machine-arn',
      passArn,
      '--region',
      'us-east-1',
      '--model',
      MODEL,
      '--run-id',
      'squatted',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(
      /already exists with other input \(region differ\): use another run id/,
    );
  });

  it('a state machine that does not exist is bad input: one line naming it, exit 2', async () => {
    const missing = passArn.replace(/:stateMachine:.*/, ':stateMachine:no-such-machine');
    const r = await run(['--state-machine-arn', missing, '--region', 'us-east-1', '--model', MODEL]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/no-such-machine does not exist/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('missing AWS credentials get their own exit status (4) and one line saying so', async () => {
    const keep = { ...process.env };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    Object.assign(process.env, {
      AWS_PROFILE: 'plv-no-such-profile',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      const r = await run(['--state-machine-arn', passArn, '--region', 'us-east-1', '--model', MODEL]);
      expect(r.code).toBe(4);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/AWS credentials missing or refused/);
    } finally {
      process.env = keep;
    }
  });

  it.each([
    [[], '--state-machine-arn is required (or --local)'],
    [
      ['--state-machine-arn', 'nope', '--region', 'us-east-1', '--model', MODEL],
      '--state-machine-arn "nope" is not a state machine ARN',
    ],
    [['--local', '--region', 'mars-1'], '--region "mars-1": region must be an AWS region code'],
    // Looks like a region, is not one: refused by the same rule as `local` and the execution input.
    [['--local', '--region', 'us-east-9'], '--region "us-east-9": region is not an AWS region'],
    [['--local', '--run-id', 'x'.repeat(46)], 'must be 1–45 letters'],
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
