/**
 * `privatelink-verify run --spec`: the action's spec path from a terminal. A spec that cannot run
 * starts nothing (exit 2, before any AWS call); one that runs is verified live per region, its
 * matrix printed and its JUnit written.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../cli/run.ts';

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('privatelink-verify run --spec', () => {
  it('a spec outside the boundary is refused with its line, exit 2, before any AWS call', async () => {
    // No credentials and a state machine nobody deployed: a call to AWS would fail otherwise.
    const r = await run([
      '--state-machine-arn',
      'arn:aws:states:us-east-1:123456789012:stateMachine:nobody',
      '--spec',
      'examples/team-perimeter.yml',
      '--allowed-models',
      'anthropic.claude-3-haiku-20240307-v1:0',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/examples\/team-perimeter\.yml:\d+:\d+: \[model-outside-boundary\]/);
    expect(r.stderr).toMatch(/nothing was started/);
  });

  it('--local verifies the failing example: exactly its two rows fail, exit 1, JUnit written', async () => {
    const junit = join(mkdtempSync(join(tmpdir(), 'plv-run-spec-')), 'matrix.xml');
    const r = await run([
      '--local',
      '--spec',
      'examples/deliberately-failing.yml',
      '--junit',
      junit,
      '--run-id',
      'run-spec',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/Expected-access matrix: 5 cells: 3 passed, 2 failed/);
    expect(r.stdout).toMatch(/\[failed\]\s+analytics-allowed/);
    expect(r.stdout).toMatch(/\[failed\]\s+outside-allowed/);
    const xml = new XMLParser({
      ignoreAttributes: false,
      isArray: (n) => n === 'testcase' || n === 'testsuite',
    }).parse(readFileSync(junit, 'utf8'));
    const cases = xml.testsuites.testsuite.flatMap((s: { testcase: unknown[] }) => s.testcase) as {
      '@_name': string;
      failure?: unknown;
    }[];
    expect(cases.filter((c) => c.failure).map((c) => c['@_name'].split(':')[0])).toEqual([
      'analytics-allowed',
      'outside-allowed',
    ]);
  }, 180_000);
});
