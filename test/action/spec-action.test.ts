/**
 * The bundled action with a perimeter spec in the workspace, against the emulator and the GitHub
 * stand-in: static errors start nothing, each region of the spec is its own execution carrying
 * the perimeter, the step's outcome is the worst region's, and the outputs and files say so.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import {
  EXECUTION_ERRORS,
  type MatrixCell,
  type Report,
  ReportSchema,
  STATE_NAMES,
} from '../../statemachine/contract.ts';
import { adminClientConfig, ensureServiceRole, startTestEmulator } from '../helpers/emulator.ts';
import { type ActionEnv, fixtureReport, MODEL, pullRequestPayload, runBundledAction } from './fixtures.ts';
import { GitHubStandIn } from './github-stand-in.ts';

const TITAN = 'amazon.titan-text-express-v1';
const OUTSIDE = 'anthropic.claude-3-opus-20240229-v1:0';

let emu: Emulator;
let gh: GitHubStandIn;
let sfn: SFNClient;
/** us-east-1 passes, eu-west-1 fails (a failed matrix cell), any other region passes. */
let mixedArn: string;
/** Every region passes. */
let passArn: string;

function cell(over: Partial<MatrixCell>): MatrixCell {
  return {
    row: 'row 1',
    index: 0,
    caller: 'workload',
    from: 'vpc',
    model: MODEL,
    action: 'InvokeModel',
    phase: 'allow-policy',
    expect: 'allowed',
    result: 'passed',
    observed: 'allowed',
    reason: 'answered through the endpoint',
    evidence: [],
    tags: [],
    ...over,
  };
}

function regionReport(region: string, verdict: Report['verdict']): Report {
  return fixtureReport(verdict, {
    region,
    runId: `fixture-${region}`,
    specFile: 'privatelink-verify.yml',
    matrix:
      verdict === 'pass'
        ? [cell({})]
        : [
            cell({
              result: 'failed',
              observed: 'denied-by-endpoint-policy',
              reason: 'the endpoint policy refused the workload in eu-west-1',
            }),
          ],
  });
}

/**
 * A fixture state machine whose report depends on the input's region: a Choice picks the region's
 * report, VerdictKnown emits it, and the end is that region's final report (output or Fail cause).
 */
function regionFixture(verdicts: Record<string, Report['verdict']>, fallback: Report['verdict']): string {
  const regions = Object.keys(verdicts);
  const states: Record<string, unknown> = {
    Start: { Type: 'Pass', Parameters: { 'region.$': '$.region' }, Next: 'PickRegion' },
    PickRegion: {
      Type: 'Choice',
      Choices: regions.map((r, i) => ({ Variable: '$.region', StringEquals: r, Next: `Pick${i}` })),
      Default: 'PickOther',
    },
    [STATE_NAMES.verdictKnown]: { Type: 'Pass', Next: 'Cleanup' },
    Cleanup: { Type: 'Wait', Seconds: 1, Next: STATE_NAMES.report },
    [STATE_NAMES.report]: {
      Type: 'Choice',
      Choices: regions.map((r, i) => ({ Variable: '$.region', StringEquals: r, Next: `End${i}` })),
      Default: 'EndOther',
    },
  };
  const branch = (key: string, region: string, verdict: Report['verdict']) => {
    const report = regionReport(region, verdict);
    const final = { ...report, cleanup: { status: 'complete', leftovers: [] } };
    states[`Pick${key}`] = {
      Type: 'Pass',
      Result: { region, verdict: report },
      Next: STATE_NAMES.verdictKnown,
    };
    states[`End${key}`] =
      verdict === 'pass'
        ? { Type: 'Pass', Result: final, End: true }
        : {
            Type: 'Fail',
            Error: verdict === 'fail' ? EXECUTION_ERRORS.verificationFailed : EXECUTION_ERRORS.infrastructure,
            Cause: JSON.stringify(final),
          };
  };
  for (const [i, r] of regions.entries()) branch(String(i), r, verdicts[r]!);
  branch('Other', 'us-east-1', fallback);
  return JSON.stringify({ Comment: 'FIXTURE: a report per region', StartAt: 'Start', States: states });
}

