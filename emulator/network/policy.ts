import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import type { PolicyDocument, PolicyStatement } from '../core/models.ts';

/**
 * Policy evaluation for calls that may cross a VPC endpoint: the endpoint policy and the caller's
 * identity policies are evaluated together by @cloud-copilot/iam-simulate, which reports which
 * kind of policy decided.
 */

export type PolicyKind = 'vpc-endpoint' | 'identity' | 'permissions-boundary' | 'scp';

export type PolicyDecision =
  | { allowed: true }
  | { allowed: false; kind: PolicyKind; explicit: boolean; statement?: string };

export interface PolicyRequest {
  action: string;
  resourceArn: string;
  accountId: string;
  /** ARN the simulator treats as the principal (the assumed-role session or the root). */
  principal: string;
  context: Record<string, string | string[]>;
  /** The endpoint policy in force when the request crossed an endpoint; absent on public paths. */
  endpointPolicy?: PolicyDocument | undefined;
  identityPolicies: PolicyDocument[];
  /** The caller's permissions boundary, if it has one. */
  permissionsBoundary?: PolicyDocument | undefined;
  /** Service control policies of the account (root first), when an organization is configured. */
  serviceControlPolicies?: PolicyDocument[] | undefined;
}

const ALLOW_ALL: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

/** The implicit allow-all identity of the account administrator (root / emulator admin keys). */
export const ADMIN_IDENTITY_POLICIES: PolicyDocument[] = [ALLOW_ALL];

