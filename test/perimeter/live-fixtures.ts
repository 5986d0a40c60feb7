/**
 * Live reports with an expected-access matrix, built as the tasks will fill them (Report.matrix,
 * Report.specFile) and parsed by ReportSchema, so the renderers, JUnit and SARIF are tested on the
 * contract's shape without an emulator run. The cells follow examples/deliberately-failing.yml.
 */
import { type MatrixCell, MatrixCellSchema, type Report, ReportSchema } from '../../statemachine/contract.ts';
import { fixtureReport, MODEL } from '../action/fixtures.ts';

export const FAILING_SPEC = 'examples/deliberately-failing.yml';

/** A cell of row `index` (0-based, as LoadedSpec.matrix) with defaults the schema would give a spec row. */
export function cell(
  over: Partial<MatrixCell> & Pick<MatrixCell, 'index' | 'result' | 'expect'>,
): MatrixCell {
  return MatrixCellSchema.parse({
    row: `row ${over.index + 1}`,
    caller: 'workload',
    from: 'vpc',
    model: MODEL,
    action: 'InvokeModel',
    phase: 'allow-policy',
    reason: '',
    ...over,
  });
}

/** The five rows of deliberately-failing.yml as a run in `region` would observe them. */
export function failingCells(region = 'us-east-1'): MatrixCell[] {
  return [
    cell({
      index: 1,
      row: 'analytics-allowed',
      caller: 'analytics',
      expect: 'allowed',
      result: 'failed',
      observed: 'not-allowed-by-endpoint-policy',
      reason: 'refused: no statement of the endpoint policy allows the analytics role',
      evidence: [`${region}: AccessDeniedException: because no VPC endpoint policy allows`],
    }),
    cell({
      index: 2,
      row: 'outside-allowed',
      from: 'outside',
      expect: 'allowed',
      result: 'failed',
      observed: 'denied-by-identity-policy',
      reason: 'refused by the identity policy: aws:SourceVpce does not match from outside',
    }),
    cell({
      index: 4,
      row: 'run-deny-refuses',
      phase: 'after-deny',
      expect: 'denied-by-endpoint-policy',
      result: 'could-not-verify',
      observed: 'throttled',
      reason: 'every call in the window was throttled (ThrottlingException)',
    }),
    cell({
      index: 0,
      row: 'workload-allowed',
      expect: 'allowed',
      result: 'passed',
      observed: 'allowed',
      reason: 'allowed',
    }),
    cell({
      index: 3,
      row: 'bystander-refused',
      caller: 'bystander',
      expect: 'denied-by-endpoint-policy',
      result: 'passed',
      observed: 'denied-by-endpoint-policy',
      reason: 'refused by the endpoint policy',
    }),
  ];
}

/** A final report of one region's run carrying `matrix`, validated by the contract's schema. */
export function liveReport(
  region: string,
  matrix: MatrixCell[] | undefined,
  verdict: Report['verdict'] = 'fail',
  over: Partial<Report> = {},
): Report {
  return ReportSchema.parse({
    ...fixtureReport(verdict),
    runId: `run-${region}`,
    region,
    specFile: FAILING_SPEC,
    ...(matrix ? { matrix } : {}),
    cleanup: { status: 'complete', leftovers: [] },
    ...over,
  });
}
