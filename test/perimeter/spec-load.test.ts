/** Loading a perimeter spec: YAML and JSON, schema errors anchored to line and column, policy files bounded by the repository. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpec, SpecLoadError } from '../../perimeter/load.ts';
import { DEFAULT_MATRIX, renderTemplate, type TemplateValues } from '../../statemachine/perimeter-spec.ts';
import { HAIKU, MINIMAL, repoWith } from './helpers.ts';

function problemsOf(files: Record<string, string>, spec = 'privatelink-verify.yml') {
  const root = repoWith(files);
  try {
    loadSpec(join(root, spec), { repoRoot: root });
  } catch (err) {
    if (err instanceof SpecLoadError) return err.problems;
    throw err;
  }
  return [];
}

describe('perimeter spec loading', () => {
  it('a minimal spec gets the default policies and the default matrix (the proof obligations)', () => {
    const root = repoWith({ 'privatelink-verify.yml': MINIMAL });
    const loaded = loadSpec(join(root, 'privatelink-verify.yml'), { repoRoot: root });
    expect(loaded.spec.regions).toEqual(['us-east-1']);
    expect(loaded.endpointPolicy.isDefault).toBe(true);
    expect(loaded.matrix.map((m) => m.row.name)).toEqual(DEFAULT_MATRIX.map((r) => r.name));
  });

  it('accepts the same spec written as JSON', () => {
    const root = repoWith({
      'spec.json': JSON.stringify({ version: 1, models: [HAIKU], regions: ['eu-central-1'] }),
    });
    expect(loadSpec(join(root, 'spec.json'), { repoRoot: root }).spec.regions).toEqual(['eu-central-1']);
  });

  it('names an unknown key with the line and column where it is written', () => {
    const [p] = problemsOf({
      'privatelink-verify.yml': `${MINIMAL}matrix:\n  - expect: allowed\n    colour: blue\n`,
    });
    expect(p).toMatchObject({
      rule: 'spec-schema',
      at: { file: 'privatelink-verify.yml', line: 4, column: 5 },
    });
    expect(p!.message).toMatch(/matrix\.0: unknown key "colour"/);
  });

  it('points a wrong value at the value: a region that does not exist', () => {
    const [p] = problemsOf({
      'privatelink-verify.yml': `version: 1\nregions:\n  - us-east-1\n  - us-east-x\nmodels: [${HAIKU}]\n`,
    });
    expect(p).toMatchObject({ at: { line: 4, column: 5 } });
    expect(p!.message).toMatch(/regions\.1: is not an AWS region/);
  });

  it('points a missing required key at its parent, and says which key', () => {
    const problems = problemsOf({ 'privatelink-verify.yml': `version: 1\nmatrix:\n  - caller: workload\n` });
    expect(problems.map((p) => p.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^models: /),
        expect.stringMatching(/^matrix\.0\.expect: /),
      ]),
    );
    expect(problems.find((p) => p.message.startsWith('matrix.0.expect'))!.at.line).toBe(3);
  });

  it('reports a YAML syntax error with its position', () => {
    const [p] = problemsOf({ 'privatelink-verify.yml': `version: 1\nmodels: [${HAIKU}\n` });
    expect(p).toMatchObject({ rule: 'spec-syntax' });
    expect(p!.at.line).toBeGreaterThanOrEqual(2);
  });

  it('reads a policy from a file next to the spec, with positions in that file', () => {
    const root = repoWith({
      'privatelink-verify.yml': `${MINIMAL}policies:\n  endpoint: { file: policies/endpoint.json }\n`,
      'policies/endpoint.json': '{\n  "Version": "2012-10-17",\n  "Statement": []\n}\n',
    });
    const loaded = loadSpec(join(root, 'privatelink-verify.yml'), { repoRoot: root });
    expect(loaded.endpointPolicy.source.file).toBe('policies/endpoint.json');
    expect(loaded.endpointPolicy.source.locate(['Statement'])).toMatchObject({ line: 3, column: 16 });
  });

  it('refuses a policy file outside the repository, or named by an absolute path (a spec is data)', () => {
    const root = repoWith({
      'privatelink-verify.yml': `${MINIMAL}policies:\n  endpoint: { file: /etc/hostname }\n`,
    });
    expect(() => loadSpec(join(root, 'privatelink-verify.yml'), { repoRoot: root })).toThrow(
      /relative to the spec file/,
    );
    const nested = repoWith({
      'repo/privatelink-verify.yml': `${MINIMAL}policies:\n  endpoint: { file: ../secret.json }\n`,
      'secret.json': '{}',
    });
    expect(() =>
      loadSpec(join(nested, 'repo/privatelink-verify.yml'), { repoRoot: join(nested, 'repo') }),
    ).toThrow(/outside the repository/);
  });

  it('renders templates: placeholders become values and ${ModelArns} becomes the list', () => {
    const values: TemplateValues = {
      WorkloadRoleArn: 'arn:aws:iam::1:role/w',
      BystanderRoleArn: 'arn:aws:iam::1:role/b',
      VpcEndpointId: 'vpce-1',
      VpcId: 'vpc-1',
      AccountId: '1',
      Region: 'us-east-1',
      Partition: 'aws',
      ModelArns: ['a', 'b'],
      roleArns: { analytics: 'arn:aws:iam::1:role/a' },
    };
    expect(
      renderTemplate(
        {
          R: '${ModelArns}',
          C: { P: ['${WorkloadRoleArn}', '${RoleArn:analytics}'] },
          E: 'x-${VpcEndpointId}',
        },
        values,
      ),
    ).toEqual({ R: ['a', 'b'], C: { P: ['arn:aws:iam::1:role/w', 'arn:aws:iam::1:role/a'] }, E: 'x-vpce-1' });
    expect(() => renderTemplate('${Nope}', values)).toThrow(/unknown placeholder/);
    expect(() => renderTemplate('${RoleArn:ghost}', values)).toThrow(/unknown placeholder/);
  });
});

describe('the perimeter an execution carries', () => {
  it('inlines policy files and makes the matrix explicit, well under the 256 KiB input limit', async () => {
    const { perimeterInput } = await import('../../perimeter/resolve.ts');
    const root = repoWith({
      'privatelink-verify.yml': `${MINIMAL}policies:\n  endpoint: { file: p/endpoint.json }\n`,
      'p/endpoint.json': JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'FromTheFile' }] }),
    });
    const input = perimeterInput(loadSpec(join(root, 'privatelink-verify.yml'), { repoRoot: root }));
    expect(input.endpointPolicy).toEqual({ Version: '2012-10-17', Statement: [{ Sid: 'FromTheFile' }] });
    expect(input.matrix.map((r) => r.name)).toEqual(DEFAULT_MATRIX.map((r) => r.name));
    expect(JSON.stringify(input)).not.toContain('"file"');
    expect(Buffer.byteLength(JSON.stringify(input))).toBeLessThan(256 * 1024);
  });
});
