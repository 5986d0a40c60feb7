/**
 * Trust policies decide who may assume a role, evaluated by @cloud-copilot/iam-simulate with the
 * trust policy as the role's resource policy: a service principal (Lambda, Step Functions) needs
 * the trust policy to name it; an IAM principal of the same account needs the trust policy to
 * allow it, or to trust the account and an identity policy to allow sts:AssumeRole.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { EmulatorContext } from '../core/context.ts';
import type { Caller } from '../core/identity.ts';
import type { RoleView } from '../core/models.ts';
import { baseContext, principalPolicies, simulatedPrincipal } from './policies.ts';

/** A service assumes a role on behalf of a resource: `aws:SourceArn` / `aws:SourceAccount` name it. */
export type Assumer = { service: string; sourceArn?: string } | { caller: Caller; region: string };

export async function trustAllows(ctx: EmulatorContext, role: RoleView, who: Assumer): Promise<boolean> {
  const byCaller = 'caller' in who;
  const policies = byCaller ? principalPolicies(ctx, who.caller) : undefined;
  const result = await runSimulation(
    {
      request: {
        principal: byCaller ? simulatedPrincipal(who.caller) : who.service,
        action: 'sts:AssumeRole',
        resource: { resource: role.arn, accountId: ctx.accountId },
        contextVariables: byCaller
          ? baseContext(ctx, who.caller, who.region)
          : {
              'aws:SourceAccount': ctx.accountId,
              ...(who.sourceArn ? { 'aws:SourceArn': who.sourceArn } : {}),
            },
      },
      identityPolicies: (policies?.identity ?? []).map((policy, i) => ({
        name: `identity-${i + 1}`,
        policy,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: role.assumeRolePolicyDocument,
      ...(policies?.boundary
        ? { permissionBoundaryPolicies: [{ name: 'permissions-boundary', policy: policies.boundary }] }
        : {}),
    },
    {},
  );
  return result.resultType === 'single' && result.overallResult === 'Allowed';
}
