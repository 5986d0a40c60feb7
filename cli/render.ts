/** Terminal output of `local`: the shared report text, then what the local run measured. */
import { leftoverWarning, renderReportText } from '../workflows-src/report/render.ts';
import type { LocalResult } from './local.ts';

export function renderLocalResult(r: LocalResult): string {
  const f = r.figures;
  const lines = [
    renderReportText(r.report).trimEnd(),
    '',
    `Execution: ${r.executionStatus}`,
    ...(leftoverWarning(r.report) ? [`WARNING: ${leftoverWarning(r.report)}`] : []),
    r.leftovers.length
      ? `Leftovers in the emulator: ${r.leftovers.map((l) => `${l.type} ${l.id}`).join(', ')}`
      : 'Leftovers in the emulator: none',
    `Measured: wall ${f.wallSeconds.toFixed(1)} s, simulated ${f.simulatedSeconds.toFixed(0)} s, ${f.stateTransitions} states entered, peak RSS ${f.peakRssMb.toFixed(0)} MB` +
      (f.verdictToEndSeconds !== undefined
        ? `, verdict known ${f.verdictToEndSeconds.toFixed(0)} simulated s before the end`
        : ''),
  ];
  return `${lines.join('\n')}\n`;
}