let machines = 0;
async function deployRegionFixture(
  verdicts: Record<string, Report['verdict']>,
  fallback: Report['verdict'] = 'pass',
): Promise<string> {
  const out = await sfn.send(
    new CreateStateMachineCommand({
      name: `fixture-regions-${++machines}`,
      definition: regionFixture(verdicts, fallback),
      roleArn: await ensureServiceRole(emu, 'fixture-states', 'states.amazonaws.com'),
    }),
  );
  return out.stateMachineArn!;
}

beforeAll(async () => {
  emu = await startTestEmulator();
  gh = await GitHubStandIn.start();
  sfn = new SFNClient(adminClientConfig(emu));
  mixedArn = await deployRegionFixture({ 'us-east-1': 'pass', 'eu-west-1': 'fail' });
  passArn = await deployRegionFixture({ 'us-east-1': 'pass', 'eu-west-1': 'pass' });
});

afterAll(async () => {
  await gh?.close();
  await emu?.close();
});

beforeEach(() => gh.reset());

/** A workspace holding `files` (path → text), as actions/checkout leaves it. */
function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'plv-ws-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function spec(regions: string[], models: string[] = [MODEL]): string {
  return `version: 1\nregions: [${regions.join(', ')}]\nmodels:\n${models.map((m) => `  - ${m}\n`).join('')}`;
}

function env(
  stateMachineArn: string,
  ws: string,
  runId: string,
  inputs: Record<string, string> = {},
): ActionEnv {
  return {
    emulatorUrl: emu.url,
    githubUrl: gh.url,
    event: 'pull_request',
    payload: pullRequestPayload(42),
    runId,
    workspace: ws,
    inputs: {
      'state-machine-arn': stateMachineArn,
      wait: 'complete',
      'github-token': 'ghs_standin',
      'poll-interval-seconds': '0.02',
      'timeout-minutes': '2',
      'allowed-models': `${MODEL},${TITAN}`,
      ...inputs,
    },
  };
}

