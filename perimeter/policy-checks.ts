/**
 * Static checks of one policy template: grammar (by @cloud-copilot/iam-policy), placeholders,
 * size, and the endpoint-policy rules of the PrivateLink guide that no analyzer applies.
 */
import { validateEndpointPolicy, validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import { PLACEHOLDER_PATTERN, PLACEHOLDERS } from '../statemachine/perimeter-spec.ts';
import type { LocatedPolicy, SourceLocation } from './load.ts';

export type FindingLevel = 'error' | 'warning';

export interface Finding {
  /** Stable rule id (SARIF `ruleId`). */
  rule: string;
  level: FindingLevel;
  message: string;
  at: SourceLocation;
}

export type PolicyKind = 'endpoint' | 'identity';

// "The size of an endpoint policy cannot exceed 20,480 characters, including white space."
// (PrivateLink guide, "Control access to VPC endpoints using endpoint policies".)
export const ENDPOINT_POLICY_MAX_CHARS = 20_480;
// Inline role policies: "Role policy size cannot exceed 10,240 characters" (IAM quotas, aggregate
// inline policy size for a role; IAM does not count white space).
export const ROLE_INLINE_POLICY_MAX_CHARS = 10_240;

/**
 * Global keys that reference system-generated identifiers: no wildcards and no numeric operators
 * with them (PrivateLink guide, same page, names aws:PrincipalAccount and aws:SourceVpc "such as";
 * the rest of this list is our reading of "system-generated identifiers" in the global keys list).
 */
export const SYSTEM_ID_KEYS = [
  'aws:principalaccount',
  'aws:principalorgid',
  'aws:resourceaccount',
  'aws:resourceorgid',
  'aws:sourceaccount',
  'aws:sourceorgid',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:vpceaccount',
  'aws:vpceorgid',
];

interface Statement {
  Sid?: string;
  Effect?: unknown;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function statementsOf(template: Record<string, unknown>): Statement[] {
  const s = template.Statement;
  if (Array.isArray(s)) return s as Statement[];
  return s && typeof s === 'object' ? [s as Statement] : [];
}

export function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** `Statement[0].#Principal` → ['Statement', 0, 'Principal']. */
function pathOf(validatorPath: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of validatorPath.split('.')) {
    const m = /^#?([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) continue;
    if (m[1]) out.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function statementPath(policy: LocatedPolicy, i: number): (string | number)[] {
  return Array.isArray(policy.template.Statement)
    ? [...policy.path, 'Statement', i]
    : [...policy.path, 'Statement'];
}

function at(policy: LocatedPolicy, path: (string | number)[]): SourceLocation {
  return policy.source.locate(path);
}

/** A string every placeholder of which is known, and the list of those that are not. */
function unknownPlaceholders(
  template: unknown,
  roles: readonly string[],
): { path: (string | number)[]; name: string }[] {
  const found: { path: (string | number)[]; name: string }[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(PLACEHOLDER_PATTERN)) {
        const [whole, name, arg] = m;
        const known =
          name === 'RoleArn' ? Boolean(arg && roles.includes(arg)) : !arg && name! in PLACEHOLDERS;
        if (!known) found.push({ path, name: whole });
        else if (name === 'ModelArns' && v !== '${ModelArns}')
          found.push({ path, name: `${whole} (inside a longer string)` });
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, [...path, i]);
      });
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(template, []);
  return found;
}

/** Where a template uses the placeholder `name`. */
function placeholderUses(template: unknown, name: string): (string | number)[][] {
  const found: (string | number)[][] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (typeof v === 'string') {
      if ([...v.matchAll(PLACEHOLDER_PATTERN)].some((m) => m[1] === name && !m[2])) found.push(path);
    } else if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, [...path, i]);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(template, []);
  return found;
}

