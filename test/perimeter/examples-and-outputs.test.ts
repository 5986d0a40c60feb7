/**
 * The examples do what each says, `privatelink-verify check` exits and prints as documented, its
 * SARIF is valid SARIF 2.1.0, and the committed JSON Schema is the one the contract generates.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { blockingErrors, predictedFailures, runStaticChecks } from '../../perimeter/check.ts';
import { sarifLog } from '../../perimeter/sarif.ts';
import { generatedSchema, schemaPath } from '../../statemachine/build-schemas.ts';
import { PerimeterSpecSchema } from '../../statemachine/perimeter-spec.ts';
import { ALLOWED } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'cli/bin.mjs');
const example = (name: string) => join(ROOT, 'examples', name);
const opts = { allowedModels: ALLOWED, repoRoot: ROOT };

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, 'check', ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('examples', () => {
  it('walkthrough.yml: the seed walkthrough passes every static check', async () => {
    expect((await runStaticChecks(example('walkthrough.yml'), opts)).findings).toEqual([]);
  });

  it('team-perimeter.yml: policy files, an inference profile and an extra role, every row predicted as expected', async () => {
    const r = await runStaticChecks(example('team-perimeter.yml'), opts);
    expect(r.findings).toEqual([]);
    expect(new Set(r.cells.map((c) => c.model))).toEqual(
      new Set([
        'anthropic.claude-3-haiku-20240307-v1:0',
        'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
        'amazon.titan-text-express-v1',
      ]),
    );
  });

  it('deliberately-failing.yml: exactly the two rows it names are predicted to fail', async () => {
    const r = await runStaticChecks(example('deliberately-failing.yml'), opts);
    expect(blockingErrors(r)).toEqual([]);
    const failing = predictedFailures(r).map((f) => /row "([^"]+)"/.exec(f.message)![1]);
    expect(failing).toEqual(['analytics-allowed', 'outside-allowed']);
  });
});

describe('privatelink-verify check', () => {
  it('exits 0 for a clean spec and says what it checked', () => {
    const r = cli(['--spec', 'examples/walkthrough.yml', '--allowed-models', ALLOWED.join(',')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /examples\/walkthrough\.yml: 0 error\(s\), 0 warning\(s\), 5 matrix cell\(s\) predicted/,
    );
  });

  it('exits 1 when the policies as written would fail a row, naming file:line:column', () => {
    const r = cli(['--spec', 'examples/deliberately-failing.yml', '--allowed-models', ALLOWED.join(',')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /^examples\/deliberately-failing\.yml:\d+:\d+: error \[row-will-fail\] row "analytics-allowed"/m,
    );
  });

  it('exits 2 for a spec that cannot run (a model outside the boundary), with the stack allowedModels of cdk.json', () => {
    // The repository's cdk.json allows Haiku, Titan Text Express and the Sonnet 3.5 profile: Llama is outside.
    const dir = mkdtempSync(join(tmpdir(), 'plv-boundary-'));
    copyFileSync(join(ROOT, 'cdk.json'), join(dir, 'cdk.json'));
    writeFileSync(
      join(dir, 'privatelink-verify.yml'),
      'version: 1\nmodels:\n  - anthropic.claude-3-haiku-20240307-v1:0\n  - meta.llama3-8b-instruct-v1:0\n',
    );
    const r = spawnSync(process.execPath, [BIN, 'check'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(
      /privatelink-verify\.yml:4:5: error \[model-outside-boundary\] model meta\.llama3-8b/,
    );
    expect(r.stderr).toBe('');
  });

  it('--base says what the spec changes against the base branch', () => {
    const r = cli([
      '--spec',
      'examples/team-perimeter.yml',
      '--base',
      'examples/walkthrough.yml',
      '--allowed-models',
      ALLOWED.join(','),
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /Changes against the base:\n {2}added model us\.anthropic\.claude-3-5-sonnet-20240620-v1:0/,
    );
    expect(r.stdout).toMatch(
      /added endpoint policy statement "WorkloadInvokesTeamModels"\n {2}removed endpoint policy statement "AllowWorkloadRoleToInvokeListedModels"/,
    );
  });

  it('--junit writes one testcase per predicted cell, failing exactly the rows that will fail (parsed back)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plv-junit-'));
    const file = join(dir, 'static.xml');
    const r = cli([
      '--spec',
      'examples/deliberately-failing.yml',
      '--allowed-models',
      ALLOWED.join(','),
      '--junit',
      file,
    ]);
    expect(r.status).toBe(1);
    const xml = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'testcase' }).parse(
      readFileSync(file, 'utf8'),
    );
    const suite = xml.testsuites.testsuite;
    const cases = suite.testcase as { '@_name': string; failure?: { '@_message': string } }[];
    expect(cases.length).toBe(Number(suite['@_tests']));
    expect(cases.length).toBeGreaterThan(2);
    const failed = cases.filter((c) => c.failure).map((c) => c['@_name'].split(':')[0]);
    expect(failed).toEqual(['analytics-allowed', 'outside-allowed']);
    expect(cases.find((c) => c.failure)!.failure!['@_message']).toMatch(/^expected allowed, got denied-by-/);
  });

  it('--junit for a spec that cannot run has one failing case naming the errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plv-junit-'));
    const file = join(dir, 'static.xml');
    // The team example with a stack that allows only Haiku: its inference profile is outside the boundary.
    const r = cli([
      '--spec',
      'examples/team-perimeter.yml',
      '--allowed-models',
      'anthropic.claude-3-haiku-20240307-v1:0',
      '--junit',
      file,
    ]);
    expect(r.status).toBe(2);
    const xml = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'testcase' }).parse(
      readFileSync(file, 'utf8'),
    );
    const first = xml.testsuites.testsuite.testcase[0];
    expect(first['@_name']).toBe('the spec is valid and can run');
    expect(first.failure['@_message']).toMatch(/\[model-outside-boundary\]/);
  });

  it('a missing spec file is one line and exit 2, no stack trace', () => {
    const r = cli(['--spec', 'nope.yml']);
    expect(r.status).toBe(2);
    expect(r.stdout.trim().split('\n')[0]).toBe('nope.yml:1:1: error [spec-file] spec file not found');
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown option is one line and exit 2', () => {
    const r = cli(['--colour']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--help lists the options and every rule', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--sarif <file>/);
    expect(r.stdout).toMatch(/row-will-fail/);
  });

  it('--sarif writes a SARIF 2.1.0 log that validates against the OASIS schema, results anchored to lines', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'plv-sarif-')), 'static.sarif');
    cli([
      '--spec',
      'examples/deliberately-failing.yml',
      '--allowed-models',
      ALLOWED.join(','),
      '--sarif',
      out,
    ]);
    const log = JSON.parse(readFileSync(out, 'utf8'));
    // The SARIF 2.1.0 schema as shipped by @microsoft/jest-sarif (lib/schemas/sarif-2.1.0-rtm.5.json);
    // it is draft-04 and one of its patterns is not valid in unicode mode, hence those options.
    const require = createRequire(import.meta.url);
    const schemaFile = join(
      require.resolve('@microsoft/jest-sarif/package.json'),
      '../lib/schemas/sarif-2.1.0-rtm.5.json',
    );
    // A CommonJS package whose module.exports is the class (ESM interop would hand us the namespace).
    const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false });
    const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    // The validator is not a rubber stamp: a result without its message is refused.
    expect(validate({ ...log, runs: [{ ...log.runs[0], results: [{ ruleId: 'x' }] }] })).toBe(false);
    const results = log.runs[0].results;
    expect(results).toHaveLength(2);
    expect(results[0].locations[0].physicalLocation).toMatchObject({
      artifactLocation: { uri: 'examples/deliberately-failing.yml' },
      region: { startLine: expect.any(Number) },
    });
  });

  it('a SARIF log of no findings is valid too', () => {
    expect(JSON.parse(sarifLog([], '0.1.0')).runs[0].results).toEqual([]);
  });
});

describe('the perimeter spec JSON Schema', () => {
  it('is committed and current (npm run schemas)', () => {
    expect(readFileSync(schemaPath('perimeter-spec.schema.json'), 'utf8')).toBe(
      generatedSchema({
        file: 'perimeter-spec.schema.json',
        title: 'privatelink-verify perimeter spec',
        schema: PerimeterSpecSchema,
      }),
    );
  });
});
