/**
 * The bystander of obligation 3: a second role, under the probe role path and boundary, tagged at
 * creation, whose identity policy would allow the run's model through this run's endpoint
 * (aws:SourceVpce) exactly as the probe role's does. Only the verify tasks' role may assume it; it
 * never runs code of its own. Inside the VPC its call must be refused by the endpoint policy,
 * which names only the probe role. Idempotent by name.
 */
import {
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { PROBE_ROLE_PATH } from '../../statemachine/contract.ts';
import { client } from './clients.ts';
import { aws, isNotFound } from './outcomes.ts';
import { BYSTANDER_POLICY_NAME, bystanderTrustPolicy, identityPolicy } from './policies.ts';
import { bystanderName } from './run-state.ts';
import { type RunTags, tagList } from './tags.ts';

export interface CallerRoleOptions {
  region: string;
  roleName: string;
  /** The only principal the role trusts: the verify tasks' role. */
  verifyRoleArn: string;
  description: string;
  policyName: string;
  /** The role's inline identity policy, as written. */
  policyDocument: string;
  tags: RunTags;
  boundaryArn?: string;
}

/**
 * A role the verify tasks assume for one call (the bystander, a perimeter's extra role): under the
 * probe role path and boundary, tagged at creation, trusted by the verify role alone, with one
 * inline identity policy. Idempotent by name.
 */
export async function createCallerRole(o: CallerRoleOptions): Promise<{ roleName: string; roleArn: string }> {
  const iam = client(IAMClient, o.region);
  let role: Role | undefined;
  try {
    role = (await aws('GetRole', () => iam.send(new GetRoleCommand({ RoleName: o.roleName })))).Role;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!role) {
    role = (
      await aws('CreateRole', () =>
        iam.send(
          new CreateRoleCommand({
            RoleName: o.roleName,
            Path: PROBE_ROLE_PATH,
            AssumeRolePolicyDocument: bystanderTrustPolicy(o.verifyRoleArn),
            Description: o.description,
            ...(o.boundaryArn ? { PermissionsBoundary: o.boundaryArn } : {}),
            Tags: tagList(o.tags),
          }),
        ),
      )
    ).Role!;
  }
  await aws('PutRolePolicy', () =>
    iam.send(
      new PutRolePolicyCommand({
        RoleName: o.roleName,
        PolicyName: o.policyName,
        PolicyDocument: o.policyDocument,
      }),
    ),
  );
  return { roleName: o.roleName, roleArn: role.Arn! };
}

export interface BystanderRoleOptions {
  region: string;
  runId: string;
  verifyRoleArn: string;
  vpcEndpointId: string;
  modelResourceArns: string[];
  tags: RunTags;
  boundaryArn?: string;
  /** The perimeter's bystander identity policy, rendered; default: the same grant as the probe role's. */
  policyDocument?: string;
}

export function createBystanderRole(o: BystanderRoleOptions): Promise<{ roleName: string; roleArn: string }> {
  return createCallerRole({
    region: o.region,
    roleName: bystanderName(o.runId),
    verifyRoleArn: o.verifyRoleArn,
    description: `privatelink-verify bystander for run ${o.runId}: the endpoint policy must refuse it`,
    policyName: BYSTANDER_POLICY_NAME,
    // The same grant as the probe role's, so nothing but the endpoint policy tells them apart.
    policyDocument: o.policyDocument ?? identityPolicy(o.vpcEndpointId, o.modelResourceArns),
    tags: o.tags,
    ...(o.boundaryArn ? { boundaryArn: o.boundaryArn } : {}),
  });
}
