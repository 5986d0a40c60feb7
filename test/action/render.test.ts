import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffPerimeters } from '../../perimeter/diff.ts';
import { loadSpec } from '../../perimeter/load.ts';
import { perimeterInput } from '../../perimeter/resolve.ts';
import { OBLIGATION_ORDER, type Report } from '../../statemachine/contract.ts';
import {
  BODY_LIMIT,
  COMMENT_MARKER,
  isForkPullRequest,
  truncateBody,
} from '../../workflows-src/action/github.ts';
import { REPO_ROOT } from '../../workflows-src/build.ts';
import {
  combinedOutcome,
  describeFailure,
  describeFailures,
  formatDuration,
  renderRegionReportsMarkdown,
  renderRegionReportsText,
  renderReportMarkdown,
  renderReportText,
} from '../../workflows-src/report/render.ts';
import { cell, failingCells, liveReport } from '../perimeter/live-fixtures.ts';
import { fixtureReport, MODEL, pullRequestPayload } from './fixtures.ts';

const perimeterOf = (file: string) =>
  perimeterInput(loadSpec(join(REPO_ROOT, file), { repoRoot: REPO_ROOT }));

describe('report rendering', () => {
  it('a pass with leftovers is never "passed" alone: its own headline, a warning, and each leftover with its reason', () => {
    const report = fixtureReport('pass', {
      cleanup: {
        status: 'incomplete',
        leftovers: [{ type: 'vpc', id: 'vpc-0left', reason: 'delete refused: UnauthorizedOperation: no' }],
        unlisted: ['DescribeVpcs: UnauthorizedOperation: no'],
      },
    });
    const md = renderReportMarkdown(report);
    expect(md).toContain('## ⚠️ PrivateLink verification passed, but resources were left behind');
    expect(md).not.toContain('## ✅');
    expect(md).toMatch(
      /> \[!WARNING\]\n> Cleanup incomplete: 1 resource\(s\) left behind and 1 list call\(s\) unanswered/,
    );
    expect(md).toContain('> - vpc `vpc-0left`: delete refused: UnauthorizedOperation: no');
    const text = renderReportText(report);
    expect(text.startsWith('PASS-WITH-LEFTOVERS:')).toBe(true);
    expect(text).toContain('left over: vpc vpc-0left (delete refused: UnauthorizedOperation: no)');
  });

  it('Markdown carries the verdict, each check with its evidence, propagation, timings, resources, cleanup, cost and links', () => {
    const md = renderReportMarkdown(fixtureReport('pass'), {
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:sm:run',
      executionUrl: 'https://us-east-1.console.aws.amazon.com/states/home',
    });
    expect(md).toContain('## ✅ PrivateLink verification passed');
    expect(md).toMatch(/\| Allow through the endpoint \| ✅ passed \| `allowed` \| `allowed` \| 2 \|/);
    expect(md).toMatch(/\| Deny after the policy flip \| ✅ passed \| `denied-by-endpoint-policy` \|/);
    expect(md).toContain('Outcomes seen, in order: `network-unreachable` → `allowed`');
    expect(md).toContain('resolved to `10.42.0.37`');
    expect(md).toContain('refused the call 31 s after the policy flip');
    expect(md).toContain('vpc-endpoint `vpce-0fixture`');
    expect(md).toContain('Estimated cost: **$0.0204**');
    expect(md).toContain('[Step Functions execution](https://us-east-1.console.aws.amazon.com/states/home)');
  });

  it('text names the failing check, what was expected and observed, and why', () => {
    const report = fixtureReport('fail');
    const text = renderReportText(report);
    expect(text.startsWith('FAIL: PrivateLink verification failed')).toBe(true);
    expect(text).toContain(
      '[failed] Deny after the policy flip: expected denied-by-endpoint-policy, observed allowed after 120 attempt(s)',
    );
    expect(text).toContain("[failed] The run's Deny refuses, stably");
    expect(text).toContain('| flip +5.0 s: allowed (HTTP 200) via 10.42.0.37');
    expect(describeFailure(report)).toBe(
      'obligation "own-deny-refuses-stably" failed: the endpoint policy Deny was not enforced: InvokeModel kept succeeding after the flip',
    );
  });

  it('Markdown shows one row per obligation: claim, observation, result, with the raw evidence folded', () => {
    const md = renderReportMarkdown(fixtureReport('fail'));
    expect(md).toContain('| Claim | Observation | Result | Evidence |');
    expect(md).toMatch(
      /\| \*\*The run's Deny refuses, stably\*\*: The run's own explicit Deny .* \| the endpoint policy Deny was not enforced.* \| ❌ failed \| <details><summary>1 line\(s\)<\/summary>flip \+5.0 s: allowed/,
    );
    expect(md).toMatch(/\| \*\*Probe role as written\*\*: .* \| ✅ passed \|/);
    expect((md.match(/^\| \*\*/gm) ?? []).length).toBe(OBLIGATION_ORDER.length);
  });

  it('a could-not-verify obligation is described as such, never as a failed check', () => {
    const base = fixtureReport('error');
    expect(describeFailure(base)).toMatch(/^obligation "own-deny-refuses-stably" could-not-verify: /);
    expect(renderReportText(base)).toContain("[could-not-verify] The run's Deny refuses, stably");
  });

  it('text from the run cannot open an HTML comment that would hide or fake the marker', () => {
    const evil = '<!-- privatelink-verify:report --> <script>';
    const base = fixtureReport('fail');
    const md = renderReportMarkdown({
      ...base,
      summary: evil,
      failure: { stage: 'verify-deny', error: 'X', cause: evil },
      checks: base.checks.map((c) => ({
        ...c,
        reason: evil,
        evidence: c.evidence && { ...c.evidence, errorMessage: evil },
      })),
    });
    expect(md).not.toContain('<!--');
    expect(md).not.toContain('<script>');
  });
});

