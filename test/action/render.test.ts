import { describe, expect, it } from 'vitest';
import { OBLIGATION_ORDER } from '../../statemachine/contract.ts';
import {
  BODY_LIMIT,
  COMMENT_MARKER,
  isForkPullRequest,
  truncateBody,
} from '../../workflows-src/action/github.ts';
import {
  describeFailure,
  formatDuration,
  renderReportMarkdown,
  renderReportText,
} from '../../workflows-src/report/render.ts';
import { fixtureReport, pullRequestPayload } from './fixtures.ts';

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