async function executionsOf(stateMachineArn: string) {
  return (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions ?? [];
}

async function inputOf(executionArn: string): Promise<Record<string, any>> {
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  return JSON.parse(d.input ?? '{}');
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
function testcases(junitFile: string): any[] {
  const doc = xml.parse(readFileSync(junitFile, 'utf8'));
  const suites = [doc.testsuites?.testsuite].flat().filter(Boolean);
  return suites.flatMap((s: any) => [s.testcase].flat().filter(Boolean));
}

describe('a spec that cannot run', () => {
  it('starts nothing, fails the step with one line per finding at its file:line:col, and still writes SARIF and JUnit', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1'], [MODEL, OUTSIDE]) });
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(env(passArn, ws, '9501'));
    expect(run.code, run.stdout).toBe(1);
    // Line 5, column 5: the second model's list item.
    expect(run.stdout).toMatch(
      new RegExp(
        `::error title=privatelink-verify model-outside-boundary,file=privatelink-verify.yml,line=5,col=5::privatelink-verify.yml:5:5: \\[model-outside-boundary\\] model ${OUTSIDE.replaceAll('.', '\\.')} is outside the probe boundary`,
      ),
    );
    expect(run.stdout).toContain(
      '::error::The perimeter spec privatelink-verify.yml cannot run (1 error(s), each above). Nothing was started.',
    );
    expect((await executionsOf(passArn)).length).toBe(before);
    expect(run.outputs.outcome).toBe('error');
    expect(run.outputs['report-json']).toBe('');
    expect(JSON.parse(run.outputs['reports-json']!)).toEqual([]);
    const sarif = JSON.parse(readFileSync(run.outputs['sarif-file']!, 'utf8'));
    expect(sarif.version).toBe('2.1.0');
    const result = sarif.runs[0].results.find((r: any) => r.ruleId === 'model-outside-boundary');
    expect(result.locations[0].physicalLocation.region).toMatchObject({ startLine: 5, startColumn: 5 });
    expect(run.outputs['sarif-file']!.startsWith(join(run.outputs['junit-file']!, '..'))).toBe(true);
    const failed = testcases(run.outputs['junit-file']!).filter((t) => t.failure);
    expect(failed.map((t) => t.name)).toEqual(['the spec is valid and can run']);
    // The author sees why on the pull request.
    expect(gh.comments[0]!.body).toContain('cannot run: nothing was started');
    expect(run.summary).toContain('model-outside-boundary');
  });

  it('the same spec with that model allowed runs (the refusal above is the boundary, not the spec)', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1'], [MODEL, OUTSIDE]) });
    const run = await runBundledAction(env(passArn, ws, '9502', { 'allowed-models': `${MODEL} ${OUTSIDE}` }));
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.outputs['execution-arns']!)).toHaveLength(1);
  });

  it("without allowed-models it takes the stack's from the workspace's cdk.json, else the stack default", async () => {
    const cdk = JSON.stringify({ context: { 'privatelink-verify:allowedModels': [MODEL] } });
    const specText = spec(['us-east-1'], [MODEL, TITAN]);
    const noInput = (ws: string, runId: string) => {
      const e = env(passArn, ws, runId);
      delete e.inputs['allowed-models'];
      return e;
    };
    // cdk.json names only Haiku: Titan is outside this stack's boundary.
    const narrow = await runBundledAction(
      noInput(workspace({ 'privatelink-verify.yml': specText, 'cdk.json': cdk }), '9511'),
    );
    expect(narrow.code).toBe(1);
    expect(narrow.stdout).toContain(
      `model ${TITAN} is outside the probe boundary's allowed models (${MODEL})`,
    );
    // No cdk.json: the stack default, which names Titan too.
    const fallback = await runBundledAction(
      noInput(workspace({ 'privatelink-verify.yml': specText }), '9512'),
    );
    expect(fallback.code, fallback.stdout).toBe(0);
  });

  it('IAM Access Analyzer ValidatePolicy runs before anything starts: its ERROR stops the run at the policy file line', async () => {
    // "bedrock:InvokeModle" passes the grammar check (any service:action shape) but Access Analyzer
    // knows no such action: INVALID_ACTION, an ERROR (the emulator answers as perimeter/access-analyzer.ts expects).
    const identity = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'bedrock:InvokeModle',
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
        },
      ],
    };
    const ws = workspace({
      'privatelink-verify.yml': `${spec(['us-east-1'])}policies:\n  identity: { file: identity.json }\nmatrix:\n  - { expect: denied-by-identity-policy, from: outside }\n`,
      'identity.json': JSON.stringify(identity, null, 2),
    });
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(env(passArn, ws, '9510'));
    expect(run.code, run.stdout).toBe(1);
    expect(run.stdout).toMatch(/identity\.json:\d+:\d+: \[access-analyzer-error\][^\n]*INVALID_ACTION/);
    expect(run.stdout).toContain('Nothing was started.');
    expect((await executionsOf(passArn)).length).toBe(before);
  });

  it('a schema error names its line and column', async () => {
    const ws = workspace({ 'privatelink-verify.yml': `${spec(['us-east-1'])}colour: blue\n` });
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(env(passArn, ws, '9503'));
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /::error title=privatelink-verify spec-schema,file=privatelink-verify\.yml,line=1,col=1::privatelink-verify\.yml:1:1: \[spec-schema\] .*unknown key "colour"/,
    );
    expect(run.stdout).toContain('::error::The perimeter spec privatelink-verify.yml cannot run');
    expect((await executionsOf(passArn)).length).toBe(before);
  });

  it('a model-id input outside the spec is refused; a region input outside the spec too', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1']) });
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(env(passArn, ws, '9504', { 'model-id': TITAN, region: 'eu-west-1' }));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`the model-id input ${TITAN} is not one of the spec's models`);
    expect(run.stdout).toContain("the region input eu-west-1 is not one of the spec's regions (us-east-1)");
    expect((await executionsOf(passArn)).length).toBe(before);
  });

  it('a spec that is a symlink out of the workspace is refused and never read', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'plv-outside-'));
    writeFileSync(join(outside, 'secret.yml'), spec(['us-east-1']));
    const ws = workspace({});
    symlinkSync(join(outside, 'secret.yml'), join(ws, 'privatelink-verify.yml'));
    const run = await runBundledAction(env(passArn, ws, '9505'));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('the spec file resolves outside the workspace');
  });

  it("a spec named explicitly must exist; the default one may be absent (today's run)", async () => {
    const ws = workspace({});
    const named = await runBundledAction(env(passArn, ws, '9506', { spec: 'team/perimeter.yml' }));
    expect(named.code).toBe(1);
    expect(named.stdout).toContain('spec "team/perimeter.yml" does not exist in the workspace');
    expect(named.stdout).toContain('Nothing was started.');
    const absent = await runBundledAction(env(passArn, ws, '9507'));
    expect(absent.code).toBe(1);
    expect(absent.stdout).toContain('region is required (or a spec that names regions)');
    const today = await runBundledAction(
      env(passArn, ws, '9508', { region: 'us-east-1', 'model-id': MODEL }),
    );
    expect(today.code, today.stdout).toBe(0);
    expect(await inputOf(today.outputs['execution-arn']!)).not.toHaveProperty('perimeter');
    expect(today.outputs['junit-file'] ?? '').toBe('');
  });
});

