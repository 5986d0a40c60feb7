/**
 * Semantic comparison of IAM policy documents: the policy read back from AWS against the one the
 * run wrote. Order of statements and of values, single values versus one-element lists, and Sids
 * do not matter to IAM, so they do not matter here; anything else that differs is named.
 */

type Json = unknown;

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: Json;
  NotPrincipal?: Json;
  Action?: Json;
  NotAction?: Json;
  Resource?: Json;
  NotResource?: Json;
  Condition?: Record<string, Record<string, Json>>;
}

const list = (v: Json): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => String(x)).sort();

/** Action names are case-insensitive in IAM; resources and principals are not. */
const actions = (v: Json) => list(v).map((a) => a.toLowerCase());

function principal(p: Json): Json {
  if (p === undefined) return undefined;
  if (typeof p === 'string') return p;
  return Object.fromEntries(
    Object.keys(p as Record<string, Json>)
      .sort()
      .map((k) => [k, list((p as Record<string, Json>)[k])]),
  );
}

function condition(c: Statement['Condition']): Json {
  if (!c) return undefined;
  return Object.fromEntries(
    Object.keys(c)
      .sort()
      .map((op) => [
        op,
        Object.fromEntries(
          Object.keys(c[op]!)
            .sort()
            .map((k) => [k, list(c[op]![k])]),
        ),
      ]),
  );
}

function canonicalStatement(s: Statement): string {
  const out: Record<string, Json> = { Effect: s.Effect };
  if (s.Principal !== undefined) out.Principal = principal(s.Principal);
  if (s.NotPrincipal !== undefined) out.NotPrincipal = principal(s.NotPrincipal);
  if (s.Action !== undefined) out.Action = actions(s.Action);
  if (s.NotAction !== undefined) out.NotAction = actions(s.NotAction);
  if (s.Resource !== undefined) out.Resource = list(s.Resource);
  if (s.NotResource !== undefined) out.NotResource = list(s.NotResource);
  const cond = condition(s.Condition);
  if (cond !== undefined) out.Condition = cond;
  return JSON.stringify(out);
}

export interface PolicyDifference {
  same: boolean;
  /** Each difference in one line: a statement in force that was not written, or written and not in force. */
  differences: string[];
}

function statementsOf(doc: string): { statements: string[]; version?: string } | string {
  let parsed: { Version?: string; Statement?: Statement | Statement[] };
  try {
    parsed = JSON.parse(doc) as typeof parsed;
  } catch {
    return 'not valid JSON';
  }
  if (!parsed || typeof parsed !== 'object') return 'not a policy document';
  const raw =
    parsed.Statement === undefined
      ? []
      : Array.isArray(parsed.Statement)
        ? parsed.Statement
        : [parsed.Statement];
  return {
    statements: raw.map(canonicalStatement).sort(),
    ...(parsed.Version ? { version: parsed.Version } : {}),
  };
}

/** Compare the policy in force (`actual`) with the one written (`expected`). */
export function comparePolicies(actual: string | undefined, expected: string): PolicyDifference {
  if (actual === undefined) return { same: false, differences: ['no policy document was returned'] };
  const a = statementsOf(actual);
  const e = statementsOf(expected);
  if (typeof a === 'string') return { same: false, differences: [`the policy in force is ${a}`] };
  if (typeof e === 'string') return { same: false, differences: [`the written policy is ${e}`] };
  const differences: string[] = [];
  if ((a.version ?? '2008-10-17') !== (e.version ?? '2008-10-17'))
    differences.push(`Version is ${a.version ?? 'absent'}, the run wrote ${e.version ?? 'none'}`);
  const remaining = [...e.statements];
  for (const s of a.statements) {
    const i = remaining.indexOf(s);
    if (i >= 0) remaining.splice(i, 1);
    else differences.push(`in force but not written: ${s}`);
  }
  for (const s of remaining) differences.push(`written but not in force: ${s}`);
  return { same: differences.length === 0, differences };
}

/** An ARN pattern from a policy (`arn:aws:bedrock:*::foundation-model/x`) matched against a concrete ARN. */
export function arnMatches(pattern: string, arn: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(arn);
}
