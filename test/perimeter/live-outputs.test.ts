/**
 * JUnit and SARIF from live reports: one testcase per matrix cell, obligation and cleanup, with
 * could-not-verify as errors; and every failed or unverified cell as a SARIF result at the line of
 * the spec that declares its row, in a log that validates against the SARIF 2.1.0 schema.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { runStaticChecks } from '../../perimeter/check.ts';
import { cellName, liveCellName, liveJunitXml } from '../../perimeter/junit.ts';
import { writeLiveOutputs } from '../../perimeter/live-outputs.ts';
import { loadSpec } from '../../perimeter/load.ts';
import { LIVE_RULES } from '../../perimeter/rules.ts';
import { cellAnchor, liveSarifLog } from '../../perimeter/sarif.ts';
import type { Report } from '../../statemachine/contract.ts';
import { MODEL } from '../action/fixtures.ts';
import { ALLOWED } from './helpers.ts';
import { cell, FAILING_SPEC, failingCells, liveReport } from './live-fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const failingText = readFileSync(join(ROOT, FAILING_SPEC), 'utf8');
const loaded = () => loadSpec(join(ROOT, FAILING_SPEC), { repoRoot: ROOT });

/** 1-based line and column of the first `- name: <row>` in the spec text: found by text, not by the loader. */
function rowLine(text: string, name: string): { line: number; column: number } {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => new RegExp(`^\\s*- name: ${name}\\s*$`).test(l));
  expect(i, `row ${name} in the spec`).toBeGreaterThanOrEqual(0);
  return { line: i + 1, column: lines[i]!.indexOf('name:') + 1 };
}

interface Case {
  '@_classname': string;
  '@_name': string;
  failure?: { '@_message': string; '@_type': string };
  error?: { '@_message': string; '@_type': string } | string;
  skipped?: unknown;
  'system-out'?: string;
}
interface Suite {
  '@_name': string;
  '@_tests': string;
  '@_failures': string;
  '@_errors': string;
  '@_skipped': string;
  testcase: Case[];
}

function parseJunit(xml: string): Suite[] {
  const doc = new XMLParser({
    ignoreAttributes: false,
    isArray: (n) => n === 'testcase' || n === 'testsuite',
  }).parse(xml);
  return doc.testsuites.testsuite as Suite[];
}

const skippedRow = () =>
  cell({
    index: 5,
    row: 'converse-later',
    action: 'Converse',
    expect: 'allowed',
    result: 'skipped',
    // As tasks/lib/matrix-run.ts writes it.
    reason: 'skipped: Converse not enabled in this account yet',
  });
const allPassed = (region: string) =>
  failingCells(region).map((c) => ({
    ...c,
    result: 'passed' as const,
    observed: c.expect,
    reason: 'as expected',
  }));

