/**
 * Every static check both ways: a spec that breaks the rule gets a finding of that rule at the
 * right place, and the same spec with the rule met gets none.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blockingErrors, predictedFailures, runStaticChecks } from '../../perimeter/check.ts';
import { ALLOWED, HAIKU, MINIMAL, repoWith, SONNET } from './helpers.ts';

async function check(spec: string, files: Record<string, string> = {}, allowedModels = ALLOWED) {
  const root = repoWith({ 'privatelink-verify.yml': spec, ...files });
  return runStaticChecks(join(root, 'privatelink-verify.yml'), { allowedModels, repoRoot: root });
}

const rules = async (spec: string, files?: Record<string, string>) =>
  (await check(spec, files)).findings.map((f) => f.rule);

/** An inline endpoint policy with one statement, as YAML flow JSON. */
function withEndpointStatement(statement: Record<string, unknown>): string {
  return `${MINIMAL}policies:\n  endpoint:\n    inline: ${JSON.stringify({ Version: '2012-10-17', Statement: [statement] })}\n`;
}
function withIdentityStatement(statement: Record<string, unknown>): string {
  return `${MINIMAL}policies:\n  identity:\n    inline: ${JSON.stringify({ Version: '2012-10-17', Statement: [statement] })}\n`;
}

const GOOD_ENDPOINT = {
  Sid: 'Workload',
  Effect: 'Allow',
  Principal: '*',
  Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
  Resource: '${ModelArns}',
  Condition: { ArnEquals: { 'aws:PrincipalArn': '${WorkloadRoleArn}' } },
};
const GOOD_IDENTITY = {
  Effect: 'Allow',
  Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
  Resource: ['arn:${Partition}:bedrock:*::foundation-model/*'],
  Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
};

