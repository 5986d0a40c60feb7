/**
 * What a spec run leaves where people look: the Markdown of the job summary and the comment, the
 * JUnit XML file and the SARIF file. Everything the action renders for a spec goes through
 * `renderSpecRun`, the one call site where the multi-report renderer and the live JUnit/SARIF
 * writers plug in.
 */
import { staticJunit } from '../../cli/check.ts';
import type { StaticCheckResult } from '../../perimeter/check.ts';
import { renderChanges, type SpecChange } from '../../perimeter/diff.ts';
import { type JunitCell, junitXml, liveJunitXml } from '../../perimeter/junit.ts';
import { liveSarifLog, sarifLog } from '../../perimeter/sarif.ts';
import type { Report } from '../../statemachine/contract.ts';
import type { PerimeterInput } from '../../statemachine/perimeter-spec.ts';
import { renderRegionReportsMarkdown, renderReportMarkdown } from '../report/render.ts';
import type { VerificationResult } from './verify.ts';

/** Version the SARIF log names as its tool's (the CLI writes the same). */
export const TOOL_VERSION = '0.1.0';

export interface RegionRun {
  region: string;
  /** The verification, when it could be started and followed. */
  result?: VerificationResult;
  /** Why there is no result (StartExecution refused, …). */
  error?: string;
}

export interface SpecRunContext {
  static: StaticCheckResult;
  /** Lines that stopped the run before anything was started; empty when it ran. */
  problems: readonly string[];
  /** Why the spec, though it can run, was not run live (a fork's pull request). */
  skipped?: string;
  perimeter?: PerimeterInput;
  runs: readonly RegionRun[];
  changes?: readonly SpecChange[];
  workflowRunUrl?: string;
  /** Markdown of one region's run without a report (the action's "could not complete" text). */
  noReport: (run: RegionRun) => string;
}

export interface SpecRendering {
  markdown: string;
  junit: string;
  sarif: string;
}

/**
 * The one call site for a spec run's outputs: the multi-region renderer (workflows-src/report/),
 * the live JUnit (one testcase per cell, obligation and cleanup per region) and the live SARIF
 * (static findings and every failed or unobserved cell at its row's line). A region without a
 * report keeps the JUnit that names it as a failing case.
 */
export function renderSpecRun(ctx: SpecRunContext): SpecRendering {
  const ran = !ctx.problems.length && !ctx.skipped && ctx.perimeter !== undefined;
  const reports = ctx.runs.flatMap((r) => (r.result?.report ? [r.result.report] : []));
  const everyRegionReported = ran && reports.length === ctx.runs.length;
  return {
    markdown: specMarkdown(ctx),
    junit: !ran ? staticJunit(ctx.static) : everyRegionReported ? liveJunitXml(reports) : liveJunit(ctx),
    sarif:
      ran && ctx.static.loaded
        ? liveSarifLog({
            reports,
            spec: ctx.static.loaded,
            findings: ctx.static.findings,
            version: TOOL_VERSION,
          })
        : sarifLog(ctx.static.findings, TOOL_VERSION),
  };
}

function specMarkdown(ctx: SpecRunContext): string {
  const parts: string[] = [];
  if (ctx.problems.length) {
    parts.push(
      `## ❌ Perimeter spec \`${ctx.static.specFile}\` cannot run: nothing was started`,
      '',
      ...ctx.problems.map((p) => `- \`${p.replaceAll('`', "'")}\``),
      '',
      'Check it locally with `npx privatelink-verify check`.',
    );
  } else if (ctx.skipped) {
    parts.push(`## ⏭️ Perimeter spec \`${ctx.static.specFile}\` checked, not verified live`, '', ctx.skipped);
  } else if (ctx.runs.length > 0 && ctx.runs.every((r) => r.result?.report)) {
    parts.push(
      renderRegionReportsMarkdown(
        ctx.runs.map((r) => r.result!.report!),
        {
          perRegion: Object.fromEntries(
            ctx.runs.map((r) => [
              r.region,
              {
                executionArn: r.result!.executionArn,
                executionUrl: r.result!.executionUrl,
                cleanupStillRunning: r.result!.status === 'RUNNING',
              },
            ]),
          ),
          ...(ctx.workflowRunUrl ? { workflowRunUrl: ctx.workflowRunUrl } : {}),
          ...(ctx.changes ? { changes: ctx.changes } : {}),
        },
      ),
    );
  } else {
    const several = ctx.runs.length > 1;
    for (const run of ctx.runs) {
      const r = run.result;
      const body = r?.report
        ? renderReportMarkdown(r.report, {
            executionArn: r.executionArn,
            executionUrl: r.executionUrl,
            ...(ctx.workflowRunUrl ? { workflowRunUrl: ctx.workflowRunUrl } : {}),
            cleanupStillRunning: r.status === 'RUNNING',
          })
        : ctx.noReport(run);
      // Each region's report under its own heading, one level down, so the page reads as one.
      parts.push(
        several ? `<details open><summary><b>${run.region}</b></summary>\n\n${body}\n</details>\n` : body,
      );
    }
  }
  const notes = ctx.static.findings.filter((f) => f.level !== 'error' || f.rule.startsWith('row-'));
  if (notes.length && !ctx.problems.length) {
    parts.push(
      '',
      `<details><summary>Static checks of <code>${ctx.static.specFile}</code>: ${notes.length} note(s)</summary>`,
      '',
      ...notes.map((f) => `- ${f.at.file}:${f.at.line}:${f.at.column} ${f.level} [${f.rule}] ${f.message}`),
      '',
      '</details>',
    );
  }
  const changesShown =
    ctx.runs.length > 0 && ctx.runs.every((r) => r.result?.report) && !ctx.problems.length && !ctx.skipped;
  if (ctx.changes && !changesShown) parts.push('', '```', renderChanges(ctx.changes), '```');
  return `${parts.join('\n')}\n`;
}

/** One JUnit testcase per observed cell per region; a region without a report is one failing case. */
function liveJunit(ctx: SpecRunContext): string {
  const matrix = ctx.perimeter!.matrix;
  const cells: JunitCell[] = [];
  const skipped: { row: (typeof matrix)[number]; index: number }[] = [];
  const errors: string[] = [];
  for (const run of ctx.runs) {
    const report: Report | undefined = run.result?.report;
    if (!report) {
      errors.push(`${run.region}: ${run.error ?? run.result?.message ?? 'no report'}`);
      continue;
    }
    for (const c of report.matrix ?? []) {
      const row = matrix[c.index];
      if (!row) continue;
      if (c.result === 'skipped') {
        if (!skipped.some((s) => s.index === c.index)) skipped.push({ row, index: c.index });
        continue;
      }
      cells.push({
        row,
        index: c.index,
        region: run.region,
        model: c.model,
        got: c.result === 'passed' ? row.expect : (c.observed ?? c.result),
        because: c.reason,
      });
    }
  }
  return junitXml({ suite: `privatelink-verify (${ctx.static.specFile})`, cells, skipped, errors });
}