describe('JUnit from live reports', () => {
  it('one suite per region: a testcase per cell, per obligation and for cleanup, counted as a viewer counts them', () => {
    const us = liveReport('us-east-1', [...failingCells(), skippedRow()], 'fail');
    const eu = liveReport('eu-west-1', allPassed('eu-west-1'), 'pass');
    const suites = parseJunit(liveJunitXml([us, eu]));
    expect(suites.map((s) => s['@_name'])).toEqual([
      `privatelink-verify live run (us-east-1, ${FAILING_SPEC})`,
      `privatelink-verify live run (eu-west-1, ${FAILING_SPEC})`,
    ]);
    const [usSuite, euSuite] = suites as [Suite, Suite];
    // 6 cells + 5 obligations + cleanup.
    expect(usSuite.testcase).toHaveLength(12);
    expect(Number(usSuite['@_tests'])).toBe(12);
    const count = (s: Suite, k: 'failure' | 'error' | 'skipped') => s.testcase.filter((c) => k in c).length;
    // Failed: analytics-allowed, outside-allowed and the fixture's failed obligation.
    expect([count(usSuite, 'failure'), Number(usSuite['@_failures'])]).toEqual([3, 3]);
    // could-not-verify is an error (JUnit: "unanticipated problem"), never a failure nor a pass.
    expect([count(usSuite, 'error'), Number(usSuite['@_errors'])]).toEqual([1, 1]);
    expect([count(usSuite, 'skipped'), Number(usSuite['@_skipped'])]).toEqual([1, 1]);
    expect(usSuite.testcase.find((c) => 'skipped' in c)!['system-out']).toBe(
      'skipped: Converse not enabled in this account yet',
    );
    // The world where every cell passed and cleanup finished: nothing fails, nothing errs.
    expect(euSuite.testcase).toHaveLength(11);
    expect([euSuite['@_failures'], euSuite['@_errors'], euSuite['@_skipped']]).toEqual(['0', '0', '0']);
  });

  it('cells are named as their static predictions are, class privatelink-verify.<region>.<model>, with why', () => {
    const cases = parseJunit(liveJunitXml([liveReport('us-east-1', failingCells(), 'fail')]))[0]!.testcase;
    const cellCases = cases.filter((c) => c['@_classname'] === `privatelink-verify.us-east-1.${MODEL}`);
    expect(cellCases).toHaveLength(5);
    // The same names `check --junit` gives the rows of the same spec.
    const staticNames = loaded().matrix.map(cellName);
    expect(cellCases.map((c) => c['@_name']).sort()).toEqual([...staticNames].sort());
    const analytics = cellCases.find((c) => c['@_name'].startsWith('analytics-allowed:'))!;
    expect(analytics['@_name']).toBe(
      'analytics-allowed: analytics from vpc, InvokeModel in allow-policy → allowed',
    );
    expect(analytics.failure!['@_message']).toBe(
      'expected allowed, observed not-allowed-by-endpoint-policy: refused: no statement of the endpoint policy allows the analytics role',
    );
    expect(analytics['system-out']).toContain('because no VPC endpoint policy allows');
    const deny = cellCases.find((c) => c['@_name'].startsWith('run-deny-refuses:'))!;
    expect(deny.failure).toBeUndefined();
    expect(deny.error).toMatchObject({
      '@_type': 'could-not-verify',
      '@_message': expect.stringMatching(/throttled/),
    });
    const passed = cellCases.find((c) => c['@_name'].startsWith('workload-allowed:'))!;
    expect(['failure', 'error', 'skipped'].some((k) => k in passed)).toBe(false);
    const obligations = cases.filter((c) => c['@_classname'] === 'privatelink-verify.us-east-1.obligations');
    expect(obligations.map((c) => c['@_name'])).toContain('own-deny-refuses-stably');
    expect(obligations.find((c) => c['@_name'] === 'own-deny-refuses-stably')!.failure!['@_type']).toBe(
      'obligation',
    );
    expect(liveCellName(failingCells()[0]!)).toBe(analytics['@_name']);
  });

  it('a could-not-verify obligation is an error; leftovers fail the cleanup case; cleanup not yet done is skipped', () => {
    const unverified = liveReport('us-east-1', allPassed('us-east-1'), 'error', {
      cleanup: {
        status: 'incomplete',
        leftovers: [{ type: 'vpc', id: 'vpc-0left', reason: 'DependencyViolation' }],
      },
    });
    const cases = parseJunit(liveJunitXml([unverified]))[0]!.testcase;
    const deny = cases.find((c) => c['@_name'] === 'own-deny-refuses-stably')!;
    expect(deny.failure).toBeUndefined();
    expect(deny.error).toMatchObject({ '@_type': 'could-not-verify' });
    const cleanup = cases.find((c) => c['@_classname'] === 'privatelink-verify.us-east-1.cleanup')!;
    expect(cleanup.failure!['@_message']).toBe('cleanup incomplete: 1 resource(s) left behind');
    expect(cleanup['system-out']).toBe('vpc vpc-0left: DependencyViolation');
    const atVerdict = liveReport('us-east-1', allPassed('us-east-1'), 'pass', {
      cleanup: { status: 'not-started', leftovers: [] },
    });
    const early = parseJunit(liveJunitXml([atVerdict]))[0]!.testcase.find(
      (c) => c['@_name'] === 'cleanup left nothing behind',
    )!;
    expect('skipped' in early).toBe(true);
  });

  it('a run that did not pass is never all green, even with no row or obligation that says why', () => {
    const bare: Report = liveReport('us-east-1', undefined, 'fail', { obligations: [] });
    const suite = parseJunit(liveJunitXml([bare]))[0]!;
    expect(suite['@_failures']).toBe('1');
    expect(suite.testcase[0]!['@_name']).toBe('the run reached a verdict of pass');
    const passing = parseJunit(
      liveJunitXml([liveReport('us-east-1', undefined, 'pass', { obligations: [] })]),
    )[0]!;
    expect(passing.testcase.map((c) => c['@_name'])).toEqual(['cleanup left nothing behind']);
  });
});

