/**
 * The expected-access matrix as people read it: one line per cell, failures first (they are what a
 * reviewer looks for, and what survives when a long comment is cut at its end), then cells that
 * could not be verified, then passes, then skipped rows with their reason.
 */
import { CELL_RESULT_ORDER, type CellResult, type MatrixCell } from '../../statemachine/contract.ts';
import { collapseRepeats, oneLine, tableCell } from './text.ts';

/** A cell with the region whose run observed it (one report per region). */
export interface RegionCell {
  region: string;
  cell: MatrixCell;
}

export const CELL_ICON: Record<CellResult, string> = {
  failed: '❌',
  'could-not-verify': '❔',
  passed: '✅',
  skipped: '⏭️',
};

/** The order cells are listed in: what needs action first. */
export const CELL_ORDER = CELL_RESULT_ORDER;

const COUNT_WORDS: Record<CellResult, string> = {
  passed: 'passed',
  failed: 'failed',
  'could-not-verify': 'could not be verified',
  skipped: 'skipped',
};

/** Failures first, then could-not-verify, passed, skipped; the spec's order (region, row) within each. */
export function orderCells<T extends { cell: MatrixCell }>(cells: readonly T[]): T[] {
  const rank = (c: T) => CELL_ORDER.indexOf(c.cell.result);
  // Array.prototype.sort is stable, so the tasks' order is kept within a result.
  return [...cells].sort((a, b) => rank(a) - rank(b));
}

/** "12 cells: 10 passed, 1 failed, 1 could not be verified" (passed always, the others when present). */
export function matrixCountLine(cells: readonly MatrixCell[]): string {
  const n = (r: CellResult) => cells.filter((c) => c.result === r).length;
  const parts = (['passed', 'failed', 'could-not-verify', 'skipped'] as const)
    .filter((r) => r === 'passed' || n(r) > 0)
    .map((r) => `${n(r)} ${COUNT_WORDS[r]}`);
  return `${cells.length} ${cells.length === 1 ? 'cell' : 'cells'}: ${parts.join(', ')}`;
}

/** Why a cell came out as it did; a skipped row's reason is why it was not run. */
function why(cell: MatrixCell): string {
  // The tasks write a skipped cell's reason as "skipped: <the row's skip>"; say "skipped" once.
  if (cell.result === 'skipped')
    return /^skipped\b/i.test(cell.reason) ? cell.reason : `skipped: ${cell.reason}`;
  return cell.reason;
}

/** The Markdown table, with a Region column when the cells come from more than one run. */
export function matrixMarkdown(cells: readonly RegionCell[], opts: { regionColumn: boolean }): string[] {
  const plain = cells.map((c) => c.cell);
  const out = ['### Expected-access matrix', '', `**${matrixCountLine(plain)}**`, ''];
  if (cells.length === 0) return out;
  const head = [
    ...(opts.regionColumn ? ['Region'] : []),
    'Row',
    'Caller',
    'From',
    'Model',
    'Action',
    'Phase',
    'Expected',
    'Observed',
    'Result',
    'Why',
  ];
  out.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
  for (const { region, cell } of orderCells(cells)) {
    const code = (s: string | undefined) => (s ? `\`${tableCell(s).replaceAll('`', "'")}\`` : '—');
    // A passed cell says enough by its icon; the others carry their reason and folded evidence.
    const reason = cell.result === 'passed' ? '' : tableCell(why(cell));
    const lines = collapseRepeats(cell.evidence);
    const evidence =
      cell.result !== 'passed' && lines.length
        ? `<details><summary>${cell.evidence.length} line(s)</summary>${lines.map(tableCell).join('<br>')}</details>`
        : '';
    const cols = [
      ...(opts.regionColumn ? [code(region)] : []),
      `**${tableCell(cell.row)}**${cell.tags.length ? ` <sub>${cell.tags.map(tableCell).join(', ')}</sub>` : ''}`,
      tableCell(cell.caller),
      cell.from,
      code(cell.model),
      tableCell(cell.action),
      cell.phase,
      code(cell.expect),
      cell.result === 'skipped' ? '—' : code(cell.observed),
      `${CELL_ICON[cell.result]} ${cell.result}`,
      [reason, evidence].filter(Boolean).join(' ') || '—',
    ];
    out.push(`| ${cols.join(' | ')} |`);
  }
  out.push('');
  return out;
}

/** Terminal lines: a count, then one aligned line per cell, the reason indented under any cell that did not pass. */
export function matrixText(cells: readonly RegionCell[], opts: { regionColumn: boolean }): string[] {
  const plain = cells.map((c) => c.cell);
  const out = [`  Expected-access matrix: ${matrixCountLine(plain)}`];
  const ordered = orderCells(cells);
  const rows = ordered.map(({ region, cell }) => [
    `[${cell.result}]`,
    ...(opts.regionColumn ? [region] : []),
    oneLine(cell.row),
    oneLine(cell.caller),
    cell.from,
    oneLine(cell.model),
    oneLine(cell.action),
    cell.phase,
    `expected ${cell.expect}`,
    cell.result === 'skipped' ? '' : `observed ${cell.observed ?? 'nothing'}`,
  ]);
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  ordered.forEach(({ cell }, i) => {
    out.push(
      `    ${rows[i]!.map((c, j) => c.padEnd(widths[j]!))
        .join('  ')
        .trimEnd()}`,
    );
    if (cell.result !== 'passed') {
      out.push(`        ${oneLine(why(cell))}`);
      for (const l of collapseRepeats(cell.evidence)) out.push(`        | ${oneLine(l)}`);
    }
  });
  return out;
}
