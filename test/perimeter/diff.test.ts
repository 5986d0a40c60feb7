/** The pull request's change to the perimeter, by meaning: a reworded file with the same policies is no change. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffPerimeters } from '../../perimeter/diff.ts';
import { loadSpec } from '../../perimeter/load.ts';
import { perimeterInput } from '../../perimeter/resolve.ts';
import { HAIKU, MINIMAL, repoWith, SONNET } from './helpers.ts';

const input = (text: string) => {
  const root = repoWith({ 'privatelink-verify.yml': text });
  return perimeterInput(loadSpec(join(root, 'privatelink-verify.yml'), { repoRoot: root }));
};
const endpoint = (actions: string[], sid = 'Workload') =>
  `policies:\n  endpoint:\n    inline: ${JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: sid, Effect: 'Allow', Principal: '*', Action: actions, Resource: '${ModelArns}', Condition: { ArnEquals: { 'aws:PrincipalArn': '${WorkloadRoleArn}' } } }] })}\n`;

describe('spec changes against the base branch', () => {
  it('the same perimeter written differently (JSON flow vs block YAML, comments) is no change', () => {
    expect(
      diffPerimeters(input(`# base\n${MINIMAL}`), input(`{"version": 1, "models": ["${HAIKU}"]}`)),
    ).toEqual([]);
  });

  it('names an added model, a changed endpoint statement and a removed row', () => {
    const base = input(
      `${MINIMAL}${endpoint(['bedrock:InvokeModel'])}matrix:\n  - name: a\n    expect: allowed\n  - name: b\n    from: outside\n    expect: denied-by-identity-policy\n`,
    );
    const head = input(
      `version: 1\nmodels: [${HAIKU}, ${SONNET}]\n${endpoint(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'])}matrix:\n  - name: a\n    expect: allowed\n`,
    );
    expect(diffPerimeters(base, head)).toEqual([
      { kind: 'added', subject: `model ${SONNET}` },
      { kind: 'changed', subject: 'endpoint policy statement "Workload"' },
      { kind: 'removed', subject: 'row "b"' },
    ]);
  });

  it('with no base spec, everything is new', () => {
    const changes = diffPerimeters(undefined, input(MINIMAL));
    expect(changes.every((c) => c.kind === 'added')).toBe(true);
    expect(changes.map((c) => c.subject)).toContain(`model ${HAIKU}`);
  });
});