/** The SARIF 2.1.0 schema and validator examples-and-outputs.test.ts validates the static log with. */
function sarifValidator() {
  const require = createRequire(import.meta.url);
  const schemaFile = join(
    require.resolve('@microsoft/jest-sarif/package.json'),
    '../lib/schemas/sarif-2.1.0-rtm.5.json',
  );
  const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, unicodeRegExp: false });
  return ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
}

interface SarifResult {
  ruleId: string;
  level: string;
  message: { text: string };
  locations: {
    physicalLocation: {
      artifactLocation: { uri: string };
      region: { startLine: number; startColumn: number; endLine?: number; endColumn?: number };
    };
  }[];
}

describe('SARIF from live reports', () => {
  it('failed cells (error) and unverified ones (warning) at the line of their row, merged with the static findings, valid SARIF 2.1.0', async () => {
    const statics = await runStaticChecks(join(ROOT, FAILING_SPEC), {
      allowedModels: ALLOWED,
      repoRoot: ROOT,
    });
    const log = JSON.parse(
      liveSarifLog({
        reports: [liveReport('us-east-1', failingCells(), 'fail')],
        spec: statics.loaded!,
        findings: statics.findings,
        version: '0.1.0',
      }),
    );
    const validate = sarifValidator();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const results = log.runs[0].results as SarifResult[];
    expect(results.filter((r) => r.ruleId === 'row-will-fail')).toHaveLength(2);
    // No region ends before it starts (the SARIF multitool's SARIF1013), static results included.
    for (const r of results) {
      const { startColumn, endLine, endColumn } = r.locations[0]!.physicalLocation.region;
      if (
        endColumn !== undefined &&
        (endLine === undefined || endLine === r.locations[0]!.physicalLocation.region.startLine)
      )
        expect(endColumn).toBeGreaterThanOrEqual(startColumn);
    }
    const live = results.filter((r) => r.ruleId in LIVE_RULES);
    expect(live.map((r) => [r.ruleId, r.level])).toEqual([
      ['cell-failed', 'error'],
      ['cell-failed', 'error'],
      ['cell-could-not-verify', 'warning'],
    ]);
    const rulesListed = log.runs[0].tool.driver.rules.map((r: { id: string }) => r.id);
    expect(rulesListed).toEqual(
      expect.arrayContaining(['cell-failed', 'cell-could-not-verify', 'row-will-fail']),
    );
    for (const [r, name] of [
      [live[0]!, 'analytics-allowed'],
      [live[1]!, 'outside-allowed'],
      [live[2]!, 'run-deny-refuses'],
    ] as const) {
      const want = rowLine(failingText, name);
      const loc = r.locations[0]!.physicalLocation;
      expect(loc.artifactLocation.uri).toBe(FAILING_SPEC);
      expect(loc.region).toEqual({ startLine: want.line, startColumn: want.column });
      expect(r.message.text).toContain(`row "${name}"`);
    }
    expect(live[0]!.message.text).toBe(
      `row "analytics-allowed" (analytics from vpc, InvokeModel in allow-policy) in us-east-1 for ${MODEL}: expected allowed, observed not-allowed-by-endpoint-policy: refused: no statement of the endpoint policy allows the analytics role`,
    );
  });

  it('passed and skipped cells are not results; a passing run gives an empty, valid log', () => {
    const log = JSON.parse(
      liveSarifLog({
        reports: [liveReport('us-east-1', [...allPassed('us-east-1'), skippedRow()], 'pass')],
        spec: loaded(),
        version: '0.1.0',
      }),
    );
    expect(sarifValidator()(log)).toBe(true);
    expect(log.runs[0].results).toEqual([]);
  });

  it('every region is a result of its own, each naming its region', () => {
    const log = JSON.parse(
      liveSarifLog({
        reports: [
          liveReport('us-east-1', failingCells(), 'fail'),
          liveReport('eu-west-1', failingCells(), 'fail'),
        ],
        spec: loaded(),
        version: '0.1.0',
      }),
    );
    const texts = (log.runs[0].results as SarifResult[]).map((r) => r.message.text);
    expect(texts).toHaveLength(6);
    expect(texts.filter((t) => t.includes(' in eu-west-1 for '))).toHaveLength(3);
  });

  it('anchors: a row by its name, else by its index; a default row or an unknown one at the top of the spec', () => {
    const spec = loaded();
    const top = { line: failingText.split('\n').findIndex((l) => l.startsWith('version:')) + 1, column: 1 };
    const at = (c: Parameters<typeof cellAnchor>[1]) => {
      const a = cellAnchor(spec, c);
      return { line: a.line, column: a.column };
    };
    const outside = rowLine(failingText, 'outside-allowed');
    // Named: the name decides even if the index is off (a report of a spec with a row inserted above).
    expect(at(cell({ index: 0, row: 'outside-allowed', expect: 'allowed', result: 'failed' }))).toEqual({
      line: outside.line,
      column: outside.column,
    });
    expect(at(cell({ index: 2, row: 'row 3', expect: 'allowed', result: 'failed' }))).toEqual({
      line: outside.line,
      column: outside.column,
    });
    expect(at(cell({ index: 42, row: 'row 43', expect: 'allowed', result: 'failed' }))).toEqual(top);

    // A spec without `matrix:` runs the default rows, which the spec does not write: top of the spec.
    const walkthrough = loadSpec(join(ROOT, 'examples/walkthrough.yml'), { repoRoot: ROOT });
    const walkText = readFileSync(join(ROOT, 'examples/walkthrough.yml'), 'utf8');
    const defaultRow = cell({
      index: 1,
      row: 'workload-outside-refused',
      from: 'outside',
      expect: 'denied-by-identity-policy',
      result: 'failed',
      observed: 'allowed',
      reason: 'allowed from outside the VPC',
    });
    const log = JSON.parse(
      liveSarifLog({
        reports: [liveReport('us-east-1', [defaultRow], 'fail', { specFile: 'examples/walkthrough.yml' })],
        spec: walkthrough,
        version: '0.1.0',
      }),
    );
    expect(sarifValidator()(log)).toBe(true);
    const loc = (log.runs[0].results as SarifResult[])[0]!.locations[0]!.physicalLocation;
    expect(loc.artifactLocation.uri).toBe('examples/walkthrough.yml');
    expect(loc.region.startLine).toBe(walkText.split('\n').findIndex((l) => l.startsWith('version:')) + 1);
    expect(loc.region.startColumn).toBe(1);
  });
});

describe('writeLiveOutputs', () => {
  it('writes the JUnit and SARIF asked for, in directories it creates, and counts the cells of every region', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'plv-live-')), 'reports');
    const reports = [
      liveReport('us-east-1', failingCells(), 'fail'),
      liveReport('eu-west-1', allPassed('eu-west-1'), 'pass'),
    ];
    const out = writeLiveOutputs(
      { reports, spec: loaded(), version: '0.1.0' },
      { junit: join(dir, 'live.xml'), sarif: join(dir, 'sarif', 'live.sarif') },
    );
    expect(out.cells).toEqual({ passed: 7, failed: 2, 'could-not-verify': 1, skipped: 0 });
    expect(parseJunit(readFileSync(join(dir, 'live.xml'), 'utf8'))).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(dir, 'sarif', 'live.sarif'), 'utf8')).runs[0].results).toHaveLength(
      3,
    );
    const none = writeLiveOutputs({ reports, spec: loaded(), version: '0.1.0' }, {});
    expect(none.junit).toBe(out.junit);
  });
});
