/**
 * The bundled action (dist/index.js, as the runner executes it) against the emulator and a GitHub
 * API stand-in: where the verdict lands, how often, and how the step ends.
 */
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ReportSchema } from '../../statemachine/contract.ts';
import { COMMENT_MARKER, ISSUE_MARKER } from '../../workflows-src/action/github.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import {
  type ActionEnv,
  deployFixture,
  fixtureReport,
  MODEL,
  pullRequestPayload,
  runBundledAction,
} from './fixtures.ts';
import { BOT, GitHubStandIn } from './github-stand-in.ts';

let emu: Emulator;
let gh: GitHubStandIn;
let sfn: SFNClient;
let passArn: string;
let failArn: string;

beforeAll(async () => {
  emu = await startTestEmulator();
  gh = await GitHubStandIn.start();
  sfn = new SFNClient(adminClientConfig(emu));
  passArn = await deployFixture(emu, fixtureReport('pass'));
  failArn = await deployFixture(emu, fixtureReport('fail'));
});

afterAll(async () => {
  await gh?.close();
  await emu?.close();
});

beforeEach(() => gh.reset());

function env(
  stateMachineArn: string,
  over: Partial<ActionEnv> = {},
  inputs: Record<string, string> = {},
): ActionEnv {
  return {
    emulatorUrl: emu.url,
    githubUrl: gh.url,
    event: 'pull_request',
    payload: pullRequestPayload(42),
    ...over,
    inputs: {
      'state-machine-arn': stateMachineArn,
      region: 'us-east-1',
      'model-id': MODEL,
      wait: 'complete',
      'github-token': 'ghs_standin',
      'poll-interval-seconds': '0.02',
      'timeout-minutes': '2',
      ...inputs,
    },
  };
}

async function executionsOf(stateMachineArn: string) {
  return (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
}

describe('pull request comment', () => {
  it('creates one comment on the first run and updates that same comment on the next run', async () => {
    // Someone else quoting our marker must never be edited.
    const foreign = gh.addComment(42, `${COMMENT_MARKER} quoted by a human`, {
      login: 'octocat',
      type: 'User',
    });

    const first = await runBundledAction(env(passArn, { runId: '8101' }));
    expect(first.code, first.stdout).toBe(0);
    const ours = gh.comments.filter((c) => c.user.login === BOT.login);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(ours[0]!.body).toContain('PrivateLink verification passed');
    expect(gh.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      'POST /repos/octo-org/bedrock-platform/issues/42/comments',
    ]);

    gh.requests.length = 0;
    const second = await runBundledAction(env(failArn, { runId: '8102' }));
    expect(second.code).toBe(1);
    const after = gh.comments.filter((c) => c.user.login === BOT.login);
    expect(after).toHaveLength(1);
    expect(after[0]!.id).toBe(ours[0]!.id);
    expect(after[0]!.body).toContain('PrivateLink verification failed');
    // Updated once, at the end: not once per poll.
    expect(gh.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      `PATCH /repos/octo-org/bedrock-platform/issues/comments/${ours[0]!.id}`,
    ]);
    expect(foreign.body).toBe(`${COMMENT_MARKER} quoted by a human`);
  });

  it('sets the outputs and always writes the job summary', async () => {
    const run = await runBundledAction(env(passArn, { runId: '8201' }));
    expect(run.code).toBe(0);
    expect(run.outputs.verdict).toBe('pass');
    expect(run.outputs['execution-arn']).toMatch(
      /^arn:aws:states:us-east-1:\d{12}:execution:fixture-pass-\d+:bedrock-platform-8201-1-[0-9a-f]{8}$/,
    );
    const report = ReportSchema.parse(JSON.parse(run.outputs['report-json']!));
    expect(report.verdict).toBe('pass');
    expect(report.cleanup.status).toBe('complete');
    expect(run.summary).toContain('PrivateLink verification passed');
    expect(run.summary).toContain('vpce-0fixture');
    expect(run.summary).toContain('Policy propagation');
  });

  it('a fork pull request posts nothing, warns, and keeps the job summary', async () => {
    const run = await runBundledAction(
      env(passArn, { runId: '8301', payload: pullRequestPayload(43, { fork: true }) }),
    );
    expect(run.code).toBe(0);
    expect(gh.requests).toEqual([]);
    expect(run.stdout).toMatch(/::warning::.*fork/);
    expect(run.summary).toContain('PrivateLink verification passed');
  });

  it('a token without write permission warns instead of failing the step', async () => {
    gh.writable = false;
    const run = await runBundledAction(env(passArn, { runId: '8351' }));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/::warning::No permission to write/);
    expect(gh.comments).toEqual([]);
    expect(run.summary).toContain('PrivateLink verification passed');
  });

  it('truncates a 70,000-character report under the comment limit with a note', async () => {
    const long = Array.from({ length: 1400 }, (_, i) => `line ${i} ${'x'.repeat(42)}`).join('\n');
    expect(long.length).toBeGreaterThan(70_000);
    const bigArn = await deployFixture(emu, fixtureReport('pass', { summary: long }));
    const run = await runBundledAction(env(bigArn, { runId: '8401' }));
    expect(run.code, run.stdout).toBe(0);
    const [comment] = gh.comments;
    expect(comment).toBeDefined();
    expect(comment!.body.length).toBeLessThanOrEqual(65_536);
    expect(comment!.body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(comment!.body).toMatch(/Report truncated.*characters were cut.*job summary/s);
    // The job summary keeps everything.
    expect(run.summary).toContain('line 1399');
  });

  it('comments on the pull request named by pr-number when the event has none (workflow_dispatch)', async () => {
    const run = await runBundledAction(
      env(
        passArn,
        { runId: '8451', event: 'workflow_dispatch', payload: { inputs: { 'pr-number': '77' } } },
        { 'pr-number': '77' },
      ),
    );
    expect(run.code).toBe(0);
    expect(gh.comments.map((c) => c.issueNumber)).toEqual([77]);
  });
});