describe("a fork's pull request", () => {
  it('gets its spec checked statically and nothing started, even when the workflow runs the action', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1']) });
    const before = (await executionsOf(passArn)).length;
    const e = { ...env(passArn, ws, '9701'), payload: pullRequestPayload(43, { fork: true }) };
    const run = await runBundledAction(e);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/::notice title=PrivateLink verification skipped::.*not verified live/);
    expect((await executionsOf(passArn)).length).toBe(before);
    expect(gh.requests).toEqual([]);
    expect(run.summary).toContain('checked, not verified live');
    expect(run.outputs.outcome).toBeUndefined();
    expect(testcases(run.outputs['junit-file']!).length).toBeGreaterThan(0);
    // The same spec from this repository's own branch runs.
    const own = await runBundledAction(env(passArn, ws, '9702'));
    expect(own.code, own.stdout).toBe(0);
    expect((await executionsOf(passArn)).length).toBe(before + 1);
  });

  it('with a spec that cannot run still fails the step', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1'], [OUTSIDE]) });
    const e = { ...env(passArn, ws, '9703'), payload: pullRequestPayload(43, { fork: true }) };
    const run = await runBundledAction(e);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('[model-outside-boundary]');
  });
});

describe('a spec of two regions', () => {
  it('starts one execution per region, each with the perimeter, its region and the first model, under names of its own', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1', 'eu-west-1'], [MODEL, TITAN]) });
    const before = (await executionsOf(passArn)).length;
    const run = await runBundledAction(env(passArn, ws, '9601'));
    expect(run.code, run.stdout).toBe(0);
    const arns: string[] = JSON.parse(run.outputs['execution-arns']!);
    expect(arns).toHaveLength(2);
    expect((await executionsOf(passArn)).length).toBe(before + 2);
    const inputs = await Promise.all(arns.map(inputOf));
    expect(inputs.map((i) => i.region)).toEqual(['us-east-1', 'eu-west-1']);
    for (const [i, input] of inputs.entries()) {
      expect(input.modelId).toBe(MODEL);
      expect(input.perimeter.models).toEqual([MODEL, TITAN]);
      expect(input.perimeter.specFile).toBe('privatelink-verify.yml');
      expect(input.perimeter.matrix.length).toBeGreaterThan(0);
      // The run id is the execution name: resources of the two regions never share a name.
      expect(arns[i]!.endsWith(`:${input.runId}`)).toBe(true);
    }
    expect(inputs[0]!.runId).not.toBe(inputs[1]!.runId);
    // Both regions log, each line saying which.
    expect(run.stdout).toMatch(/\[us-east-1\] Started execution/);
    expect(run.stdout).toMatch(/\[eu-west-1\] Started execution/);

    // The same workflow run again: the same names, attached to, nothing new started.
    const again = await runBundledAction(env(passArn, ws, '9601'));
    expect(again.code, again.stdout).toBe(0);
    expect(JSON.parse(again.outputs['execution-arns']!)).toEqual(arns);
    expect((await executionsOf(passArn)).length).toBe(before + 2);
    expect(again.stdout).toContain('Attached to the existing execution');
  });

  it('the worst region decides: us-east-1 passes, eu-west-1 fails, the step fails and names the region', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1', 'eu-west-1']) });
    const run = await runBundledAction(env(mixedArn, ws, '9602'));
    expect(run.code, run.stdout).toBe(1);
    expect(run.outputs.outcome).toBe('fail');
    expect(run.outputs.verdict).toBe('fail');
    expect(run.stdout).toMatch(
      /::error::\[us-east-1\] pass: Verified: .*%0A\[eu-west-1\] fail: Verification failed/,
    );
    // report-json stays one report: the region that decided the outcome.
    const decisive = ReportSchema.parse(JSON.parse(run.outputs['report-json']!));
    expect(decisive.region).toBe('eu-west-1');
    const all = JSON.parse(run.outputs['reports-json']!).map((r: unknown) => ReportSchema.parse(r));
    expect(all.map((r: Report) => [r.region, r.verdict])).toEqual([
      ['us-east-1', 'pass'],
      ['eu-west-1', 'fail'],
    ]);
    const arns: string[] = JSON.parse(run.outputs['execution-arns']!);
    expect(run.outputs['execution-arn']).toBe(arns[1]);
    // One comment with both regions.
    expect(gh.comments).toHaveLength(1);
    expect(gh.comments[0]!.body).toContain('`us-east-1`: ');
    expect(gh.comments[0]!.body).toContain('`eu-west-1`: ');
    // JUnit: one case per observed cell per region (beside the obligations and cleanup); eu-west-1's failed cell fails.
    const cases = testcases(run.outputs['junit-file']!).filter((c) => c.classname.endsWith(MODEL));
    expect(cases.map((c) => [c.classname, Boolean(c.failure)])).toEqual([
      [`privatelink-verify.us-east-1.${MODEL}`, false],
      [`privatelink-verify.eu-west-1.${MODEL}`, true],
    ]);
    expect(JSON.stringify(cases[1].failure)).toContain(
      'the endpoint policy refused the workload in eu-west-1',
    );
  });

  it('the region input picks one region of the spec', async () => {
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1', 'eu-west-1']) });
    const run = await runBundledAction(env(mixedArn, ws, '9603', { region: 'us-east-1' }));
    expect(run.code, run.stdout).toBe(0);
    expect(JSON.parse(run.outputs['execution-arns']!)).toHaveLength(1);
    expect(run.outputs.outcome).toBe('pass');
  });

  it('says what the pull request changes against the base branch spec', async () => {
    const base = workspace({ 'privatelink-verify.yml': spec(['us-east-1']) });
    const ws = workspace({ 'privatelink-verify.yml': spec(['us-east-1'], [MODEL, TITAN]) });
    const run = await runBundledAction(
      env(passArn, ws, '9604', { 'base-spec': join(base, 'privatelink-verify.yml') }),
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.summary).toContain('### What this pull request changes');
    expect(run.summary).toContain(`**added** model ${TITAN}`);
    expect(run.summary).not.toContain(`**added** model ${MODEL}`);
  });
});
