/**
 * A team's perimeter verified live, end to end on the emulator: the spec's policies are the ones
 * written, every matrix cell is observed, a failed cell fails the run, an unobservable one makes
 * it `error`, and a pull request that changes the endpoint policy flips exactly the cells it
 * should. Each run is the whole product (bundled tasks, the ASL) with nothing left behind.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runSpecLocally, type SpecRunResult } from '../../cli/local-spec.ts';
import type { MatrixCell } from '../../statemachine/contract.ts';
import { ALLOWED, HAIKU, repoWith, SONNET } from '../perimeter/helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function verify(
  file: string,
  runId: string,
  repoRoot = ROOT,
  allowedModels: string[] = ALLOWED,
): Promise<SpecRunResult> {
  return runSpecLocally(
    {
      scenario: 'correct',
      input: { runId, region: 'us-east-1', modelId: HAIKU },
      profile: 'instant',
      json: false,
      quiet: true,
      spec: { file, allowedModels, repoRoot },
    },
    () => {},
  );
}

const byRow = (cells: readonly MatrixCell[] | undefined) =>
  Object.fromEntries((cells ?? []).map((c) => [`${c.row}/${c.model}`, c.result]));

/** A team spec: the workload and an analytics role, the endpoint policy naming `principals`. */
function teamSpec(principals: string[]): string {
  const endpoint = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'TeamInvokes',
        Effect: 'Allow',
        Principal: '*',
        Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
        Resource: '${ModelArns}',
        Condition: { ArnEquals: { 'aws:PrincipalArn': principals } },
      },
    ],
  };
  const identity = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'bedrock:InvokeModel',
        Resource: 'arn:${Partition}:bedrock:*::foundation-model/*',
        Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
      },
    ],
  };
  return [
    'version: 1',
    `models: [${HAIKU}]`,
    'roles:',
    '  - name: analytics',
    `    identityPolicy: { inline: ${JSON.stringify(identity)} }`,
    'policies:',
    `  endpoint: { inline: ${JSON.stringify(endpoint)} }`,
    'matrix:',
    '  - { name: workload-allowed, expect: allowed }',
    '  - { name: analytics-allowed, caller: analytics, expect: allowed }',
    '  - { name: bystander-refused, caller: bystander, expect: denied-by-endpoint-policy }',
    '  - { name: unlisted-refused, model: unlisted, expect: denied-by-endpoint-policy }',
    '  - { name: analytics-outside-refused, caller: analytics, from: outside, expect: denied-by-identity-policy }',
    '  - { name: deny-refuses-analytics, caller: analytics, phase: after-deny, expect: denied-by-endpoint-policy }',
    '',
  ].join('\n');
}

