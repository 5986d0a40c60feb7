/**
 * Test fixtures for the action: a FIXTURE state machine of Pass/Wait/Fail states that emits
 * contract-shaped reports the way the product's state machine does (the report at VerdictKnown,
 * then the final report as output or as the Fail cause). It tests the action's start, wait,
 * report and comment behaviour, not the verification itself; the end-to-end test does that.
 * Also: running the bundled dist/index.js as a child process, as the runner does.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { Emulator } from '../../emulator/emulator.ts';
import {
  EXECUTION_ERRORS,
  OBLIGATION_CLAIMS,
  OBLIGATION_ORDER,
  type Report,
  SCHEMA_VERSION,
  STATE_NAMES,
} from '../../statemachine/contract.ts';
import { REPO_ROOT } from '../../workflows-src/build.ts';
import { ensureServiceRole } from '../helpers/emulator.ts';

export const DIST = join(REPO_ROOT, '.github/actions/verify/dist/index.js');
export const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

export function fixtureReport(verdict: Report['verdict'], over: Partial<Report> = {}): Report {
  const probe = {
    hostname: 'bedrock-runtime.us-east-1.amazonaws.com',
    resolvedAddresses: ['10.42.0.37'],
    resolvedPrivate: true,
    modelId: MODEL,
    latencyMs: 210,
    at: '2026-11-24T20:01:00.000Z',
  };
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: 'fixture-run',
    region: 'us-east-1',
    modelId: MODEL,
    accountId: '123456789012',
    verdict,
    summary:
      verdict === 'pass'
        ? 'Bedrock answered through the endpoint, and the endpoint policy refused it after the flip.'
        : 'The endpoint policy did not refuse the call after the flip.',
    obligations: OBLIGATION_ORDER.map((id) => {
      const failed = verdict !== 'pass' && id === 'own-deny-refuses-stably';
      return {
        id,
        claim: OBLIGATION_CLAIMS[id],
        result: failed ? (verdict === 'fail' ? 'failed' : 'could-not-verify') : 'passed',
        observation: failed
          ? 'the endpoint policy Deny was not enforced: InvokeModel kept succeeding after the flip'
          : `observed ${id}`,
        reason: failed
          ? 'the endpoint policy Deny was not enforced: InvokeModel kept succeeding after the flip'
          : `observed ${id}`,
        evidence: failed ? ['flip +5.0 s: allowed (HTTP 200) via 10.42.0.37'] : [`evidence of ${id}`],
        warnings: [],
      };
    }),
    checks: [
      {
        name: 'allow',
        status: 'passed',
        expected: 'allowed',
        observed: 'allowed',
        reason: 'The probe reached Bedrock through the endpoint.',
        attempts: 2,
        elapsedSeconds: 7,
        evidence: { ...probe, outcome: 'allowed', httpStatus: 200 },
        outcomesSeen: ['network-unreachable', 'allowed'],
        observations: [],
      },
      verdict === 'pass'
        ? {
            name: 'deny',
            status: 'passed',
            expected: 'denied-by-endpoint-policy',
            observed: 'denied-by-endpoint-policy',
            reason: 'The endpoint policy refused the call.',
            attempts: 4,
            elapsedSeconds: 31,
            evidence: {
              ...probe,
              outcome: 'denied-by-endpoint-policy',
              httpStatus: 403,
              errorCode: 'AccessDeniedException',
            },
            outcomesSeen: ['allowed', 'denied-by-endpoint-policy'],
            observations: [],
          }
        : {
            name: 'deny',
            status: 'failed',
            expected: 'denied-by-endpoint-policy',
            observed: 'allowed',
            reason: 'The call was still allowed 600 s after the endpoint policy was set to Deny.',
            attempts: 120,
            elapsedSeconds: 600,
            evidence: { ...probe, outcome: 'allowed', httpStatus: 200 },
            outcomesSeen: ['allowed'],
            observations: [],
          },
    ],
    ...(verdict === 'pass' ? { propagationSeconds: 31 } : {}),
    vpcEndpointId: 'vpce-0fixture',
    resources: [
      { type: 'vpc', id: 'vpc-0fixture' },
      { type: 'vpc-endpoint', id: 'vpce-0fixture' },
    ],
    cleanup: { status: 'not-started', leftovers: [] },
    timings: { startedAt: '2026-11-24T20:00:00.000Z', verdictAt: '2026-11-24T20:02:00.000Z' },
    cost: { estimatedUsd: 0.0204, basis: '2 endpoint AZ-hours at $0.01, 40 state transitions' },
    ...over,
  };
}

/**
 * A fixture definition: Start → VerdictKnown (the report with cleanup not started) → Cleanup
 * (a Wait of `cleanupSeconds`, virtual) → the final report as output (pass) or as Fail cause.
 */
