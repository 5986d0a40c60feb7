/**
 * The one place that gathers what governs a caller: identity policies (inline + attached managed),
 * the permissions boundary, and the account's service control policies. The authorization layer
 * and the Bedrock data-plane model both evaluate through `decide`.
 */
import type { EmulatorContext } from '../core/context.ts';
import type { Caller } from '../core/identity.ts';
import type { PolicyDocument } from '../core/models.ts';
import { ADMIN_IDENTITY_POLICIES, evaluatePolicies, type PolicyDecision } from '../network/policy.ts';

export interface PrincipalPolicies {
  identity: PolicyDocument[];
  boundary?: PolicyDocument | undefined;
  scps: PolicyDocument[];
}

export function principalPolicies(ctx: EmulatorContext, caller: Caller): PrincipalPolicies {
  const scps = ctx.world.serviceControlPolicies ?? [];
  if (caller.isAdmin) return { identity: ADMIN_IDENTITY_POLICIES, scps };
  if (!caller.roleName) return { identity: [], scps };
  return {
    identity: ctx.iam.identityPolicies(caller.roleName),
    boundary: ctx.iam.permissionsBoundary(caller.roleName),
    scps,
  };
}

/** The simulator's principal: the root ARN, or the role session. */
export function simulatedPrincipal(caller: Caller): string {
  return caller.isAdmin ? caller.principalArn : caller.sessionArn;
}

/** Global keys AWS puts in every request context. */
export function baseContext(
  ctx: EmulatorContext,
  caller: Caller,
  region: string,
): Record<string, string | string[]> {
  const c: Record<string, string | string[]> = {
    'aws:PrincipalArn': caller.principalArn,
    'aws:PrincipalAccount': ctx.accountId,
    'aws:PrincipalType': caller.isAdmin ? 'Account' : 'AssumedRole',
    'aws:RequestedRegion': region,
    'aws:SecureTransport': 'true',
    'aws:CurrentTime': new Date(ctx.now()).toISOString(),
    'aws:EpochTime': String(Math.floor(ctx.now() / 1000)),
  };
  if (caller.roleName) {
    const role = ctx.iam.role(caller.roleName);
    for (const [k, v] of Object.entries(role?.tags ?? {})) c[`aws:PrincipalTag/${k}`] = v;
  }
  return c;
}

export interface Decide {
  action: string;
  resourceArn: string;
  context: Record<string, string | string[]>;
  endpointPolicy?: PolicyDocument | undefined;
}

/** Identity policies, boundary, SCPs (and an endpoint policy when the request crossed one), together. */
export async function decide(ctx: EmulatorContext, caller: Caller, req: Decide): Promise<PolicyDecision> {
  const p = principalPolicies(ctx, caller);
  // Root with no organization and no endpoint in the way: the implicit allow-all needs no simulation.
  if (caller.isAdmin && !p.scps.length && !req.endpointPolicy) return { allowed: true };
  return evaluatePolicies({
    action: req.action,
    resourceArn: req.resourceArn,
    accountId: ctx.accountId,
    principal: simulatedPrincipal(caller),
    context: req.context,
    endpointPolicy: req.endpointPolicy,
    identityPolicies: p.identity,
    permissionsBoundary: p.boundary,
    serviceControlPolicies: p.scps,
  });
}
