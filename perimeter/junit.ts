/**
 * JUnit XML (junit-report-builder) for CI test-report viewers: one testcase per matrix cell
 * (row × region × model), skipped rows kept as skipped, and the spec's own errors as one failing
 * case so a viewer never shows "all green" for a spec that could not run. Statically the cells are
 * predictions; a live run's report fills the same shape with observations.
 */
import junitModule, { type Builder } from 'junit-report-builder';
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
  return `${r.name ?? `row ${c.index + 1}`}: ${r.caller} from ${r.from}, ${r.action} in ${r.phase} → ${r.expect}`;
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