/** The grammar and the rules every policy of its kind must meet before it is worth evaluating. */
export function checkPolicy(
  policy: LocatedPolicy,
  kind: PolicyKind,
  label: string,
  opts: { roles: readonly string[]; rendered: (t: Record<string, unknown>) => Record<string, unknown> },
): Finding[] {
  const findings: Finding[] = [];
  const push = (rule: string, level: FindingLevel, message: string, path: (string | number)[]) =>
    findings.push({
      rule,
      level,
      message: `${label}: ${message}`,
      at: at(policy, [...policy.path, ...path]),
    });

  for (const u of unknownPlaceholders(policy.template, opts.roles))
    push(
      'template-placeholder',
      'error',
      `unknown placeholder ${u.name}: use one of ${Object.keys(PLACEHOLDERS)
        .map((p) => `\${${p}}`)
        .join(', ')} or \${RoleArn:<role name>}`,
      u.path,
    );
  if (kind === 'endpoint')
    for (const path of placeholderUses(policy.template, 'VpcEndpointId'))
      push(
        'endpoint-policy-names-itself',
        'error',
        // The run creates the endpoint with its policy (no propagation wait on the critical path),
        // so the id does not exist yet when the policy is written; inside an endpoint policy a
        // condition on its own id is always true anyway.
        '${VpcEndpointId} cannot be used in the endpoint policy: the endpoint is created with this policy, before its id exists (and every call through it comes from it)',
        path,
      );
  if (findings.length) return findings;

  const rendered = opts.rendered(policy.template);
  const grammar = kind === 'endpoint' ? validateEndpointPolicy(rendered) : validateIdentityPolicy(rendered);
  for (const e of grammar) {
    // The validator applies the gateway-endpoint rule; interface endpoints accept named principals.
    if (kind === 'endpoint' && /Principal must be "\*"/.test(e.message)) continue;
    push('policy-grammar', 'error', e.message, pathOf(e.path));
  }
  if (rendered.Version !== '2012-10-17')
    push(
      'policy-version',
      'warning',
      'Version should be "2012-10-17" (without it AWS reads the policy as 2008-10-17)',
      ['Version'],
    );

  const size =
    kind === 'endpoint' ? JSON.stringify(rendered, null, 2).length : JSON.stringify(rendered).length;
  const max = kind === 'endpoint' ? ENDPOINT_POLICY_MAX_CHARS : ROLE_INLINE_POLICY_MAX_CHARS;
  if (size > max) push('policy-size', 'error', `is ${size} characters once rendered; AWS allows ${max}`, []);

  statementsOf(policy.template).forEach((st, i) => {
    const sp = statementPath(policy, i).slice(policy.path.length);
    const name = st.Sid ? `statement "${st.Sid}"` : `statement ${i + 1}`;
    const inStatement: Push = (rule, level, msg, p = []) => push(rule, level, msg, [...sp, ...p]);
    if (kind === 'endpoint') endpointStatementFindings(st, name, inStatement);
    else identityStatementFindings(st, name, inStatement);
  });
  return findings;
}

type Push = (rule: string, level: FindingLevel, message: string, path?: (string | number)[]) => void;

function isWildcardPrincipal(p: unknown): boolean {
  if (p === '*') return true;
  if (p && typeof p === 'object') return asList((p as Record<string, unknown>).AWS).includes('*');
  return false;
}

function endpointStatementFindings(st: Statement, name: string, push: Push): void {
  const hasCondition = st.Condition && Object.keys(st.Condition).length > 0;
  if (st.Effect === 'Allow') {
    if (asList(st.Action).some((a) => a === '*' || a === 'bedrock:*'))
      push(
        'endpoint-broad-action',
        'error',
        `${name} allows every action: name the Bedrock actions the workload calls`,
        ['Action'],
      );
    if (st.NotAction !== undefined)
      push(
        'endpoint-broad-action',
        'error',
        `${name} allows with NotAction: it allows every action but the listed ones`,
        ['NotAction'],
      );
    if (isWildcardPrincipal(st.Principal) && !hasCondition)
      push(
        'endpoint-any-principal',
        'error',
        `${name} allows any principal with no condition: narrow it with aws:PrincipalArn (or name the role)`,
        ['Principal'],
      );
  }
  conditionFindings(st, name, push);
}

function identityStatementFindings(st: Statement, name: string, push: Push): void {
  if (st.Effect !== 'Allow') return;
  const grantsBedrock = asList(st.Action).some((a) => a === '*' || a.toLowerCase().startsWith('bedrock:'));
  if (!grantsBedrock) return;
  const keys = Object.values(st.Condition ?? {}).flatMap((body) =>
    Object.keys(body).map((k) => k.toLowerCase()),
  );
  if (!keys.includes('aws:sourcevpce') && !keys.includes('aws:sourcevpc'))
    push(
      'identity-not-bound-to-endpoint',
      'error',
      `${name} lets the role call Bedrock from anywhere: add a condition on aws:SourceVpce = \${VpcEndpointId}`,
      [],
    );
  conditionFindings(st, name, push);
}

/** Wildcard rules of endpoint policies; identity policies get the same advice for the system keys. */
function conditionFindings(st: Statement, name: string, push: Push): void {
  for (const [op, body] of Object.entries(st.Condition ?? {})) {
    for (const [key, value] of Object.entries(body ?? {})) {
      const values = asList(value);
      if (SYSTEM_ID_KEYS.includes(key.toLowerCase())) {
        if (/Like$|^Numeric/.test(op.replace(/IfExists$/, '')) || values.some((v) => /[*?]/.test(v)))
          push(
            'endpoint-system-key-wildcard',
            'error',
            `${name}: ${key} references a system-generated identifier: no wildcards and no ${op} (use StringEquals with exact values)`,
            ['Condition', op, key],
          );
      } else if (/^String.*Like/.test(op)) {
        for (const v of values) {
          // "At least six consecutive characters before or after each wildcard" (PrivateLink guide).
          const pieces = v.split(/[*?]/);
          if (
            pieces.length > 1 &&
            pieces.some((p, i) => i < pieces.length - 1 && p.length < 6 && (pieces[i + 1] ?? '').length < 6)
          )
            push(
              'endpoint-short-wildcard',
              'error',
              `${name}: "${v}" needs at least six consecutive characters before or after each wildcard`,
              ['Condition', op, key],
            );
        }
      }
    }
  }
}
