/**
 * One renderer for the verification report: Markdown for the job summary and the pull request
 * comment, plain text for the terminal (the CLI's `run` command reuses it). A spec with several
 * regions runs one execution, so one report, per region: renderRegionReports* make them one document.
 */
import type { SpecChange } from '../../perimeter/diff.ts';
import {
  type Check,
  type MatrixCell,
  type Obligation,
  type ObligationResult,
  type ProbeResult,
  type Report,
  type ResourceRef,
  type RunOutcome,
  runOutcomeOf,
  worstRunOutcome,
} from '../../statemachine/contract.ts';
import { matrixMarkdown, matrixText, type RegionCell } from './matrix.ts';
import { escapeMarkdownText, oneLine, tableCell } from './text.ts';

export interface MarkdownOptions {
  /** Execution ARN, shown so a reader can find the run in Step Functions. */
  executionArn?: string;
  /** Console link to the execution. */
  executionUrl?: string;
  /** Link to the workflow run that produced the report. */
  workflowRunUrl?: string;
  /** True when the report was taken at the verdict and cleanup is still running. */
  cleanupStillRunning?: boolean;
}

const VERDICT_HEADLINE: Record<RunOutcome, string> = {
  pass: '✅ PrivateLink verification passed',
  'pass-with-leftovers': '⚠️ PrivateLink verification passed, but resources were left behind',
  fail: '❌ PrivateLink verification failed',
  error: '⚠️ PrivateLink verification could not complete',
};

const CHECK_ICON: Record<Check['status'], string> = {
  passed: '✅',
  failed: '❌',
  skipped: '⏭️',
  'could-not-verify': '❔',
};

const RESULT_ICON: Record<ObligationResult, string> = {
  passed: '✅',
  failed: '❌',
  'could-not-verify': '❔',
};

/** Short names for the obligation rows (the claim follows in plain words). */
const OBLIGATION_TITLE: Record<Obligation['id'], string> = {
  'reached-through-this-endpoint': "Through this run's endpoint",
  'no-other-way-out': 'Only through the endpoint',
  'policy-in-force-is-policy-written': 'Endpoint policy decides, as written',
  'own-deny-refuses-stably': "The run's Deny refuses, stably",
  'probe-role-as-written': 'Probe role as written',
};

const CHECK_TITLE: Record<Check['name'], string> = {
  allow: 'Allow through the endpoint',
  deny: 'Deny after the policy flip',
};

/** Markdown for a job summary or a pull request comment. */
export function renderReportMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const out = [`## ${VERDICT_HEADLINE[runOutcomeOf(report)]}`, ''];
  out.push(...reportBodyMarkdown(report, opts, { matrix: true }));
  out.push(...linkLines(opts));
  return `${out.join('\n').trimEnd()}\n`;
}

