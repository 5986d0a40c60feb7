import { AwsError } from '../../core/errors.ts';
import { POLICY_ELEMENTS, POLICY_VERSIONS, STATEMENT_ELEMENTS } from '../../core/policy-grammar.ts';

/**
 * What EC2 accepts as an endpoint policy (PrivateLink guide, "Control access to VPC endpoints
 * using endpoint policies"): IAM policy language JSON, at most 20,480 characters; every statement
 * has a `Principal`; no wildcards (`*`, `?`) or numeric operators with the global keys that hold
 * system-generated identifiers; with string operators, six consecutive characters around each
 * wildcard. A refusal is `InvalidPolicyDocument` "The Policy Document is not valid. …" (the
 * syntax-error form as seen from real accounts, hashicorp/terraform-provider-aws#42291); the text
 * after the prefix for the other rules is ours: no public source quotes it.
 */

/** Global condition keys whose values are system-generated identifiers (no wildcards, no numeric operators). */
const SYSTEM_ID_KEYS = new Set(
  [
    'aws:PrincipalAccount',
    'aws:PrincipalOrgID',
    'aws:ResourceAccount',
    'aws:ResourceOrgID',
    'aws:SourceAccount',
    'aws:SourceOrgID',
    'aws:SourceVpc',
    'aws:SourceVpce',
    'aws:VpceAccount',
    'aws:VpceOrgID',
  ].map((k) => k.toLowerCase()),
);

function invalid(why: string): AwsError {
  return new AwsError('InvalidPolicyDocument', `The Policy Document is not valid. ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function values(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function parse(doc: string): unknown {
  try {
    return JSON.parse(doc);
  } catch (err) {
    const at = Number(/position (\d+)/.exec(String((err as Error).message))?.[1] ?? doc.length);
    const before = doc.slice(0, at).split('\n');
    throw invalid(`Syntax error at position (${before.length},${before.at(-1)!.length + 1})`);
  }
}

/** At least six consecutive non-wildcard characters before or after every `*` / `?`. */
function wildcardsAnchored(value: string): boolean {
  const runs = value.split(/[*?]/);
  for (let i = 0; i < runs.length - 1; i++) {
    if (runs[i]!.length < 6 && runs[i + 1]!.length < 6) return false;
  }
  return true;
}

function checkCondition(condition: unknown, sid: string): void {
  if (condition === undefined) return;
  if (!isObject(condition)) throw invalid(`Condition of statement ${sid} must be an object`);
  for (const [operator, body] of Object.entries(condition)) {
    if (!isObject(body))
      throw invalid(`Condition operator ${operator} of statement ${sid} must map keys to values`);
    const base = operator.replace(/^(ForAllValues|ForAnyValue):/, '').replace(/IfExists$/, '');
    const numeric = base.startsWith('Numeric');
    const stringLike =
      base === 'StringLike' || base === 'StringNotLike' || base === 'ArnLike' || base === 'ArnNotLike';
    for (const [key, raw] of Object.entries(body)) {
      const texts = values(raw).map(String);
      if (SYSTEM_ID_KEYS.has(key.toLowerCase())) {
        if (numeric) throw invalid(`Numeric operator ${operator} cannot be used with ${key}`);
        if (texts.some((t) => /[*?]/.test(t))) throw invalid(`Wildcards are not allowed with ${key}`);
      }
      if (stringLike && texts.some((t) => !wildcardsAnchored(t))) {
        throw invalid(`Each wildcard in ${key} needs at least six consecutive characters before or after it`);
      }
    }
  }
}

function checkStatement(st: unknown, index: number): void {
  if (!isObject(st)) throw invalid('Statement must be an object or a list of objects');
  const sid = typeof st.Sid === 'string' ? st.Sid : String(index + 1);
  for (const field of Object.keys(st)) {
    if (!STATEMENT_ELEMENTS.has(field)) throw invalid(`Unknown field ${field} in statement ${sid}`);
  }
  if (st.Effect === undefined) throw invalid(`Missing required field Effect in statement ${sid}`);
  if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw invalid(`Invalid effect: ${String(st.Effect)}`);
  // Endpoint policies are resource policies: the principal is named (NotPrincipal instead is IAM's other form).
  if (st.Principal === undefined && st.NotPrincipal === undefined) {
    throw invalid(`Missing required field Principal in statement ${sid}`);
  }
  if (st.Action === undefined && st.NotAction === undefined) {
    throw invalid(`Missing required field Action in statement ${sid}`);
  }
  checkCondition(st.Condition, sid);
}

/** Throws InvalidPolicyDocument unless EC2 would accept `doc` as an endpoint policy. */
export function validateEndpointPolicy(doc: string, maxChars: number): void {
  if (doc.length > maxChars) {
    throw invalid(`Policy document length ${doc.length} exceeds the maximum of ${maxChars} characters.`);
  }
  const parsed = parse(doc);
  if (!isObject(parsed)) throw invalid('The policy must be a JSON object');
  for (const field of Object.keys(parsed))
    if (!POLICY_ELEMENTS.has(field)) throw invalid(`Unknown field ${field}`);
  if (parsed.Version !== undefined && !POLICY_VERSIONS.includes(String(parsed.Version))) {
    throw invalid(`Invalid Version ${String(parsed.Version)}: use 2012-10-17 or 2008-10-17`);
  }
  if (!('Statement' in parsed)) throw invalid('Missing required field Statement');
  const statements = values(parsed.Statement);
  if (statements.length === 0) throw invalid('Statement must not be empty');
  statements.forEach(checkStatement);
}

/** True when a (valid) policy document has any Deny statement. */
export function hasDeny(doc: string): boolean {
  const parsed = JSON.parse(doc) as { Statement?: unknown };
  return values(parsed.Statement).some((st) => (st as { Effect?: string } | undefined)?.Effect === 'Deny');
}
