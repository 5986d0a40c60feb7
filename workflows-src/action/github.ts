/**
 * Where the verdict lands on GitHub: one sticky pull request comment, updated in place, or for
 * scheduled runs one issue that a failure opens and a later pass closes.
 */
import type { getOctokit } from '@actions/github';

export type Octokit = ReturnType<typeof getOctokit>;

/** Hidden markers: how our own comment and issue are found again among everyone else's. */
export const COMMENT_MARKER = '<!-- privatelink-verify:report -->';
export const ISSUE_MARKER = '<!-- privatelink-verify:scheduled-failure -->';
/** GitHub refuses comment and issue bodies longer than this. */
export const BODY_LIMIT = 65_536;
/** The login GITHUB_TOKEN writes as; GET /user is refused for that token, so it is the fallback. */
export const DEFAULT_BOT_LOGIN = 'github-actions[bot]';
export const ISSUE_TITLE = 'Scheduled PrivateLink verification is failing';

/**
 * Cut a body to fit GitHub's limit at a line boundary, close any <details> or code fence the cut
 * left open, and say what was cut and where the rest is.
 */
export function truncateBody(body: string, fullReportHint: string, limit = BODY_LIMIT): string {
  if (body.length <= limit) return body;
  const note = `\n\n> **Report truncated**: ${'{omitted}'} characters were cut to fit GitHub's ${limit}-character limit. ${fullReportHint}\n`;
  // Room for the note, the closing tags and the omitted count.
  const budget = limit - note.length - 200;
  let cut = body.lastIndexOf('\n', budget);
  if (cut < budget / 2) cut = budget;
  // Never split a surrogate pair.
  const code = body.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  let kept = body.slice(0, cut);
  const fences = (kept.match(/^```/gm) ?? []).length;
  if (fences % 2 === 1) kept += '\n```';
  const open = (kept.match(/<details>/g) ?? []).length - (kept.match(/<\/details>/g) ?? []).length;
  for (let i = 0; i < open; i++) kept += '\n</details>';
  return kept + note.replace('{omitted}', String(body.length - cut));
}

/** The bot's own login, so only our comment is ever edited. */
export async function botLogin(octokit: Octokit): Promise<string> {
  try {
    const me = await octokit.rest.users.getAuthenticated();
    return me.data.login;
  } catch {
    return DEFAULT_BOT_LOGIN;
  }
}

export interface StickyCommentArgs {
  owner: string;
  repo: string;
  issueNumber: number;
  /** Full body, marker included. */
  body: string;
  login: string;
}

/** Update our earlier comment on this pull request, or create it: one comment per pull request. */
export async function upsertStickyComment(
  octokit: Octokit,
  a: StickyCommentArgs,
): Promise<{ action: 'created' | 'updated'; id: number; url: string }> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    owner: a.owner,
    repo: a.repo,
    issue_number: a.issueNumber,
    per_page: 100,
  });
  const mine = comments.find((c) => c.user?.login === a.login && (c.body ?? '').includes(COMMENT_MARKER));
  if (mine) {
    const res = await octokit.rest.issues.updateComment({
      owner: a.owner,
      repo: a.repo,
      comment_id: mine.id,
      body: a.body,
    });
    return { action: 'updated', id: res.data.id, url: res.data.html_url };
  }
  const res = await octokit.rest.issues.createComment({
    owner: a.owner,
    repo: a.repo,
    issue_number: a.issueNumber,
    body: a.body,
  });
  return { action: 'created', id: res.data.id, url: res.data.html_url };
}

export interface ScheduledOutcomeArgs {
  owner: string;
  repo: string;
  passed: boolean;
  /** Report body for the issue (marker added here). */
  body: string;
  login: string;
  runUrl: string;
}

/**
 * A scheduled run has no pull request: a failure opens one issue (or updates the open one), and a
 * pass closes it with a note, so a red night is visible and a green one clears it.
 */
export async function reportScheduledOutcome(
  octokit: Octokit,
  a: ScheduledOutcomeArgs,
): Promise<{ action: 'opened' | 'updated' | 'closed' | 'none'; number?: number }> {
  const open = await octokit.paginate(octokit.rest.issues.listForRepo, {
    owner: a.owner,
    repo: a.repo,
    state: 'open',
    per_page: 100,
  });
  const existing = open.find(
    (i) => !i.pull_request && i.user?.login === a.login && (i.body ?? '').includes(ISSUE_MARKER),
  );
  const body = `${ISSUE_MARKER}\n${a.body}`;
  if (a.passed) {
    if (!existing) return { action: 'none' };
    await octokit.rest.issues.createComment({
      owner: a.owner,
      repo: a.repo,
      issue_number: existing.number,
      body: `The scheduled verification passes again: ${a.runUrl}`,
    });
    await octokit.rest.issues.update({
      owner: a.owner,
      repo: a.repo,
      issue_number: existing.number,
      state: 'closed',
      state_reason: 'completed',
    });
    return { action: 'closed', number: existing.number };
  }
  if (existing) {
    await octokit.rest.issues.update({ owner: a.owner, repo: a.repo, issue_number: existing.number, body });
    await octokit.rest.issues.createComment({
      owner: a.owner,
      repo: a.repo,
      issue_number: existing.number,
      body: `Still failing: ${a.runUrl}`,
    });
    return { action: 'updated', number: existing.number };
  }
  const created = await octokit.rest.issues.create({
    owner: a.owner,
    repo: a.repo,
    title: ISSUE_TITLE,
    body,
  });
  return { action: 'opened', number: created.data.number };
}

/** True when the pull request's head lives in another repository: its token cannot write here. */
export function isForkPullRequest(payload: Record<string, any>): boolean {
  const pr = payload.pull_request;
  if (!pr) return false;
  const head = pr.head?.repo?.full_name;
  const base = pr.base?.repo?.full_name ?? payload.repository?.full_name;
  return Boolean(pr.head?.repo?.fork) || (head !== undefined && base !== undefined && head !== base);
}

/** 403/404 from a write: the token has no permission here (forks, read-only tokens). */
export function isPermissionError(err: unknown): boolean {
  const status = (err as { status?: number })?.status;
  return status === 403 || status === 404;
}