/** Everything of one report under its headline; `matrix: false` when a combined table shows its cells. */
function reportBodyMarkdown(report: Report, opts: MarkdownOptions, show: { matrix: boolean }): string[] {
  const out: string[] = [];
  const facts = [
    `**Region** \`${report.region}\``,
    `**Model** \`${report.modelId}\``,
    report.vpcEndpointId ? `**Endpoint** \`${report.vpcEndpointId}\`` : undefined,
    `**Run** \`${report.runId}\``,
    report.specFile ? `**Spec** \`${tableCell(report.specFile)}\`` : undefined,
  ].filter(Boolean);
  out.push(facts.join(' · '), '');
  out.push(escapeMarkdownText(report.summary), '');
  // Leftovers are never tucked away in a details block: they cost money and fill quotas.
  const warning = leftoverWarning(report);
  if (warning) {
    out.push(`> [!WARNING]`, `> ${escapeMarkdownText(warning)}`);
    for (const r of report.cleanup.leftovers)
      out.push(`> - ${resourceLabel(r)}${r.reason ? `: ${escapeMarkdownText(oneLine(r.reason))}` : ''}`);
    for (const u of report.cleanup.unlisted ?? [])
      out.push(`> - could not list: ${escapeMarkdownText(oneLine(u))}`);
    out.push('');
  }

  if (report.failure) {
    out.push(
      `> **Stopped at stage \`${report.failure.stage}\`**: \`${report.failure.error}\`` +
        (report.failure.cause ? ` — ${escapeMarkdownText(oneLine(report.failure.cause))}` : ''),
      '',
    );
  }

  if (show.matrix && report.matrix) out.push(...matrixMarkdown(cellsOf([report]), { regionColumn: false }));

  const obligations = report.obligations ?? [];
  if (obligations.length > 0) {
    out.push('| Claim | Observation | Result | Evidence |');
    out.push('| --- | --- | --- | --- |');
    for (const o of obligations) {
      const evidence = o.evidence.length
        ? `<details><summary>${o.evidence.length} line(s)</summary>${o.evidence.map((l) => tableCell(l)).join('<br>')}</details>`
        : '—';
      const warnings = o.warnings.length ? `<br>⚠️ ${o.warnings.map(tableCell).join('<br>⚠️ ')}` : '';
      out.push(
        `| **${OBLIGATION_TITLE[o.id]}**: ${tableCell(o.claim)} | ${tableCell(o.observation)}${warnings} | ${RESULT_ICON[o.result]} ${o.result} | ${evidence} |`,
      );
    }
    out.push('');
  }

  if (report.checks.length > 0) {
    out.push('| Check | Result | Expected | Observed | Attempts | Time | Why |');
    out.push('| --- | --- | --- | --- | ---: | ---: | --- |');
    for (const c of report.checks) {
      out.push(
        `| ${CHECK_TITLE[c.name]} | ${CHECK_ICON[c.status]} ${c.status} | \`${c.expected}\` | ${
          c.observed ? `\`${c.observed}\`` : '—'
        } | ${c.attempts} | ${formatDuration(c.elapsedSeconds)} | ${tableCell(c.reason)} |`,
      );
    }
    out.push('');
  }

  if (report.propagationSeconds !== undefined) {
    out.push(
      `**Policy propagation**: the endpoint refused the call ${formatDuration(report.propagationSeconds)} after the policy flip${
        report.stableAfterSeconds !== undefined
          ? `, and refused every call from ${formatDuration(report.stableAfterSeconds)} on`
          : ''
      }.`,
      '',
    );
  }

  for (const c of report.checks) {
    if (!c.evidence && c.outcomesSeen.length === 0) continue;
    out.push(`<details><summary>Evidence: ${CHECK_TITLE[c.name]}</summary>`, '');
    if (c.outcomesSeen.length > 0)
      out.push(`Outcomes seen, in order: ${c.outcomesSeen.map((o) => `\`${o}\``).join(' → ')}`, '');
    if (c.evidence) out.push(...evidenceLines(c.evidence).map((l) => `- ${escapeMarkdownText(l)}`), '');
    out.push('</details>', '');
  }

  out.push('<details><summary>Timings, resources, cleanup and cost</summary>', '');
  out.push(...timingLines(report).map((l) => `- ${l}`));
  out.push(`- Resources created: ${report.resources.length === 0 ? 'none' : ''}`);
  for (const r of report.resources) out.push(`  - ${resourceLabel(r)}`);
  out.push(`- Cleanup: **${cleanupLabel(report, opts.cleanupStillRunning)}**`);
  out.push(`- Estimated cost: **$${report.cost.estimatedUsd.toFixed(4)}** (${report.cost.basis})`);
  out.push('', '</details>', '');

  return out;
}

function linkLines(opts: {
  executionUrl?: string;
  workflowRunUrl?: string;
  executionArn?: string;
}): string[] {
  const out: string[] = [];
  const links: string[] = [];
  if (opts.executionUrl) links.push(`[Step Functions execution](${opts.executionUrl})`);
  if (opts.workflowRunUrl) links.push(`[workflow run](${opts.workflowRunUrl})`);
  if (links.length) out.push(links.join(' · '));
  if (opts.executionArn) out.push(`<sub>\`${opts.executionArn}\`</sub>`);
  return out;
}

/** Plain text for a terminal. */
export function renderReportText(report: Report): string {
  const outcome = runOutcomeOf(report);
  const out = [textHeadline(outcome), ...reportBodyText(report, { matrix: true })];
  return `${out.join('\n')}\n`;
}

function textHeadline(outcome: RunOutcome, suffix = ''): string {
  return `${outcome.toUpperCase()}: ${VERDICT_HEADLINE[outcome].replace(/^\S+\s/, '')}${suffix}`;
}

function reportBodyText(report: Report, show: { matrix: boolean }): string[] {
  const out: string[] = [];
  const warning = leftoverWarning(report);
  if (warning) out.push(`  WARNING: ${warning}`);
  out.push(
    `  region ${report.region}, model ${report.modelId}, run ${report.runId}${report.vpcEndpointId ? `, endpoint ${report.vpcEndpointId}` : ''}`,
  );
  if (report.specFile) out.push(`  spec ${oneLine(report.specFile)}`);
  out.push(`  ${report.summary}`);
  if (report.failure) {
    out.push(
      `  stopped at ${report.failure.stage}: ${report.failure.error}${report.failure.cause ? ` (${oneLine(report.failure.cause)})` : ''}`,
    );
  }
  out.push('');
  if (show.matrix && report.matrix) out.push(...matrixText(cellsOf([report]), { regionColumn: false }), '');
  for (const o of report.obligations ?? []) {
    out.push(`  [${o.result}] ${OBLIGATION_TITLE[o.id]}: ${o.claim}`);
    out.push(`           observed: ${oneLine(o.observation)}`);
    for (const w of o.warnings) out.push(`           warning: ${oneLine(w)}`);
    // The raw evidence of a row that did not pass: what to look at first.
    if (o.result !== 'passed') for (const l of o.evidence) out.push(`           | ${oneLine(l)}`);
  }
  if ((report.obligations ?? []).length) out.push('');
  for (const c of report.checks) {
    out.push(
      `  [${c.status}] ${CHECK_TITLE[c.name]}: expected ${c.expected}, observed ${c.observed ?? 'nothing'} after ${c.attempts} attempt(s), ${formatDuration(c.elapsedSeconds)}`,
    );
    out.push(`           ${c.reason}`);
    if (c.outcomesSeen.length) out.push(`           outcomes seen: ${c.outcomesSeen.join(' -> ')}`);
    if (c.evidence)
      for (const l of evidenceLines(c.evidence)) out.push(`           ${l.replaceAll('`', '')}`);
  }
  if (report.propagationSeconds !== undefined) {
    out.push(
      '',
      `  policy propagation: first refused ${formatDuration(report.propagationSeconds)} after the flip${
        report.stableAfterSeconds !== undefined
          ? `; refused every call from ${formatDuration(report.stableAfterSeconds)} on`
          : '; not refused every call from then on'
      }`,
    );
  }
  out.push('');
  for (const l of timingLines(report)) out.push(`  ${l.replaceAll('`', '')}`);
  out.push(
    `  resources: ${report.resources.length === 0 ? 'none' : report.resources.map((r) => `${r.type} ${r.id}`).join(', ')}`,
  );
  out.push(`  cleanup: ${cleanupLabel(report, false)}`);
  for (const r of report.cleanup.leftovers)
    out.push(`    left over: ${r.type} ${r.id}${r.reason ? ` (${oneLine(r.reason)})` : ''}`);
  for (const u of report.cleanup.unlisted ?? []) out.push(`    could not list: ${oneLine(u)}`);
  out.push(`  estimated cost: $${report.cost.estimatedUsd.toFixed(4)} (${report.cost.basis})`);
  return out;
}

/** One line that names the failing check and why: the message a failed step ends with. */
export function describeFailure(report: Report): string {
  const obligations = report.obligations ?? [];
  const broken = obligations.filter((o) => o.result === 'failed');
  const unverified = obligations.filter((o) => o.result === 'could-not-verify');
  const cells = report.matrix ?? [];
  const brokenCells = cells.filter((c) => c.result === 'failed');
  const unverifiedCells = cells.filter((c) => c.result === 'could-not-verify');
  const describe = (rows: Obligation[], cs: MatrixCell[]) =>
    [
      ...rows.map((o) => `obligation "${o.id}" ${o.result}: ${oneLine(o.reason || o.observation)}`),
      ...cs.map((c) => `matrix row "${c.row}" (${c.model}) ${c.result}: ${oneLine(c.reason)}`),
    ].join(' ');
  // A failed matrix cell fails the run as a failed obligation does (Report.matrix).
  if (broken.length > 0 || brokenCells.length > 0) return describe(broken, brokenCells);
  // A stage that stopped the run says more than the rows it left unobserved.
  const stopped = report.failure && report.failure.error !== 'CouldNotVerify';
  if (!stopped && report.verdict === 'error' && unverified.length + unverifiedCells.length > 0)
    return describe(unverified, unverifiedCells);
  const failed = report.checks.filter((c) => c.status === 'failed');
  if (failed.length > 0) {
    return failed
      .map(
        (c) =>
          `check "${c.name}" failed: expected ${c.expected}, observed ${c.observed ?? 'nothing'}. ${c.reason}`,
      )
      .join(' ');
  }
  if (report.failure) {
    return `the run stopped at stage "${report.failure.stage}" with ${report.failure.error}${
      report.failure.cause ? `: ${oneLine(report.failure.cause)}` : ''
    }`;
  }
  return report.summary;
}

function evidenceLines(e: ProbeResult): string[] {
  const lines = [
    `last call at ${e.at}: \`${e.outcome}\`${e.httpStatus !== undefined ? ` (HTTP ${e.httpStatus})` : ''} in ${Math.round(e.latencyMs)} ms`,
    // Whether these are this run's endpoint ENIs is the first obligation's row, not a guess from the range.
    `\`${e.hostname}\` resolved to ${e.resolvedAddresses.length ? e.resolvedAddresses.map((a) => `\`${a}\``).join(', ') : 'nothing'}`,
  ];
  if (e.errorCode || e.errorMessage)
    lines.push(`error: ${e.errorCode ?? ''}${e.errorMessage ? ` ${oneLine(e.errorMessage)}` : ''}`.trim());
  return lines;
}

function timingLines(report: Report): string[] {
  const t = report.timings;
  const lines = [`Started \`${t.startedAt}\``];
  if (report.leasedNetwork)
    lines.push(`Leased network \`${report.leasedNetwork}\` from the pool (the run built no VPC of its own)`);
  if (report.quotaWaitSeconds)
    lines.push(
      `Waited ${formatDuration(report.quotaWaitSeconds)} ${report.leasedNetwork ? 'for a free pooled network' : 'for a VPC slot (region at its VPC quota)'}`,
    );
  if (t.verdictAt) lines.push(`Verdict \`${t.verdictAt}\``);
  if (t.finishedAt) lines.push(`Finished \`${t.finishedAt}\``);
  if (t.totalSeconds !== undefined) lines.push(`Total ${formatDuration(t.totalSeconds)}`);
  return lines;
}

/** One sentence when the run may have left something behind; undefined when it provably did not. */
export function leftoverWarning(report: Report): string | undefined {
  const c = report.cleanup;
  if (c.status === 'not-started') return undefined;
  const unlisted = c.unlisted?.length ?? 0;
  if (c.status === 'complete' && c.leftovers.length === 0 && unlisted === 0) return undefined;
  return `Cleanup ${c.status}: ${c.leftovers.length} resource(s) left behind${
    unlisted ? ` and ${unlisted} list call(s) unanswered (more may remain)` : ''
  }. Delete them or run \`privatelink-verify sweep\` once the cause is fixed.`;
}

function cleanupLabel(report: Report, stillRunning: boolean | undefined): string {
  if (report.cleanup.status === 'not-started') {
    return stillRunning ? 'running (the execution cleans up after the verdict)' : 'not started';
  }
  if (report.cleanup.status === 'complete' && report.cleanup.leftovers.length === 0)
    return 'complete, nothing left';
  return `${report.cleanup.status}, ${report.cleanup.leftovers.length} resource(s) left`;
}

function resourceLabel(r: ResourceRef): string {
  return `${r.type} \`${r.id}\``;
}

/** A duration for people: "54.1 s" under two minutes, else minutes and whole seconds ("9 min 0 s", never "8 min 60 s"). */
export function formatDuration(s: number): string {
  if (s < 119.95) return `${Math.round(s * 10) / 10} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

// ---- several regions, one document -------------------------------------------------------

/** The cells of some reports, each with the region whose run observed it. */
export function cellsOf(reports: readonly Report[]): RegionCell[] {
  return reports.flatMap((r) => (r.matrix ?? []).map((cell) => ({ region: r.region, cell })));
}

/**
 * Worst first. A failure outranks an error as it does inside one run (build-report.ts
 * decideVerdict: "an observation that contradicts a claim is a perimeter failure, whatever else
 * happened"): a region that proved the perimeter broken is the news, whatever another could not see.
 */
/** The outcome of several regions' runs: the worst of their runOutcomeOf (worstRunOutcome). */
export function combinedOutcome(reports: readonly Report[]): RunOutcome {
  return worstRunOutcome(reports.map(runOutcomeOf));
}

const OUTCOME_ICON: Record<RunOutcome, string> = {
  pass: '✅',
  'pass-with-leftovers': '⚠️',
  fail: '❌',
  error: '⚠️',
};

const OUTCOME_WORDS: Record<RunOutcome, string> = {
  pass: 'passed',
  'pass-with-leftovers': 'passed, resources left behind',
  fail: 'failed',
  error: 'could not complete',
};

export interface RegionReportsOptions {
  /** Per region: that execution's links, and whether its cleanup is still running. */
  perRegion?: Readonly<Record<string, Omit<MarkdownOptions, 'workflowRunUrl'>>>;
  /** Link to the workflow run that produced the reports. */
  workflowRunUrl?: string;
  /** What the pull request changes in the perimeter against the base branch (perimeter/diff.ts). */
  changes?: readonly SpecChange[];
}

function changesMarkdown(changes: readonly SpecChange[]): string[] {
  const out = ['### What this pull request changes', ''];
  if (changes.length === 0) out.push('No change to the perimeter against the base branch.');
  for (const c of changes) out.push(`- **${c.kind}** ${escapeMarkdownText(oneLine(c.subject))}`);
  out.push('');
  return out;
}

const specFilesOf = (reports: readonly Report[]) => [
  ...new Set(reports.flatMap((r) => (r.specFile ? [r.specFile] : []))),
];
/** Reports of a run that carried a perimeter but whose cells are not there (a run that stopped early). */
const withoutMatrix = (reports: readonly Report[]) => reports.filter((r) => !r.matrix);
const regionCount = (reports: readonly Report[]) => new Set(reports.map((r) => r.region)).size;

/**
 * One Markdown document for the reports of one spec's regions (job summary, sticky comment): the
 * worst outcome as headline, every region's outcome and leftovers up top, what the pull request
 * changes, one matrix of every region's cells, then each region's obligations, checks and costs.
 */
export function renderRegionReportsMarkdown(
  reports: readonly Report[],
  opts: RegionReportsOptions = {},
): string {
  const out = [`## ${VERDICT_HEADLINE[combinedOutcome(reports)]}`, ''];
  const specs = specFilesOf(reports);
  const facts = [
    specs.length ? `**Spec** ${specs.map((f) => `\`${tableCell(f)}\``).join(', ')}` : undefined,
    reports.length
      ? `**Regions** ${reports.map((r) => `\`${r.region}\` ${OUTCOME_ICON[runOutcomeOf(r)]} ${OUTCOME_WORDS[runOutcomeOf(r)]}`).join(' · ')}`
      : 'No region reported.',
  ].filter(Boolean);
  out.push(facts.join(' · '), '');
  // Leftovers up top too: the headline of a failing run would otherwise not mention them.
  const warnings = reports.flatMap((r) => {
    const w = leftoverWarning(r);
    return w ? [`> - \`${r.region}\`: ${escapeMarkdownText(w)}`] : [];
  });
  if (warnings.length) out.push('> [!WARNING]', '> Resources may be left behind:', ...warnings, '');
  if (opts.changes) out.push(...changesMarkdown(opts.changes));
  if (reports.some((r) => r.matrix)) {
    out.push(...matrixMarkdown(cellsOf(reports), { regionColumn: regionCount(reports) > 1 }));
    const without = withoutMatrix(reports);
    if (without.length)
      out.push(
        `_No matrix cells from ${without.map((r) => `\`${r.region}\``).join(', ')}: see ${without.length === 1 ? 'its section' : 'their sections'} below._`,
        '',
      );
  }
  for (const r of reports) {
    const outcome = runOutcomeOf(r);
    const regionOpts = opts.perRegion?.[r.region] ?? {};
    out.push(`### ${OUTCOME_ICON[outcome]} \`${r.region}\`: ${OUTCOME_WORDS[outcome]}`, '');
    out.push(...reportBodyMarkdown(r, regionOpts, { matrix: false }));
    const links = linkLines(regionOpts);
    if (links.length) out.push(...links, '');
  }
  out.push(...linkLines({ ...(opts.workflowRunUrl ? { workflowRunUrl: opts.workflowRunUrl } : {}) }));
  return `${out.join('\n').trimEnd()}\n`;
}