describe('static checks of a perimeter spec', () => {
  it('the default perimeter passes every check and predicts every default row as expected', async () => {
    const r = await check(MINIMAL);
    expect(r.findings).toEqual([]);
    expect(r.cells.map((c) => `${c.row.name}:${c.prediction.outcome}`)).toEqual([
      'workload-in-vpc-allowed:allowed',
      'workload-outside-refused:denied-by-identity-policy',
      'bystander-in-vpc-refused:denied-by-endpoint-policy',
      `unlisted-model-refused:denied-by-endpoint-policy`,
      'run-deny-refuses:denied-by-endpoint-policy',
    ]);
  });

  it('the good statements used below pass on their own', async () => {
    expect(await rules(withEndpointStatement(GOOD_ENDPOINT))).toEqual([]);
    expect(await rules(withIdentityStatement(GOOD_IDENTITY))).toEqual([]);
  });

  it('an unknown placeholder is named, with the known ones', async () => {
    const r = await check(withEndpointStatement({ ...GOOD_ENDPOINT, Resource: '${ModelArn}' }));
    expect(r.findings[0]).toMatchObject({ rule: 'template-placeholder', level: 'error', at: { line: 5 } });
    expect(r.findings[0]!.message).toMatch(/\$\{ModelArn\}.*\$\{ModelArns\}/);
  });

  it('a perimeter too large for an execution input is refused; the same rows fewer pass', async () => {
    const rows = (n: number) =>
      `matrix:\n${Array.from({ length: n }, (_, i) => `  - { name: workload-allowed-through-the-endpoint-${i}, expect: allowed, tags: [a-rather-long-tag-for-size] }`).join('\n')}\n`;
    expect(await rules(`${MINIMAL}${rows(700)}`)).toContain('spec-too-large');
    expect(await rules(`${MINIMAL}${rows(20)}`)).not.toContain('spec-too-large');
  });

  it('an endpoint policy naming ${VpcEndpointId} is refused (the endpoint is created with it); the identity policy may', async () => {
    const selfNamed = {
      ...GOOD_ENDPOINT,
      Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
    };
    const r = await check(withEndpointStatement(selfNamed));
    expect(r.findings.map((f) => f.rule)).toEqual(['endpoint-policy-names-itself']);
    expect(blockingErrors(r)).toHaveLength(1);
    expect(await rules(withIdentityStatement(GOOD_IDENTITY))).toEqual([]);
  });

  it('an endpoint policy without Principal is refused (AWS requires one)', async () => {
    const { Principal: _p, ...noPrincipal } = GOOD_ENDPOINT;
    expect(await rules(withEndpointStatement(noPrincipal))).toContain('policy-grammar');
  });

  it('an identity policy with a Principal is refused', async () => {
    expect(await rules(withIdentityStatement({ ...GOOD_IDENTITY, Principal: '*' }))).toContain(
      'policy-grammar',
    );
  });

  it('a statement without Effect is refused', async () => {
    const { Effect: _e, ...noEffect } = GOOD_ENDPOINT;
    expect(await rules(withEndpointStatement(noEffect))).toContain('policy-grammar');
  });

  it('an endpoint policy over 20,480 characters once rendered is refused', async () => {
    const many = Array.from(
      { length: 400 },
      (_, i) => `arn:aws:bedrock:us-east-1::foundation-model/model-${i}-v1`,
    );
    expect(await rules(withEndpointStatement({ ...GOOD_ENDPOINT, Resource: many }))).toContain('policy-size');
    expect(
      await rules(withEndpointStatement({ ...GOOD_ENDPOINT, Resource: many.slice(0, 40) })),
    ).not.toContain('policy-size');
  });

  it('an endpoint policy that allows every action is refused; naming the actions passes', async () => {
    expect(await rules(withEndpointStatement({ ...GOOD_ENDPOINT, Action: '*' }))).toContain(
      'endpoint-broad-action',
    );
    expect(await rules(withEndpointStatement({ ...GOOD_ENDPOINT, Action: 'bedrock:*' }))).toContain(
      'endpoint-broad-action',
    );
  });

  it('any principal with no condition is refused; with a condition it passes', async () => {
    const { Condition: _c, ...bare } = GOOD_ENDPOINT;
    expect(await rules(withEndpointStatement(bare))).toContain('endpoint-any-principal');
    expect(await rules(withEndpointStatement({ ...bare, Principal: { AWS: '*' } }))).toContain(
      'endpoint-any-principal',
    );
    expect(await rules(withEndpointStatement(GOOD_ENDPOINT))).not.toContain('endpoint-any-principal');
  });

  it('wildcards with system-generated identifiers are refused (aws:SourceVpc, aws:PrincipalAccount)', async () => {
    const like = { ...GOOD_ENDPOINT, Condition: { StringLike: { 'aws:SourceVpc': 'vpc-*' } } };
    const star = { ...GOOD_ENDPOINT, Condition: { StringEquals: { 'aws:PrincipalAccount': '1234*' } } };
    const exact = {
      ...GOOD_ENDPOINT,
      Condition: { StringEquals: { 'aws:PrincipalAccount': '${AccountId}' } },
    };
    expect(await rules(withEndpointStatement(like))).toContain('endpoint-system-key-wildcard');
    expect(await rules(withEndpointStatement(star))).toContain('endpoint-system-key-wildcard');
    expect(await rules(withEndpointStatement(exact))).not.toContain('endpoint-system-key-wildcard');
  });

  it('a string wildcard with fewer than six characters on both sides is refused', async () => {
    const short = { ...GOOD_ENDPOINT, Condition: { StringLike: { 'aws:PrincipalArn': 'arn*x' } } };
    const long = {
      ...GOOD_ENDPOINT,
      Condition: { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/*' } },
    };
    expect(await rules(withEndpointStatement(short))).toContain('endpoint-short-wildcard');
    expect(await rules(withEndpointStatement(long))).not.toContain('endpoint-short-wildcard');
  });

  it('an identity policy not conditioned on the endpoint is refused', async () => {
    const { Condition: _c, ...unbound } = GOOD_IDENTITY;
    const r = await check(withIdentityStatement(unbound));
    expect(r.findings.map((f) => f.rule)).toContain('identity-not-bound-to-endpoint');
  });

  it('a model outside the stack allowedModels (the probe boundary) is refused before anything runs', async () => {
    const r = await check(`version: 1\nmodels:\n  - ${HAIKU}\n  - meta.llama3-70b-instruct-v1:0\n`);
    expect(blockingErrors(r)).toMatchObject([{ rule: 'model-outside-boundary', at: { line: 4, column: 5 } }]);
  });

  it('an action outside the probe boundary is refused; skipped rows are not checked', async () => {
    const row = `${MINIMAL}matrix:\n  - action: CountTokens\n    expect: allowed\n`;
    expect(await rules(row)).toContain('action-outside-boundary');
    expect(await rules(`${row}    skip: not yet\n`)).not.toContain('action-outside-boundary');
  });

  it('rows must name a known caller and a listed model', async () => {
    const r = await rules(
      `${MINIMAL}matrix:\n  - caller: ghost\n    expect: allowed\n  - model: ${SONNET}\n    expect: allowed\n`,
    );
    expect(r).toEqual(expect.arrayContaining(['row-unknown-caller', 'row-unknown-model']));
  });

  it('a row expecting allowed after the run Deny is refused', async () => {
    expect(await rules(`${MINIMAL}matrix:\n  - phase: after-deny\n    expect: allowed\n`)).toContain(
      'row-expects-allowed-after-deny',
    );
  });

  it('predicts "this row will fail, because …" from the policies as written, without blocking the run', async () => {
    // The endpoint policy names the workload only: a second role is refused by it.
    const spec = `${MINIMAL}roles:\n  - name: analytics\n    identityPolicy:\n      inline: ${JSON.stringify({ Version: '2012-10-17', Statement: [GOOD_IDENTITY] })}\nmatrix:\n  - name: analytics-allowed\n    caller: analytics\n    expect: allowed\n  - name: analytics-refused\n    caller: analytics\n    expect: denied-by-endpoint-policy\n`;
    const r = await check(spec);
    expect(blockingErrors(r)).toEqual([]);
    const [fail] = predictedFailures(r);
    expect(fail!.message).toMatch(
      /row "analytics-allowed".*will fail.*expected allowed.*denied-by-endpoint-policy, because no statement of the endpoint policy allows/,
    );
    expect(fail!.at.line).toBe(10); // the row's expect: line
    expect(predictedFailures(r)).toHaveLength(1);
  });

  it('warns when an endpoint-policy row cannot show the endpoint decides (the identity policy refuses too)', async () => {
    const narrowIdentity = { ...GOOD_IDENTITY, Resource: '${ModelArns}' };
    const r = await check(
      `${withIdentityStatement(narrowIdentity)}matrix:\n  - model: unlisted\n    expect: denied-by-endpoint-policy\n`,
    );
    expect(r.findings.map((f) => [f.rule, f.level])).toEqual([['row-proves-nothing', 'warning']]);
  });

  it('warns that an unlisted-model row cannot be observed when every allowed model is listed', async () => {
    const r = await check(MINIMAL, {}, [HAIKU]);
    expect(r.findings.map((f) => f.rule)).toEqual(['row-cannot-be-observed']);
  });

  it('an inference profile is checked against the profile ARN and the foundation-model ARN', async () => {
    // A policy naming only the foundation model misses the profile ARN: the call is refused.
    const onlyFoundation = { ...GOOD_ENDPOINT, Resource: `arn:aws:bedrock:*::foundation-model/${SONNET}` };
    const spec = `version: 1\nmodels: [us.${SONNET}]\npolicies:\n  endpoint:\n    inline: ${JSON.stringify({ Version: '2012-10-17', Statement: [onlyFoundation] })}\nmatrix:\n  - expect: allowed\n`;
    const r = await check(spec);
    expect(predictedFailures(r)[0]!.message).toMatch(/inference-profile\/us\.anthropic/);
    expect(
      (await check(`version: 1\nmodels: [us.${SONNET}]\nmatrix:\n  - expect: allowed\n`)).findings,
    ).toEqual([]);
  });
});
