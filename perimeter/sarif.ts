/**
 * SARIF 2.1.0 logs (node-sarif-builder), each result anchored to its file, line and column: the
 * static findings, and, from live runs, every matrix cell that failed or could not be verified at
 * the line of the spec that declares its row, so code scanning shows it on the pull request's diff.
 */
import { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } from 'node-sarif-builder';
import type { MatrixCell, Report } from '../statemachine/contract.ts';
import type { LoadedSpec, SourceLocation } from './load.ts';
import type { Finding } from './policy-checks.ts';
import { LIVE_RULES, STATIC_RULES } from './rules.ts';

export const TOOL_NAME = 'privatelink-verify';

function buildLog(results: readonly Finding[], rules: Record<string, string>, version: string): string {
  const run = new SarifRunBuilder().initSimple({ toolDriverName: TOOL_NAME, toolDriverVersion: version });
  for (const [ruleId, text] of Object.entries(rules))
    run.addRule(new SarifRuleBuilder().initSimple({ ruleId, shortDescriptionText: text }));
  for (const f of results) {
    const result = new SarifResultBuilder().initSimple({
      level: f.level,
      messageText: f.message,
      ruleId: f.rule,
      fileUri: f.at.file,
    });
    // Start only: the builder would add endColumn 1, before the start column (the SARIF multitool's
    // SARIF1013 refuses that). SARIF 2.1.0 (region): "If endColumn is absent, it SHALL default to a
    // value one greater than the column number of the last character on the line": to the line's end.
    result.setLocationRegion({ startLine: f.at.line, startColumn: f.at.column });
    run.addResult(result);
  }
  const log = new SarifBuilder();
  log.addRun(run);
  return log.buildSarifJsonString({ indent: true });
}

/** `findings` with file paths relative to the repository root, as code scanning expects. */
export function sarifLog(findings: readonly Finding[], version: string): string {
  return buildLog(findings, STATIC_RULES, version);
}

/**
 * Where a live cell's row is written: the row of that name, else the row at its index (0-based, as
 * LoadedSpec.matrix), else the top of the spec. Default rows (a spec without `matrix:`) are
 * written nowhere, so they point at the top of the spec, as LoadedSpec.matrix does.
 */
export function cellAnchor(spec: Pick<LoadedSpec, 'source' | 'matrix'>, cell: MatrixCell): SourceLocation {
  const entry =
    spec.matrix.find((m) => m.row.name !== undefined && m.row.name === cell.row) ?? spec.matrix[cell.index];
  return entry?.at ?? spec.source.locate([]);
}

function rowWords(cell: MatrixCell): string {
  const name = /^row \d+$/.test(cell.row) ? cell.row : `row "${cell.row}"`;
  return `${name} (${cell.caller} from ${cell.from}, ${cell.action} in ${cell.phase})`;
}

/** The live cells that need a person, as results: failed cells are errors, unobserved ones warnings. */
export function liveCellResults(
  reports: readonly Report[],
  spec: Pick<LoadedSpec, 'source' | 'matrix'>,
): Finding[] {
  return reports.flatMap((r) =>
    (r.matrix ?? []).flatMap((cell): Finding[] => {
      if (cell.result !== 'failed' && cell.result !== 'could-not-verify') return [];
      const at = cellAnchor(spec, cell);
      const where = `${rowWords(cell)} in ${r.region} for ${cell.model}`;
      const message =
        cell.result === 'failed'
          ? `${where}: expected ${cell.expect}, observed ${cell.observed ?? 'nothing'}: ${cell.reason}`
          : `${where} could not be verified (expected ${cell.expect}${cell.observed ? `, observed ${cell.observed}` : ''}): ${cell.reason}`;
      return [
        {
          rule: cell.result === 'failed' ? 'cell-failed' : 'cell-could-not-verify',
          level: cell.result === 'failed' ? 'error' : 'warning',
          message,
          at,
        },
      ];
    }),
  );
}

export interface LiveSarifInput {
  /** The reports of the spec's regions, one per region. */
  reports: readonly Report[];
  /** The spec the runs carried, as loadSpec read it: where each row is written. */
  spec: Pick<LoadedSpec, 'source' | 'matrix'>;
  /** The static findings of the same spec (runStaticChecks), in the same log. */
  findings?: readonly Finding[];
  version: string;
}

/** One SARIF log of the static findings and the live cells that failed or could not be verified. */
export function liveSarifLog(input: LiveSarifInput): string {
  return buildLog(
    [...(input.findings ?? []), ...liveCellResults(input.reports, input.spec)],
    { ...STATIC_RULES, ...LIVE_RULES },
    input.version,
  );
}
