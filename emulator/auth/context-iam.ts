/**
 * IAM's and STS's request context (Service Authorization Reference, IAM and STS): role actions
 * on the role ARN, policy actions on the policy ARN; `iam:PermissionsBoundary` on CreateRole and
 * PutRolePermissionsBoundary, and on any action on a role that has one; `iam:PolicyARN` on
 * Attach/DetachRolePolicy; request tags on CreateRole/TagRole. GetCallerIdentity needs no
 * permission (STS API reference: "No permissions are required to perform this operation").
 * AssumeRole is decided in the STS service (identity policy or trust policy).
 */
import type { Tags } from '../core/models.ts';
import { listOf } from '../core/query.ts';
import type { Check, RequestContext, RequestView } from './authorize.ts';
import { requestTagContext } from './authorize.ts';

const NO_RESOURCE = new Set(['ListRoles', 'ListPolicies', 'CreatePolicy']);

export function iamChecks(operation: string, input: Record<string, any>, view: RequestView): Check[] {
  const action = `iam:${operation}`;
  if (NO_RESOURCE.has(operation) && operation !== 'CreatePolicy') return [{ action }];
  const arns: Record<string, string[]> = {};
  const context: RequestContext = {};
  const account = view.ctx.accountId;
  if (input.RoleName !== undefined) {
    const name = String(input.RoleName);
    const existing = view.ctx.iam.role(name);
    const path = existing?.path ?? String(input.Path ?? '/');
    arns.role = [existing?.arn ?? `arn:aws:iam::${account}:role${path}${name}`];
    const boundary = input.PermissionsBoundary ?? existing?.permissionsBoundaryArn;
    if (boundary) context['iam:PermissionsBoundary'] = String(boundary);
  }
  if (input.PolicyArn !== undefined) {
    arns.policy = [String(input.PolicyArn)];
    context['iam:PolicyARN'] = String(input.PolicyArn);
  }
  if (operation === 'CreatePolicy') {
    arns.policy = [
      `arn:aws:iam::${account}:policy${String(input.Path ?? '/')}${String(input.PolicyName ?? '')}`,
    ];
  }
  if (operation === 'CreateRole' || operation === 'TagRole' || operation === 'CreatePolicy') {
    const tags: Tags = {};
    for (const t of listOf<Record<string, any>>(input.Tags)) tags[String(t.Key)] = String(t.Value ?? '');
    Object.assign(context, requestTagContext(tags));
  }
  if (operation === 'UntagRole') {
    const keys = listOf(input.TagKeys).map(String);
    if (keys.length) context['aws:TagKeys'] = keys;
  }
  return [{ action, arns, context }];
}

export function stsChecks(operation: string): Check[] {
  // GetCallerIdentity needs no permission; AssumeRole is decided by STS with the trust policy.
  if (operation === 'GetCallerIdentity' || operation === 'AssumeRole') return [];
  return [{ action: `sts:${operation}` }];
}
