/**
 * JUnit XML (junit-report-builder) for CI test-report viewers: one testcase per matrix cell
 * (row × region × model), skipped rows kept as skipped, and the spec's own errors as one failing
 * case so a viewer never shows "all green" for a spec that could not run. Statically the cells are
 * predictions; liveJunitXml writes a live run's reports, the same names with observations.
 */
import junitModule, { type Builder } from 'junit-report-builder';
import { hasLeftovers, type MatrixCell, type Report } from '../statemachine/contract.ts';
import type { MatrixRow } from '../statemachine/perimeter-spec.ts';

/** The package is CommonJS (`module.exports = builder`) but types itself as a default export. */
const root = ((junitModule as unknown as { default?: Builder }).default ?? junitModule) as unknown as Builder;

export interface JunitCell {
  row: MatrixRow;
  index: number;
  region: string;
  model: string;
  /** `observed` from a live run, `predicted` from the static checks. */
  got: string;
  /** Why, when `got` is not the expected outcome. */
  because?: string;
}

export interface JunitInput {
  /** Suite name, e.g. "privatelink-verify static checks (privatelink-verify.yml)". */
  suite: string;
  cells: readonly JunitCell[];
  /** Rows not run, with their reason. */
  skipped: readonly { row: MatrixRow; index: number }[];
  /** Errors that stopped the spec from running at all (exit 2). */
  errors: readonly string[];
  timeSeconds?: number;
}

export function cellName(c: { row: MatrixRow; index: number }): string {
  const r = c.row;
  return nameOf({ ...r, row: r.name ?? `row ${c.index + 1}` });
}

/** A live cell's testcase name: the same words as its static prediction's, so the two reports line up. */
export function liveCellName(c: MatrixCell): string {
  return nameOf(c);
}

function nameOf(c: Pick<MatrixCell, 'row' | 'caller' | 'from' | 'action' | 'phase' | 'expect'>): string {
  return `${c.row}: ${c.caller} from ${c.from}, ${c.action} in ${c.phase} → ${c.expect}`;
}

export function junitXml(input: JunitInput): string {
  const builder = root.newBuilder();
  const suite = builder.testSuite().name(input.suite);
  if (input.timeSeconds !== undefined) suite.time(input.timeSeconds);
  if (input.errors.length) {
    suite
      .testCase()
      .className('privatelink-verify.spec')
      .name('the spec is valid and can run')
      .failure(input.errors.join('\n'), 'spec-error');
  }
  for (const c of input.cells) {
    const t = suite.testCase().className(`privatelink-verify.${c.region}.${c.model}`).name(cellName(c));
    if (c.got !== c.row.expect)
      t.failure(`expected ${c.row.expect}, got ${c.got}${c.because ? `: ${c.because}` : ''}`, 'matrix-cell');
  }
  for (const s of input.skipped) {
    suite
      .testCase()
      .className('privatelink-verify.skipped')
      .name(cellName(s))
      .skipped()
      .standardOutput(`skipped: ${s.row.skip ?? ''}`);
  }
  return builder.build();
}

/**
 * JUnit of live runs, one testsuite per region's report: a testcase per matrix cell (failed as a
 * failure, could-not-verify as an error: nothing was proven either way, skipped as skipped), one per
 * proof obligation, and one for cleanup, so leftovers are never a green run.
 */
export function liveJunitXml(reports: readonly Report[]): string {
  const builder = root.newBuilder();
  for (const r of reports) {
    const suite = builder
      .testSuite()
      .name(`privatelink-verify live run (${r.region}${r.specFile ? `, ${r.specFile}` : ''})`)
      .property('runId', r.runId)
      .property('verdict', r.verdict);
    if (r.timings.totalSeconds !== undefined) suite.time(r.timings.totalSeconds);
    let unproven = 0;
    for (const c of r.matrix ?? []) {
      const t = suite.testCase().className(`privatelink-verify.${r.region}.${c.model}`).name(liveCellName(c));
      const evidence = c.evidence.join('\n');
      if (c.result === 'failed') {
        t.failure(`expected ${c.expect}, observed ${c.observed ?? 'nothing'}: ${c.reason}`, 'matrix-cell');
        if (evidence) t.standardOutput(evidence);
      } else if (c.result === 'could-not-verify') {
        t.error(`could not verify: ${c.reason}`, 'could-not-verify', evidence || undefined);
      } else if (c.result === 'skipped') {
        t.skipped().standardOutput(/^skipped\b/i.test(c.reason) ? c.reason : `skipped: ${c.reason}`);
      } else if (c.reason || evidence) {
        t.standardOutput([c.reason, evidence].filter(Boolean).join('\n'));
      }
      if (c.result === 'failed' || c.result === 'could-not-verify') unproven++;
    }
    for (const o of r.obligations) {
      const t = suite.testCase().className(`privatelink-verify.${r.region}.obligations`).name(o.id);
      t.standardOutput(
        `${o.claim}\nobserved: ${o.observation}${o.evidence.length ? `\n${o.evidence.join('\n')}` : ''}`,
      );
      if (o.result === 'failed') t.failure(o.reason || o.observation, 'obligation');
      if (o.result === 'could-not-verify') t.error(o.reason || o.observation, 'could-not-verify');
      if (o.result !== 'passed') unproven++;
    }
    // A run that did not pass must not read as all green, even were it to carry no rows at all.
    if (r.verdict !== 'pass' && unproven === 0) {
      const t = suite
        .testCase()
        .className(`privatelink-verify.${r.region}.run`)
        .name('the run reached a verdict of pass');
      if (r.verdict === 'fail') t.failure(r.summary, 'verdict');
      else t.error(r.summary, 'verdict');
    }
    const cleanup = suite
      .testCase()
      .className(`privatelink-verify.${r.region}.cleanup`)
      .name('cleanup left nothing behind');
    if (r.cleanup.status === 'not-started')
      cleanup.skipped().standardOutput('cleanup had not finished when the report was taken');
    else if (hasLeftovers(r))
      cleanup
        .failure(
          `cleanup ${r.cleanup.status}: ${r.cleanup.leftovers.length} resource(s) left behind${
            r.cleanup.unlisted?.length ? `, ${r.cleanup.unlisted.length} list call(s) unanswered` : ''
          }`,
          'leftovers',
        )
        .standardOutput(
          [
            ...r.cleanup.leftovers.map((l) => `${l.type} ${l.id}${l.reason ? `: ${l.reason}` : ''}`),
            ...(r.cleanup.unlisted ?? []).map((u) => `could not list: ${u}`),
          ].join('\n'),
        );
  }
  return builder.build();
}