/** describeFailure for several regions: each region that did not pass, by name. */
export function describeFailures(reports: readonly Report[]): string {
  const notPassed = reports.filter((r) => runOutcomeOf(r) !== 'pass');
  if (reports.length === 1) return describeFailure(reports[0]!);
  if (notPassed.length === 0) return reports.map((r) => `${r.region}: ${r.summary}`).join(' | ');
  return notPassed.map((r) => `${r.region}: ${describeFailure(r)}`).join(' | ');
}

/** The same document for a terminal. */
export function renderRegionReportsText(
  reports: readonly Report[],
  opts: Pick<RegionReportsOptions, 'changes'> = {},
): string {
  const each = reports.map((r) => `${r.region} ${runOutcomeOf(r)}`).join(', ');
  const out = [
    textHeadline(combinedOutcome(reports), reports.length ? ` (${each})` : ': no region reported'),
  ];
  for (const r of reports) {
    const w = leftoverWarning(r);
    if (w) out.push(`  WARNING: ${r.region}: ${w}`);
  }
  for (const f of specFilesOf(reports)) out.push(`  spec ${oneLine(f)}`);
  out.push('');
  if (opts.changes) {
    out.push('  What this pull request changes:');
    if (opts.changes.length === 0) out.push('    no change to the perimeter against the base branch');
    for (const c of opts.changes) out.push(`    ${c.kind} ${oneLine(c.subject)}`);
    out.push('');
  }
  if (reports.some((r) => r.matrix)) {
    out.push(...matrixText(cellsOf(reports), { regionColumn: regionCount(reports) > 1 }));
    const without = withoutMatrix(reports);
    if (without.length) out.push(`    no matrix cells from ${without.map((r) => r.region).join(', ')}`);
    out.push('');
  }
  for (const r of reports) {
    out.push(
      `== ${r.region}: ${runOutcomeOf(r).toUpperCase()} ==`,
      ...reportBodyText(r, { matrix: false }),
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}