export function fixtureDefinition(
  verdictReport: Report,
  opts: { cleanupSeconds?: number; verdictAfterSeconds?: number; finalCleanup?: Report['cleanup'] } = {},
): string {
  const final: Report = {
    ...verdictReport,
    cleanup: opts.finalCleanup ?? { status: 'complete', leftovers: [] },
    timings: { ...verdictReport.timings, finishedAt: '2026-11-24T20:05:00.000Z', totalSeconds: 300 },
  };
  const end =
    verdictReport.verdict === 'pass'
      ? { Type: 'Pass', Result: final, End: true }
      : {
          Type: 'Fail',
          Error:
            verdictReport.verdict === 'fail'
              ? EXECUTION_ERRORS.verificationFailed
              : EXECUTION_ERRORS.infrastructure,
          Cause: JSON.stringify(final),
        };
  return JSON.stringify({
    Comment: 'FIXTURE for the action tests: emits contract-shaped reports without provisioning anything.',
    StartAt: 'Start',
    States: {
      Start: { Type: 'Pass', Parameters: { 'input.$': '$' }, Next: 'Preflight' },
      Preflight: {
        Type: 'Pass',
        Result: { ok: true },
        ResultPath: '$.preflight',
        Next: 'Verifying',
      },
      Verifying: { Type: 'Wait', Seconds: opts.verdictAfterSeconds ?? 0, Next: STATE_NAMES.verdictKnown },
      [STATE_NAMES.verdictKnown]: {
        Type: 'Pass',
        Result: verdictReport,
        ResultPath: '$.verdict',
        Next: 'Cleanup',
      },
      Cleanup: { Type: 'Wait', Seconds: opts.cleanupSeconds ?? 1, Next: STATE_NAMES.report },
      [STATE_NAMES.report]: { Type: 'Pass', Next: 'End' },
      End: end,
    },
  });
}

let machines = 0;

export async function deployFixture(
  emu: Emulator,
  verdictReport: Report,
  opts: { cleanupSeconds?: number; verdictAfterSeconds?: number; finalCleanup?: Report['cleanup'] } = {},
): Promise<string> {
  const sfn = new SFNClient({ ...emu.clientConfig('us-east-1'), maxAttempts: 1 });
  const out = await sfn.send(
    new CreateStateMachineCommand({
      name: `fixture-${verdictReport.verdict}-${++machines}`,
      definition: fixtureDefinition(verdictReport, opts),
      roleArn: await ensureServiceRole(emu, 'fixture-states', 'states.amazonaws.com'),
    }),
  );
  return out.stateMachineArn!;
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

export interface ActionEnv {
  emulatorUrl: string;
  githubUrl: string;
  inputs: Record<string, string>;
  event: string;
  payload: Record<string, unknown>;
  runId?: string;
  runAttempt?: string;
  repository?: string;
  /**
   * The checked-out repository (GITHUB_WORKSPACE and the step's working directory). Default: an
   * empty directory, so no spec is found and the run is today's single region/model run.
   */
  workspace?: string;
}

/** Run dist/index.js the way the runner does: INPUT_* and GITHUB_* variables, files for outputs and summary. */
export async function runBundledAction(
  e: ActionEnv,
  signalAfter?: { match: RegExp; signal: NodeJS.Signals },
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'plv-action-'));
  const files = {
    output: join(dir, 'output'),
    summary: join(dir, 'summary'),
    event: join(dir, 'event.json'),
  };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  writeFileSync(files.event, JSON.stringify(e.payload));
  const workspace = e.workspace ?? join(dir, 'workspace');
  const runnerTemp = join(dir, 'runner-temp');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(runnerTemp, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_ENDPOINT_URL: e.emulatorUrl,
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
    AWS_REGION: 'us-east-1',
    GITHUB_ACTIONS: 'true',
    GITHUB_API_URL: e.githubUrl,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: e.repository ?? 'octo-org/bedrock-platform',
    GITHUB_RUN_ID: e.runId ?? '7001',
    GITHUB_RUN_ATTEMPT: e.runAttempt ?? '1',
    GITHUB_JOB: 'verify',
    GITHUB_EVENT_NAME: e.event,
    GITHUB_EVENT_PATH: files.event,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: runnerTemp,
  };
  for (const [k, v] of Object.entries(e.inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const child = spawn(process.execPath, [DIST], { env, cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString('utf8');
    if (signalAfter && !signalled && signalAfter.match.test(stdout)) {
      signalled = true;
      child.kill(signalAfter.signal);
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(files.output, 'utf8')),
    summary: readFileSync(files.summary, 'utf8'),
  };
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` records. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

export function pullRequestPayload(number: number, opts: { fork?: boolean } = {}) {
  const base = 'octo-org/bedrock-platform';
  const head = opts.fork ? 'someone/bedrock-platform' : base;
  return {
    number,
    repository: { full_name: base, name: 'bedrock-platform', owner: { login: 'octo-org' } },
    pull_request: {
      number,
      head: { repo: { full_name: head, fork: Boolean(opts.fork) } },
      base: { repo: { full_name: base } },
    },
  };
}
