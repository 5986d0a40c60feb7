/** Text from a run made safe for one line of a terminal or one cell of a Markdown table. */

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Keep a table cell in its row: no newlines, no unescaped pipes. Backslashes are escaped first: a
 * run's `\|` would otherwise become `\\|`, which GFM reads as an escaped backslash and a cell end.
 */
export function tableCell(s: string): string {
  return escapeMarkdownText(oneLine(s)).replaceAll('\\', '\\\\').replaceAll('|', '\\|');
}

/** Text from the run must not open HTML comments or tags in the comment (it could hide the marker). */
export function escapeMarkdownText(s: string): string {
  return s.replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** Runs of the same line as one, with how many times it came: a row polled until its window ended repeats itself. */
export function collapseRepeats(lines: readonly string[]): string[] {
  const out: { line: string; n: number }[] = [];
  for (const line of lines) {
    const last = out.at(-1);
    if (last && last.line === line) last.n++;
    else out.push({ line, n: 1 });
  }
  return out.map(({ line, n }) => (n > 1 ? `${line} (×${n})` : line));
}
