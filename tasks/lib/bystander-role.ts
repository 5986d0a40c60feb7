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

export interface BystanderRoleOptions {
  region: string;
  runId: string;
  /** The only principal the bystander trusts: the verify tasks' role. */
  verifyRoleArn: string;
  vpcEndpointId: string;
  modelResourceArns: string[];
  tags: RunTags;
  boundaryArn?: string;
}

export async function createBystanderRole(
  o: BystanderRoleOptions,
): Promise<{ roleName: string; roleArn: string }> {
  const iam = client(IAMClient, o.region);
  const roleName = bystanderName(o.runId);
  let role: Role | undefined;
  try {
    role = (await aws('GetRole', () => iam.send(new GetRoleCommand({ RoleName: roleName })))).Role;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!role) {
    role = (
      await aws('CreateRole', () =>
        iam.send(
          new CreateRoleCommand({
            RoleName: roleName,
            Path: PROBE_ROLE_PATH,
            AssumeRolePolicyDocument: bystanderTrustPolicy(o.verifyRoleArn),
            Description: `privatelink-verify bystander for run ${o.runId}: the endpoint policy must refuse it`,
            ...(o.boundaryArn ? { PermissionsBoundary: o.boundaryArn } : {}),
            Tags: tagList(o.tags),
          }),
        ),
      )
    ).Role!;
  }
  // The same grant as the probe role's, so nothing but the endpoint policy tells them apart.
  await aws('PutRolePolicy', () =>
    iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: BYSTANDER_POLICY_NAME,
        PolicyDocument: identityPolicy(o.vpcEndpointId, o.modelResourceArns),
      }),
    ),
  );
  return { roleName, roleArn: role.Arn! };
}
