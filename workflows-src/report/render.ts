/**
 * One renderer for the verification report: Markdown for the job summary and the pull request
 * comment, plain text for the terminal (the CLI's `run` command reuses it).
 */
import {
  type Check,
  type Obligation,
  type ObligationResult,
  type ProbeResult,
  type Report,
  type ResourceRef,
  type RunOutcome,
  runOutcomeOf,
} from '../../statemachine/contract.ts';

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
  const out: string[] = [];
  const outcome = runOutcomeOf(report);
  out.push(`## ${VERDICT_HEADLINE[outcome]}`, '');
  const facts = [
    `**Region** \`${report.region}\``,
    `**Model** \`${report.modelId}\``,
    report.vpcEndpointId ? `**Endpoint** \`${report.vpcEndpointId}\`` : undefined,
    `**Run** \`${report.runId}\``,
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

  const links: string[] = [];
  if (opts.executionUrl) links.push(`[Step Functions execution](${opts.executionUrl})`);
  if (opts.workflowRunUrl) links.push(`[workflow run](${opts.workflowRunUrl})`);
  if (links.length) out.push(links.join(' · '));
  if (opts.executionArn) out.push(`<sub>\`${opts.executionArn}\`</sub>`);
  return `${out.join('\n').trimEnd()}\n`;
}

/** Plain text for a terminal. */
export function renderReportText(report: Report): string {
  const out: string[] = [];
  const outcome = runOutcomeOf(report);
  out.push(`${outcome.toUpperCase()}: ${VERDICT_HEADLINE[outcome].replace(/^\S+\s/, '')}`);
  const warning = leftoverWarning(report);
  if (warning) out.push(`  WARNING: ${warning}`);
  out.push(
    `  region ${report.region}, model ${report.modelId}, run ${report.runId}${report.vpcEndpointId ? `, endpoint ${report.vpcEndpointId}` : ''}`,
  );
  out.push(`  ${report.summary}`);
  if (report.failure) {
    out.push(
      `  stopped at ${report.failure.stage}: ${report.failure.error}${report.failure.cause ? ` (${oneLine(report.failure.cause)})` : ''}`,
    );
  }
  out.push('');
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
  return `${out.join('\n')}\n`;
}

/** One line that names the failing check and why: the message a failed step ends with. */
export function describeFailure(report: Report): string {
  const obligations = report.obligations ?? [];
  const broken = obligations.filter((o) => o.result === 'failed');
  const unverified = obligations.filter((o) => o.result === 'could-not-verify');
  const describe = (rows: Obligation[]) =>
    rows.map((o) => `obligation "${o.id}" ${o.result}: ${oneLine(o.reason || o.observation)}`).join(' ');
  if (broken.length > 0) return describe(broken);
  // A stage that stopped the run says more than the rows it left unobserved.
  const stopped = report.failure && report.failure.error !== 'CouldNotVerify';
  if (!stopped && report.verdict === 'error' && unverified.length > 0) return describe(unverified);
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

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Keep a table cell in its row: no newlines, no unescaped pipes. */
function tableCell(s: string): string {
  return escapeMarkdownText(oneLine(s)).replaceAll('|', '\\|');
}

/** Text from the run must not open HTML comments or tags in the comment (it could hide the marker). */
function escapeMarkdownText(s: string): string {
  return s.replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
