/**
 * What a live run of a spec leaves for CI beside the comment: JUnit for test-report viewers and
 * SARIF for code scanning, from the reports of the spec's regions (one report per region), and the
 * cell counts an action output or an exit line can quote. One call for the CLI and the action.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type CellResult, CellResultSchema } from '../statemachine/contract.ts';
import { liveJunitXml } from './junit.ts';
import { type LiveSarifInput, liveSarifLog } from './sarif.ts';

export interface LiveOutputs {
  junit: string;
  sarif: string;
  /** Cells of every region by result. */
  cells: Record<CellResult, number>;
}

export function liveOutputs(input: LiveSarifInput): LiveOutputs {
  const cells = Object.fromEntries(CellResultSchema.options.map((r) => [r, 0])) as Record<CellResult, number>;
  for (const r of input.reports) for (const c of r.matrix ?? []) cells[c.result]++;
  return { junit: liveJunitXml(input.reports), sarif: liveSarifLog(input), cells };
}

/** Write the files asked for (parent directories created); returns what was written. */
export function writeLiveOutputs(
  input: LiveSarifInput,
  files: { junit?: string; sarif?: string },
): LiveOutputs {
  const out = liveOutputs(input);
  for (const [file, text] of [
    [files.junit, out.junit],
    [files.sarif, out.sarif],
  ] as const) {
    if (!file) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return out;
}