describe('how the step ends', () => {
  it('a failing verification fails the step and says which check failed and why', async () => {
    const run = await runBundledAction(env(failArn, { runId: '8501' }));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /::error::Verification failed: obligation "own-deny-refuses-stably" failed: the endpoint policy Deny was not enforced/,
    );
    expect(run.outputs.verdict).toBe('fail');
  });

  it('an infrastructure error fails the step and names the stage and the error', async () => {
    const broken = await deployFixture(
      emu,
      fixtureReport('error', {
        checks: [],
        failure: {
          stage: 'network',
          error: 'VpcLimitExceeded',
          cause: 'The maximum number of VPCs has been reached.',
        },
      }),
    );
    const run = await runBundledAction(env(broken, { runId: '8551' }));
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('error');
    expect(run.stdout).toContain(
      '::error::Could not verify: the run stopped at stage "network" with VpcLimitExceeded: The maximum number of VPCs has been reached.',
    );
  });

  it('in verdict mode returns at VerdictKnown and leaves cleanup running', async () => {
    // 3600 virtual seconds of cleanup: seconds of real time with the instant profile.
    const slow = await deployFixture(emu, fixtureReport('pass'), { cleanupSeconds: 3600 });
    const run = await runBundledAction(env(slow, { runId: '8601' }, { wait: 'verdict' }));
    expect(run.code, run.stdout).toBe(0);
    const report = ReportSchema.parse(JSON.parse(run.outputs['report-json']!));
    expect(report.cleanup.status).toBe('not-started');
    expect(run.summary).toContain('running (the execution cleans up after the verdict)');
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: run.outputs['execution-arn']! }),
    );
    expect(described.status).toBe('RUNNING');
    expect(gh.writes()).toHaveLength(1);
  });

  it('gives up at the timeout without a verdict, fails the step, and leaves the execution running', async () => {
    const stuck = await deployFixture(emu, fixtureReport('pass'), { verdictAfterSeconds: 3600 });
    const run = await runBundledAction(env(stuck, { runId: '8631' }, { 'timeout-minutes': '0.003' }));
    expect(run.code).toBe(1);
    expect(run.outputs.verdict).toBe('error');
    expect(run.stdout).toMatch(
      /::error::No verdict within 0\.2 s; the execution keeps running and cleans up after itself: arn:aws:states:/,
    );
    const described = await sfn.send(
      new DescribeExecutionCommand({ executionArn: run.outputs['execution-arn']! }),
    );
    expect(described.status).toBe('RUNNING');
    expect(run.summary).toContain('could not complete');
  });

  it('logs each state entered and left, in groups', async () => {
    const run = await runBundledAction(env(passArn, { runId: '8651' }, { comment: 'off' }));
    expect(run.stdout).toMatch(/::group::Start/);
    expect(run.stdout).toMatch(/▶ VerdictKnown entered \+\d+\.\ds/);
    expect(run.stdout).toMatch(/■ VerdictKnown left after \d+\.\ds \+\d+\.\ds/);
    expect(run.stdout).toContain('::endgroup::');
    expect(gh.requests).toEqual([]);
  });

  it('on SIGTERM logs the execution and its console link and does not stop the execution', async () => {
    const slow = await deployFixture(emu, fixtureReport('pass'), { cleanupSeconds: 3600 });
    const run = await runBundledAction(env(slow, { runId: '8701' }), {
      match: /Started execution/,
      signal: 'SIGTERM',
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/Cancelled \(SIGTERM\)/);
    const arn = /Execution: (arn:aws:states:\S+)/.exec(run.stdout)?.[1];
    expect(arn).toBeDefined();
    expect(run.stdout).toContain(
      'console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/',
    );
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: arn! }));
    expect(described.status).not.toBe('ABORTED');
    expect(gh.requests).toEqual([]);
  });
});

