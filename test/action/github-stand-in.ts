/**
 * A stand-in for the slice of the GitHub REST API the action uses (issue comments and issues), on
 * loopback. It records every request and answers the way api.github.com does for an Actions
 * token: GET /user is refused, writes are refused for a read-only token, long bodies are 422.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: any;
}

export interface StoredComment {
  id: number;
  issueNumber: number;
  body: string;
  user: { login: string; type: string };
}

export interface StoredIssue {
  number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  state_reason?: string | null;
  user: { login: string; type: string };
  pull_request?: { url: string };
}

export const BOT = { login: 'github-actions[bot]', type: 'Bot' };
const MAX_BODY = 65_536;

export class GitHubStandIn {
  readonly requests: RecordedRequest[] = [];
  readonly comments: StoredComment[] = [];
  readonly issues: StoredIssue[] = [];
  /** false: the token can read but not write (a fork's token). */
  writable = true;
  url = '';
  private server?: Server;
  private nextId = 1000;

  static async start(): Promise<GitHubStandIn> {
    const s = new GitHubStandIn();
    s.server = createServer((req, res) => {
      void s.handle(req).then(({ status, json }) => {
        const text = json === undefined ? '' : JSON.stringify(json);
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => s.server!.listen(0, '127.0.0.1', resolve));
    s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
    return s;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.comments.length = 0;
    this.issues.length = 0;
    this.writable = true;
  }

  /** Requests that change something. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  addComment(issueNumber: number, body: string, user = BOT): StoredComment {
    const c = { id: this.nextId++, issueNumber, body, user };
    this.comments.push(c);
    return c;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; json?: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname + url.search, body });

    if (method !== 'GET' && !this.writable)
      return { status: 403, json: { message: 'Resource not accessible by integration' } };
    if (body?.body !== undefined && String(body.body).length > MAX_BODY) {
      return {
        status: 422,
        json: {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'IssueComment',
              code: 'custom',
              field: 'body',
              message: `body is too long (maximum is ${MAX_BODY} characters)`,
            },
          ],
        },
      };
    }
    const p = url.pathname;
    const comments = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p);
    const comment = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(p);
    const issues = /^\/repos\/[^/]+\/[^/]+\/issues$/.exec(p);
    const issue = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)$/.exec(p);
    if (p === '/user') return { status: 403, json: { message: 'Resource not accessible by integration' } };

    if (comments) {
      const n = Number(comments[1]);
      if (method === 'GET')
        return {
          status: 200,
          json: this.comments.filter((c) => c.issueNumber === n).map((c) => this.commentJson(c)),
        };
      if (method === 'POST') return { status: 201, json: this.commentJson(this.addComment(n, body.body)) };
    }
    if (comment && method === 'PATCH') {
      const c = this.comments.find((x) => x.id === Number(comment[1]));
      if (!c) return { status: 404, json: { message: 'Not Found' } };
      c.body = body.body;
      return { status: 200, json: this.commentJson(c) };
    }
    if (issues) {
      if (method === 'GET') {
        const state = url.searchParams.get('state') ?? 'open';
        return { status: 200, json: this.issues.filter((i) => state === 'all' || i.state === state) };
      }
      if (method === 'POST') {
        const issue: StoredIssue = {
          number: this.nextId++,
          title: body.title,
          body: body.body,
          state: 'open',
          user: BOT,
        };
        this.issues.push(issue);
        return { status: 201, json: issue };
      }
    }
    if (issue && method === 'PATCH') {
      const found = this.issues.find((i) => i.number === Number(issue[1]));
      if (!found) return { status: 404, json: { message: 'Not Found' } };
      Object.assign(found, body);
      return { status: 200, json: found };
    }
    return { status: 404, json: { message: `stand-in: no route for ${method} ${p}` } };
  }

  private commentJson(c: StoredComment) {
    return {
      id: c.id,
      body: c.body,
      user: c.user,
      html_url: `https://github.com/o/r/issues/${c.issueNumber}#issuecomment-${c.id}`,
    };
  }
}