function statements(doc: PolicyDocument): PolicyStatement[] {
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** Condition operators equivalent for exact ARNs, tried in turn so an existing condition is never overwritten. */
const ARN_OPERATORS = ['ArnEquals', 'ArnLike', 'StringEquals', 'StringLike'];
const NOT_ARN_OPERATORS = ['ArnNotEquals', 'ArnNotLike', 'StringNotEquals', 'StringNotLike'];

function withCondition(
  st: PolicyStatement,
  operators: string[],
  key: string,
  values: string[],
): PolicyStatement['Condition'] {
  const cond: Record<string, Record<string, string | string[]>> = {};
  for (const [op, body] of Object.entries(st.Condition ?? {})) cond[op] = { ...body };
  const op = operators.find((o) => !cond[o]?.[key]) ?? operators[0]!;
  cond[op] = { ...cond[op], [key]: values };
  return cond;
}

/** A principal that can match no IAM caller (service or federated principals). */
const NOBODY = 'arn:aws:iam::000000000000:role/no-iam-principal-matches';

/**
 * Interface endpoint policies may name a principal; iam-simulate only accepts `"*"` (the gateway
 * endpoint rule). Rewrite each statement to `Principal: "*"` with the same meaning expressed as
 * conditions: role/user ARNs → aws:PrincipalArn, accounts (id or :root) → aws:PrincipalAccount.
 */
export function normaliseEndpointPolicy(doc: PolicyDocument): PolicyDocument {
  const out: PolicyStatement[] = [];
  for (const st of statements(doc)) {
    const negated = st.NotPrincipal !== undefined;
    const principal = negated ? st.NotPrincipal : st.Principal;
    const { Principal: _p, NotPrincipal: _n, ...rest } = st;
    if (principal === undefined) {
      // EC2 refuses such a document (a statement must name its principal); should one reach
      // here anyway it is not read as `"*"` but fails closed: an Allow grants no one, a Deny
      // refuses everyone.
      out.push(
        st.Effect === 'Deny'
          ? { ...rest, Principal: '*' }
          : {
              ...rest,
              Principal: '*',
              Condition: withCondition(st, ARN_OPERATORS, 'aws:PrincipalArn', [NOBODY]),
            },
      );
      continue;
    }
    if (principal === '*' || isStarAws(principal)) {
      out.push(
        negated
          ? {
              ...rest,
              Principal: '*',
              Condition: withCondition(st, NOT_ARN_OPERATORS, 'aws:PrincipalArn', ['*']),
            }
          : { ...rest, Principal: '*' },
      );
      continue;
    }
    const aws = asList(
      typeof principal === 'object' ? (principal as Record<string, unknown>).AWS : principal,
    );
    const accounts = aws.flatMap((p) => {
      if (/^\d{12}$/.test(p)) return [p];
      const root = /^arn:aws:iam::(\d{12}):root$/.exec(p);
      return root ? [root[1]!] : [];
    });
    const arns = aws.filter((p) => !/^\d{12}$/.test(p) && !/^arn:aws:iam::\d{12}:root$/.test(p));
    if (negated) {
      // NotPrincipal: everyone except the listed principals; both exclusions must hold.
      let cond = st.Condition;
      if (arns.length)
        cond = withCondition({ ...st, Condition: cond }, NOT_ARN_OPERATORS, 'aws:PrincipalArn', arns);
      if (accounts.length)
        cond = withCondition(
          { ...st, Condition: cond },
          ['StringNotEquals', 'StringNotLike'],
          'aws:PrincipalAccount',
          accounts,
        );
      out.push({ ...rest, Principal: '*', ...(cond ? { Condition: cond } : {}) });
      continue;
    }
    // A principal list is an OR; one statement per kind keeps it an OR after rewriting.
    if (arns.length)
      out.push({
        ...rest,
        Principal: '*',
        Condition: withCondition(st, ARN_OPERATORS, 'aws:PrincipalArn', arns),
      });
    if (accounts.length)
      out.push({
        ...rest,
        Principal: '*',
        Condition: withCondition(st, ['StringEquals', 'StringLike'], 'aws:PrincipalAccount', accounts),
      });
    if (!arns.length && !accounts.length)
      out.push({
        ...rest,
        Principal: '*',
        Condition: withCondition(st, ARN_OPERATORS, 'aws:PrincipalArn', [NOBODY]),
      });
  }
  return { Version: doc.Version ?? '2012-10-17', Statement: out };
}

function isStarAws(p: unknown): boolean {
  if (!p || typeof p !== 'object') return false;
  const aws = (p as Record<string, unknown>).AWS;
  return asList(aws).includes('*');
}

/**
 * Evaluate one request. Precedence of the reported reason: an explicit deny in the endpoint
 * policy, an explicit deny in an identity policy, then the endpoint policy not allowing, then no
 * identity policy allowing.
 */
export async function evaluatePolicies(req: PolicyRequest): Promise<PolicyDecision> {
  const result = await runSimulation(
    {
      request: {
        principal: req.principal,
        action: req.action,
        resource: { resource: req.resourceArn, accountId: req.accountId },
        contextVariables: req.context,
      },
      identityPolicies: req.identityPolicies.map((policy, i) => ({ name: `identity-${i + 1}`, policy })),
      serviceControlPolicies: req.serviceControlPolicies?.length
        ? [
            {
              orgIdentifier: req.accountId,
              policies: req.serviceControlPolicies.map((policy, i) => ({ name: `scp-${i + 1}`, policy })),
            },
          ]
        : [],
      resourceControlPolicies: [],
      ...(req.permissionsBoundary
        ? { permissionBoundaryPolicies: [{ name: 'permissions-boundary', policy: req.permissionsBoundary }] }
        : {}),
      ...(req.endpointPolicy
        ? {
            vpcEndpointPolicies: [
              { name: 'vpc-endpoint', policy: normaliseEndpointPolicy(req.endpointPolicy) },
            ],
          }
        : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    // A policy the simulator cannot read: AWS would not have stored it, so treat it as allowing nothing.
    const kind: PolicyKind = result.errors.vpcEndpointErrors ? 'vpc-endpoint' : 'identity';
    return {
      allowed: false,
      kind,
      explicit: false,
      statement: `unreadable policy: ${JSON.stringify(result.errors)}`,
    };
  }
  if (result.resultType !== 'single')
    throw new Error('policy evaluation: expected a single-resource simulation');
  if (result.overallResult === 'Allowed') return { allowed: true };
  const reasons = getDenialReasons(result.result.analysis);
  const pick = (policyType: string, denialType: 'Explicit' | 'Implicit') =>
    reasons.find((r) => r.policyType === policyType && r.denialType === denialType);
  const order: [string, 'Explicit' | 'Implicit', PolicyKind][] = [
    ['scp', 'Explicit', 'scp'],
    ['vpce', 'Explicit', 'vpc-endpoint'],
    ['identity', 'Explicit', 'identity'],
    ['pb', 'Explicit', 'permissions-boundary'],
    ['scp', 'Implicit', 'scp'],
    ['vpce', 'Implicit', 'vpc-endpoint'],
    ['identity', 'Implicit', 'identity'],
    ['pb', 'Implicit', 'permissions-boundary'],
  ];
  for (const [policyType, denialType, kind] of order) {
    const r = pick(policyType, denialType);
    if (!r) continue;
    const statement =
      r.denialType === 'Explicit' ? (r.statementId ?? `statement ${r.statementIndex}`) : undefined;
    return { allowed: false, kind, explicit: denialType === 'Explicit', ...(statement ? { statement } : {}) };
  }
  return { allowed: false, kind: 'identity', explicit: result.overallResult === 'ExplicitlyDenied' };
}

/** IAM's message for a refused request, word for word as AWS writes it. */
export function accessDeniedMessage(
  sessionArn: string,
  action: string,
  resourceArn: string,
  d: PolicyDecision,
): string {
  const head = `User: ${sessionArn} is not authorized to perform: ${action} on resource: ${resourceArn}`;
  if (d.allowed) return head;
  if (d.kind === 'vpc-endpoint')
    return d.explicit
      ? `${head} with an explicit deny in a VPC endpoint policy`
      : `${head} because no VPC endpoint policy allows the ${action} action`;
  if (d.kind === 'scp')
    return d.explicit
      ? `${head} with an explicit deny in a service control policy`
      : `${head} because no service control policy allows the ${action} action`;
  if (d.kind === 'permissions-boundary')
    return d.explicit
      ? `${head} with an explicit deny in a permissions boundary`
      : `${head} because no permissions boundary allows the ${action} action`;
  return d.explicit
    ? `${head} with an explicit deny in an identity-based policy`
    : `${head} because no identity-based policy allows the ${action} action`;
}