describe('when AWS refuses', () => {
  it('a state machine that does not exist fails the step with the AWS error and says so in the summary', async () => {
    const missing = 'arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist';
    const run = await runBundledAction(env(missing, { runId: '8801' }));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::.*does-not-exist/);
    expect(run.summary).toContain('could not run');
    expect(gh.requests).toEqual([]);
  });
});

describe('scheduled runs', () => {
  it('a failed nightly run opens one issue, a second failure updates it, and a later pass closes it', async () => {
    const schedule = (arn: string, runId: string) =>
      env(arn, { runId, event: 'schedule', payload: { schedule: '17 3 * * *' } });

    const failed = await runBundledAction(schedule(failArn, '9001'));
    expect(failed.code).toBe(1);
    expect(gh.issues).toHaveLength(1);
    const issue = gh.issues[0]!;
    expect(issue.state).toBe('open');
    expect(issue.body).toContain(ISSUE_MARKER);
    expect(issue.body).toContain('PrivateLink verification failed');

    const again = await runBundledAction(schedule(failArn, '9002'));
    expect(again.code).toBe(1);
    expect(gh.issues).toHaveLength(1);
    expect(gh.comments.filter((c) => c.issueNumber === issue.number).map((c) => c.body)).toEqual([
      'Still failing: https://github.com/octo-org/bedrock-platform/actions/runs/9002',
    ]);

    const passed = await runBundledAction(schedule(passArn, '9003'));
    expect(passed.code).toBe(0);
    expect(gh.issues).toHaveLength(1);
    expect(gh.issues[0]!.state).toBe('closed');
    expect(gh.comments.at(-1)!.body).toContain('passes again');
  });

  it('a passing nightly run with no open issue writes nothing', async () => {
    const run = await runBundledAction(env(passArn, { runId: '9101', event: 'schedule', payload: {} }));
    expect(run.code).toBe(0);
    expect(gh.writes()).toEqual([]);
  });
});

describe('input validation in the bundled action', () => {
  it('a bad input fails the step with a clear message and starts no execution', async () => {
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(
      env(passArn, { runId: '9201' }, { region: 'moon-1', wait: 'forever' }),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      '::error::Invalid input: region "moon-1": region must be an AWS region code such as us-east-1;',
    );
    expect(run.stdout).toContain('wait "forever" must be one of: verdict, complete');
    expect(run.stdout).toContain('Nothing was started.');
    expect((await executionsOf(passArn)).length).toBe(before);
    expect(gh.requests).toEqual([]);
  });
});