describe('durations', () => {
  it('carries rounded seconds into the minute: 539.6 s is "9 min 0 s", never "8 min 60 s"', () => {
    expect(formatDuration(539.6)).toBe('9 min 0 s');
    expect(formatDuration(539.4)).toBe('8 min 59 s');
    expect(formatDuration(119.96)).toBe('2 min 0 s');
    expect(formatDuration(54.14)).toBe('54.1 s');
    expect(formatDuration(0)).toBe('0 s');
  });
});

describe('comment truncation', () => {
  it('leaves a body under the limit alone', () => {
    expect(truncateBody('short', 'hint')).toBe('short');
  });

  it('cuts at a line, closes open <details> and code fences, and says how much was cut', () => {
    const body = `${COMMENT_MARKER}\n<details><summary>x</summary>\n\n\`\`\`\n${'y'.repeat(80)}\n`.concat(
      'z'.repeat(79) + '\n',
      ...Array(1000).fill(`${'w'.repeat(79)}\n`),
    );
    const cut = truncateBody(body, 'See the job summary.', 20_000);
    expect(cut.length).toBeLessThanOrEqual(20_000);
    expect(cut.startsWith(COMMENT_MARKER)).toBe(true);
    expect((cut.match(/^```/gm) ?? []).length % 2).toBe(0);
    expect(cut).toContain('</details>');
    expect(cut).toMatch(
      /Report truncated\*\*: \d+ characters were cut to fit GitHub's 20000-character limit\. See the job summary\./,
    );
  });

  it('never splits a surrogate pair and stays under the GitHub limit for any length', () => {
    for (const n of [BODY_LIMIT + 1, 70_000, 200_000]) {
      const body = '😀'.repeat(Math.ceil(n / 2));
      const cut = truncateBody(body, 'hint');
      expect(cut.length).toBeLessThanOrEqual(BODY_LIMIT);
      expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
  });
});

describe('fork detection', () => {
  it('tells a fork pull request from a same-repository one', () => {
    expect(isForkPullRequest(pullRequestPayload(1))).toBe(false);
    expect(isForkPullRequest(pullRequestPayload(1, { fork: true }))).toBe(true);
    expect(isForkPullRequest({})).toBe(false);
  });
});

// ---- the perimeter's expected-access matrix --------------------------------------------------

/**
 * Cells of a GFM table row, split as GitHub does (cmark-gfm's table extension): a backslash and
 * the character after it are one escaped character, and every other `|` ends a cell.
 */
function gfmCells(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\' && i + 1 < line.length) {
      cur += line[i]! + line[++i]!;
    } else if (line[i] === '|') {
      cells.push(cur);
      cur = '';
    } else cur += line[i];
  }
  cells.push(cur);
  return cells.slice(1, -1).map((c) => c.trim());
}

/** The lines of the Markdown table under `heading`, header first. */
function tableUnder(md: string, heading: string): string[] {
  const after = md.slice(md.indexOf(heading));
  const lines = after.split('\n');
  const start = lines.findIndex((l) => l.startsWith('| '));
  const rows = [];
  for (let i = start; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(lines[i]!);
  return rows;
}

describe('expected-access matrix', () => {
  it('Markdown: one line per cell, failures first, then could-not-verify, passed, skipped with its reason; the obligations table stays', () => {
    const skippedRow = cell({
      index: 5,
      row: 'converse-later',
      action: 'Converse',
      expect: 'allowed',
      result: 'skipped',
      reason: 'Converse not enabled in this account yet',
    });
    // The skipped cell first and the passes before the failures: the order is the renderer's, and
    // within a result the tasks' order is kept (outside-allowed came before analytics-allowed).
    const md = renderReportMarkdown(liveReport('us-east-1', [skippedRow, ...failingCells().reverse()]));
    expect(md).toContain('### Expected-access matrix');
    expect(md).toContain('**6 cells: 2 passed, 2 failed, 1 could not be verified, 1 skipped**');
    const table = tableUnder(md, '### Expected-access matrix');
    expect(gfmCells(table[0]!)).toEqual([
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
    ]);
    const body = table.slice(2).map(gfmCells);
    expect(body.map((c) => `${c[0]} ${c[8]}`)).toEqual([
      '**outside-allowed** ❌ failed',
      '**analytics-allowed** ❌ failed',
      '**run-deny-refuses** ❔ could-not-verify',
      '**bystander-refused** ✅ passed',
      '**workload-allowed** ✅ passed',
      '**converse-later** ⏭️ skipped',
    ]);
    const analytics = body[1]!;
    expect(analytics.slice(1, 8)).toEqual([
      'analytics',
      'vpc',
      `\`${MODEL}\``,
      'InvokeModel',
      'allow-policy',
      '`allowed`',
      '`not-allowed-by-endpoint-policy`',
    ]);
    expect(analytics[9]).toMatch(
      /^refused: no statement of the endpoint policy allows the analytics role <details>/,
    );
    expect(body[3]![9]).toBe('—');
    expect(body[5]![9]).toBe('skipped: Converse not enabled in this account yet');
    // As the tasks write it (tasks/lib/matrix-run.ts: "skipped: <skip>"), "skipped" is said once.
    const asTasksWrite = renderReportMarkdown(
      liveReport('us-east-1', [
        { ...skippedRow, reason: 'skipped: Converse not enabled in this account yet' },
      ]),
    );
    expect(asTasksWrite).toContain('| skipped: Converse not enabled in this account yet |');
    expect(asTasksWrite).not.toContain('skipped: skipped');
    // The obligations are still there, one row each, after the matrix.
    expect(md.indexOf('| Claim | Observation | Result | Evidence |')).toBeGreaterThan(
      md.indexOf('### Expected-access matrix'),
    );
    expect((md.match(/^\| \*\*[A-Z]/gm) ?? []).length).toBe(OBLIGATION_ORDER.length);
  });

  it('a report without a matrix (a run without a perimeter) renders no matrix at all', () => {
    const md = renderReportMarkdown(liveReport('us-east-1', undefined));
    expect(md).not.toContain('Expected-access matrix');
    expect(renderReportText(liveReport('us-east-1', undefined))).not.toContain('Expected-access matrix');
  });

  it('a pipe, a backslash-pipe or a newline from the run stays inside its cell', () => {
    const evil = cell({
      index: 0,
      row: 'row 1',
      caller: 'a|b',
      expect: 'allowed',
      result: 'failed',
      observed: 'denied-other',
      reason: 'first line | with a pipe\nsecond line \\| and a backslash-pipe',
      evidence: ['x|y', 'multi\nline'],
    });
    const md = renderReportMarkdown(liveReport('us-east-1', [evil]));
    const table = tableUnder(md, '### Expected-access matrix');
    expect(table).toHaveLength(3);
    const row = gfmCells(table[2]!);
    expect(row).toHaveLength(10);
    expect(row[1]).toBe('a\\|b');
    expect(row[9]).toMatch(
      /^first line \\\| with a pipe second line \\\\\\\| and a backslash-pipe <details>/,
    );
    // The splitter is not a rubber stamp: the same text unescaped breaks the row.
    expect(gfmCells('| a|b | first line | x \\\\| y |')).toHaveLength(5);
  });

  it('evidence a row repeated while it polled is shown once, with how many times', () => {
    const polled = cell({
      index: 2,
      row: 'outside-allowed',
      expect: 'allowed',
      result: 'failed',
      observed: 'denied-by-identity-policy',
      reason: 'refused',
      evidence: [
        'call: denied-by-identity-policy',
        'call: denied-by-identity-policy',
        'call: denied-by-identity-policy',
        'last: other',
      ],
    });
    const md = renderReportMarkdown(liveReport('us-east-1', [polled]));
    expect(md).toContain(
      '<details><summary>4 line(s)</summary>call: denied-by-identity-policy (×3)<br>last: other</details>',
    );
    const text = renderReportText(liveReport('us-east-1', [polled]));
    expect(text).toContain('        | call: denied-by-identity-policy (×3)\n        | last: other\n');
  });

  it('text: a count, one aligned line per cell, failures first, the reason under each cell that did not pass', () => {
    const text = renderReportText(liveReport('us-east-1', failingCells()));
    expect(text).toContain('  Expected-access matrix: 5 cells: 2 passed, 2 failed, 1 could not be verified');
    const lines = text.split('\n').filter((l) => /^ {4}\[/.test(l));
    expect(lines.map((l) => l.split(/\s+/)[2])).toEqual([
      'analytics-allowed',
      'outside-allowed',
      'run-deny-refuses',
      'workload-allowed',
      'bystander-refused',
    ]);
    // Aligned: every cell line has its "expected" column at the same place.
    expect(new Set(lines.map((l) => l.indexOf('expected ')))).toHaveProperty('size', 1);
    expect(text).toMatch(
      /\[failed\] +analytics-allowed .* expected allowed +observed not-allowed-by-endpoint-policy\n {8}refused: no statement/,
    );
    expect(text).toMatch(/\[passed\] +workload-allowed .*observed allowed\n {4}\[passed\]/);
  });
});

describe('several regions, one document', () => {
  const us = () => liveReport('us-east-1', failingCells('us-east-1'), 'fail');
  const passingCells = () =>
    failingCells('eu-west-1').map((c) => ({
      ...c,
      result: 'passed' as const,
      observed: c.expect,
      reason: 'as expected',
    }));
  const eu = (verdict: Report['verdict'] = 'pass', over: Partial<Report> = {}) =>
    liveReport('eu-west-1', passingCells(), verdict, over);
  const leftovers: Partial<Report> = {
    cleanup: { status: 'incomplete', leftovers: [{ type: 'vpc', id: 'vpc-0left' }] },
  };

  it('the headline is the worst outcome across regions; a proven failure outranks an error', () => {
    const headline = (rs: Report[]) => renderRegionReportsMarkdown(rs).split('\n')[0];
    expect(headline([eu(), eu('pass', { region: 'ap-south-1' })])).toBe(
      '## ✅ PrivateLink verification passed',
    );
    expect(headline([eu(), eu('pass', leftovers)])).toBe(
      '## ⚠️ PrivateLink verification passed, but resources were left behind',
    );
    expect(headline([eu(), eu('error')])).toBe('## ⚠️ PrivateLink verification could not complete');
    expect(headline([eu('error'), us(), eu('pass', leftovers)])).toBe(
      '## ❌ PrivateLink verification failed',
    );
    expect(headline([])).toBe('## ⚠️ PrivateLink verification could not complete');
    expect(combinedOutcome([eu('pass', leftovers), eu()])).toBe('pass-with-leftovers');
    expect(renderRegionReportsText([eu(), us()]).split('\n')[0]).toBe(
      'FAIL: PrivateLink verification failed (eu-west-1 pass, us-east-1 fail)',
    );
  });

  it('one matrix of every region, with a Region column, failures of any region first; then a section per region', () => {
    const md = renderRegionReportsMarkdown([eu(), us()], {
      perRegion: { 'us-east-1': { executionUrl: 'https://console/us' } },
      workflowRunUrl: 'https://github/run/1',
    });
    expect((md.match(/### Expected-access matrix/g) ?? []).length).toBe(1);
    expect(md).toContain('**10 cells: 7 passed, 2 failed, 1 could not be verified**');
    const body = tableUnder(md, '### Expected-access matrix').map(gfmCells);
    expect(body[0]![0]).toBe('Region');
    const rows = body.slice(2).map((c) => `${c[0]} ${c[1]} ${c[9]}`);
    expect(rows.slice(0, 3)).toEqual([
      '`us-east-1` **analytics-allowed** ❌ failed',
      '`us-east-1` **outside-allowed** ❌ failed',
      '`us-east-1` **run-deny-refuses** ❔ could-not-verify',
    ]);
    expect(rows.filter((r) => r.startsWith('`eu-west-1`'))).toHaveLength(5);
    expect(md).toContain('**Regions** `eu-west-1` ✅ passed · `us-east-1` ❌ failed');
    const euAt = md.indexOf('### ✅ `eu-west-1`: passed');
    const usAt = md.indexOf('### ❌ `us-east-1`: failed');
    expect(euAt).toBeGreaterThan(md.indexOf('### Expected-access matrix'));
    expect(usAt).toBeGreaterThan(euAt);
    // Each region keeps its obligations, and its own execution link sits in its own section.
    expect((md.match(/\| Claim \| Observation \| Result \| Evidence \|/g) ?? []).length).toBe(2);
    expect(md.indexOf('[Step Functions execution](https://console/us)')).toBeGreaterThan(usAt);
    expect(md.trimEnd().endsWith('[workflow run](https://github/run/1)')).toBe(true);
  });

  it('one region alone has no Region column; a region that reported no cells is named', () => {
    const single = renderRegionReportsMarkdown([us()]);
    expect(gfmCells(tableUnder(single, '### Expected-access matrix')[0]!)[0]).toBe('Row');
    const md = renderRegionReportsMarkdown([us(), eu('error', { matrix: undefined })]);
    expect(md).toContain('_No matrix cells from `eu-west-1`: see its section below._');
    expect(renderRegionReportsText([us(), eu('error', { matrix: undefined })])).toContain(
      '    no matrix cells from eu-west-1',
    );
  });

  it('the failed step names the failed matrix cells, region by region, even when every obligation passed', () => {
    const passedObligations = fixtureReport('pass').obligations;
    const cellsOnly = liveReport('us-east-1', failingCells(), 'fail', { obligations: passedObligations });
    expect(describeFailure(cellsOnly)).toBe(
      `matrix row "analytics-allowed" (${MODEL}) failed: refused: no statement of the endpoint policy allows the analytics role matrix row "outside-allowed" (${MODEL}) failed: refused by the identity policy: aws:SourceVpce does not match from outside`,
    );
    // The could-not-verify cell of the same run is named only when nothing failed.
    const unverified = liveReport('us-east-1', [failingCells()[2]!], 'error', {
      obligations: passedObligations,
      failure: { stage: 'verify-deny', error: 'CouldNotVerify' },
    });
    expect(describeFailure(unverified)).toMatch(
      /^matrix row "run-deny-refuses" \(.*\) could-not-verify: every call/,
    );
    expect(describeFailures([eu(), cellsOnly])).toMatch(/^us-east-1: matrix row "analytics-allowed"/);
    expect(describeFailures([eu(), eu('error')])).toMatch(
      /^eu-west-1: obligation "own-deny-refuses-stably" could-not-verify/,
    );
  });

  it('leftovers in any region are up top even when another region failed', () => {
    const md = renderRegionReportsMarkdown([us(), eu('pass', leftovers)]);
    expect(md.split('\n')[0]).toBe('## ❌ PrivateLink verification failed');
    const top = md.slice(0, md.indexOf('### Expected-access matrix'));
    expect(top).toMatch(
      /> \[!WARNING\]\n> Resources may be left behind:\n> - `eu-west-1`: Cleanup incomplete: 1 resource/,
    );
    expect(renderRegionReportsText([us(), eu('pass', leftovers)])).toMatch(
      /^ {2}WARNING: eu-west-1: Cleanup incomplete/m,
    );
  });

  it('"What this pull request changes" lists the spec changes against the base, and only when given', () => {
    const changes = diffPerimeters(
      { ...perimeterOf('examples/walkthrough.yml') },
      perimeterOf('examples/deliberately-failing.yml'),
    );
    expect(changes.length).toBeGreaterThan(0);
    const md = renderRegionReportsMarkdown([us()], { changes });
    expect(md).toContain('### What this pull request changes');
    expect(md).toContain('- **added** row "analytics-allowed"');
    expect(md).toContain('- **added** role analytics');
    expect(md.indexOf('### What this pull request changes')).toBeLessThan(
      md.indexOf('### Expected-access matrix'),
    );
    expect(renderRegionReportsMarkdown([us()], { changes: [] })).toContain(
      'No change to the perimeter against the base branch.',
    );
    expect(renderRegionReportsMarkdown([us()])).not.toContain('What this pull request changes');
    expect(renderRegionReportsText([us()], { changes })).toMatch(
      /What this pull request changes:\n(?: {4}.+\n)*? {4}added row "analytics-allowed"/,
    );
  });

  it('run text cannot open HTML in the combined document either', () => {
    const evil = '<!-- privatelink-verify:report --> <script>';
    const bad = cell({
      index: 0,
      row: evil,
      caller: evil,
      expect: 'allowed',
      result: 'failed',
      reason: evil,
      evidence: [evil],
    });
    const md = renderRegionReportsMarkdown([liveReport('us-east-1', [bad], 'fail', { specFile: evil })], {
      changes: [{ kind: 'added', subject: evil }],
    });
    expect(md).not.toContain('<!--');
    expect(md).not.toContain('<script>');
  });
});

describe('a long matrix in the sticky comment', () => {
  it("cut to GitHub's limit, the comment still holds every failing cell (they come first)", () => {
    const many = (region: string, failAt: number) =>
      Array.from({ length: 150 }, (_, i) =>
        cell({
          index: i,
          row: `row-${region}-${i}`,
          expect: 'allowed',
          result: i === failAt ? 'failed' : 'passed',
          observed: i === failAt ? 'denied-by-identity-policy' : 'allowed',
          reason: `${'an observation worth reading in full '.repeat(4)}${i}`,
          evidence: [`evidence line for ${i} `.repeat(6)],
        }),
      );
    const reports = ['us-east-1', 'eu-west-1', 'ap-southeast-2'].map((r, i) =>
      liveReport(r, many(r, 149 - i), i === 0 ? 'fail' : 'pass'),
    );
    const md = `${COMMENT_MARKER}\n${renderRegionReportsMarkdown(reports)}`;
    expect(md.length).toBeGreaterThan(BODY_LIMIT);
    const cut = truncateBody(md, 'See the job summary.');
    expect(cut.length).toBeLessThanOrEqual(BODY_LIMIT);
    for (const [r, i] of [
      ['us-east-1', 149],
      ['eu-west-1', 148],
      ['ap-southeast-2', 147],
    ])
      expect(cut).toContain(`**row-${r}-${i}**`);
    expect(cut).toContain('**450 cells: 447 passed, 3 failed**');
  });
});