describe('a perimeter spec verified live on the emulator', () => {
  it('the walkthrough example: every default row observed as expected, the run passes, nothing left', async () => {
    const r = await verify(join(ROOT, 'examples/walkthrough.yml'), 'pm-walkthrough');
    expect(r.exitCode).toBe(0);
    const [report] = r.reports;
    expect(report!.verdict).toBe('pass');
    expect(report!.outcome).toBe('pass');
    expect(report!.specFile).toBe('examples/walkthrough.yml');
    expect(byRow(report!.matrix)).toEqual({
      [`workload-in-vpc-allowed/${HAIKU}`]: 'passed',
      [`workload-outside-refused/${HAIKU}`]: 'passed',
      [`bystander-in-vpc-refused/${HAIKU}`]: 'passed',
      // The first model the stack allows that the spec does not name (ALLOWED's order).
      [`unlisted-model-refused/${SONNET}`]: 'passed',
      [`run-deny-refuses/${HAIKU}`]: 'passed',
    });
    expect(r.results[0]!.leftovers).toEqual([]);
  });

  it('the deliberately failing example fails exactly its two rows, and its extra role is created and removed', async () => {
    const r = await verify(join(ROOT, 'examples/deliberately-failing.yml'), 'pm-failing');
    expect(r.exitCode).toBe(1);
    const [report] = r.reports;
    expect(report!.verdict).toBe('fail');
    const failed = report!.matrix!.filter((c) => c.result === 'failed');
    expect(failed.map((c) => c.row)).toEqual(['analytics-allowed', 'outside-allowed']);
    expect(failed[0]!.observed).toBe('not-allowed-by-endpoint-policy');
    expect(failed[1]!.observed).toBe('denied-by-identity-policy');
    // Failures first, then the rest, all observed.
    expect(report!.matrix!.slice(2).every((c) => c.result === 'passed')).toBe(true);
    // The obligations themselves hold: the failure is the team's matrix, not the product's proof.
    expect(report!.obligations.every((o) => o.result === 'passed')).toBe(true);
    expect(report!.summary).toMatch(/^Failed: matrix analytics-allowed/);
    expect(r.results[0]!.leftovers).toEqual([]);
  });

  it('a pull request that adds the analytics role to the endpoint policy flips exactly its cell', async () => {
    const base = repoWith({ 'privatelink-verify.yml': teamSpec(['${WorkloadRoleArn}']) });
    const head = repoWith({
      'privatelink-verify.yml': teamSpec(['${WorkloadRoleArn}', '${RoleArn:analytics}']),
    });
    const [before, after] = [
      await verify(join(base, 'privatelink-verify.yml'), 'pm-flip-base', base),
      await verify(join(head, 'privatelink-verify.yml'), 'pm-flip-head', head),
    ];
    const b = byRow(before.reports[0]!.matrix);
    const a = byRow(after.reports[0]!.matrix);
    const flipped = Object.keys(a).filter((k) => a[k] !== b[k]);
    expect(flipped).toEqual([`analytics-allowed/${HAIKU}`]);
    expect(b[`analytics-allowed/${HAIKU}`]).toBe('failed');
    expect(a[`analytics-allowed/${HAIKU}`]).toBe('passed');
    // The unchanged cells are observed alike in both, not merely absent.
    expect(Object.keys(a)).toHaveLength(6);
    expect(Object.values(a).every((v) => v === 'passed')).toBe(true);
    expect(before.reports[0]!.verdict).toBe('fail');
    expect(after.reports[0]!.verdict).toBe('pass');
    expect([...before.results, ...after.results].flatMap((x) => x.leftovers)).toEqual([]);
  });

  it('a row whose refusal is hidden by another policy is could-not-verify, and the run error, never fail', async () => {
    // The row says analytics's own identity policy refuses it inside the VPC. The endpoint policy,
    // which does not name analytics, refuses it first (AWS names one reason), so the call cannot
    // show what the identity policy does.
    const spec = teamSpec(['${WorkloadRoleArn}'])
      .replace('foundation-model/*', 'foundation-model/amazon.titan-text-express-v1')
      .replace(
        /matrix:[\s\S]*$/,
        'matrix:\n  - { name: workload-allowed, expect: allowed }\n  - { name: bystander-refused, caller: bystander, expect: denied-by-endpoint-policy }\n  - { name: analytics-refused, caller: analytics, expect: denied-by-identity-policy }\n',
      );
    const repo = repoWith({ 'privatelink-verify.yml': spec });
    const r = await verify(join(repo, 'privatelink-verify.yml'), 'pm-hidden', repo);
    // Statically predicted to fail (a prediction is no evidence: the run goes on); live, not observed.
    expect(r.static.findings.map((f) => f.rule)).toEqual(['row-will-fail']);
    const [report] = r.reports;
    const cell = report!.matrix!.find((c) => c.row === 'analytics-refused')!;
    expect(cell.result).toBe('could-not-verify');
    expect(cell.observed).toBe('not-allowed-by-endpoint-policy');
    expect(cell.reason).toMatch(/hides whether the row holds/);
    expect(report!.verdict).toBe('error');
    expect(r.exitCode).toBe(3);
    expect(r.results[0]!.leftovers).toEqual([]);
  });

  it('the team example: two models (one an inference profile), Converse and streaming rows, an extra role; every cell holds', async () => {
    const r = await verify(join(ROOT, 'examples/team-perimeter.yml'), 'pm-team');
    const [report] = r.reports;
    expect(report!.verdict).toBe('pass');
    const cells = report!.matrix!;
    expect(cells.filter((c) => c.result === 'passed')).toHaveLength(13);
    expect(cells.filter((c) => c.result === 'skipped').map((c) => c.row)).toEqual([
      'count-tokens',
      'count-tokens',
    ]);
    expect(new Set(cells.filter((c) => c.result === 'passed').map((c) => c.action))).toEqual(
      new Set(['InvokeModel', 'InvokeModelWithResponseStream', 'Converse']),
    );
    expect(report!.resources.map((x) => x.id)).toContain('plv-by-pm-team.x1');
    expect(r.results[0]!.leftovers).toEqual([]);
  });

  it('a spec with two regions runs one execution per region, each with its own run id', async () => {
    const repo = repoWith({
      'privatelink-verify.yml': `version: 1\nregions: [us-east-1, us-west-2]\nmodels: [${HAIKU}]\n`,
    });
    const r = await verify(join(repo, 'privatelink-verify.yml'), 'pm-regions', repo);
    expect(r.reports.map((x) => [x.region, x.runId, x.verdict])).toEqual([
      ['us-east-1', 'pm-regions-us-east-1', 'pass'],
      ['us-west-2', 'pm-regions-us-west-2', 'pass'],
    ]);
    expect(r.exitCode).toBe(0);
  });

  it('a spec asking for a model outside the boundary is refused before anything is created', async () => {
    const r = await verify(join(ROOT, 'examples/team-perimeter.yml'), 'pm-boundary', ROOT, [HAIKU]);
    expect(r.exitCode).toBe(2);
    expect(r.results).toEqual([]);
    expect(r.static.findings.map((f) => f.rule)).toContain('model-outside-boundary');
  });
});
