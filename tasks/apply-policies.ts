/**
 * The policies under test: the endpoint lets only the probe role invoke the one model, and the
 * probe role may invoke it only through this endpoint (aws:SourceVpce).
 */
import { EC2Client, ModifyVpcEndpointCommand } from '@aws-sdk/client-ec2';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { PoliciesOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { aws } from './lib/outcomes.ts';
import { allowProbeEndpointPolicy, IDENTITY_POLICY_NAME, identityPolicy } from './lib/policies.ts';
import { parseRunState, required } from './lib/run-state.ts';

export async function handler(event: unknown): Promise<PoliciesOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const endpoint = required(state.provisioned?.endpoint, 'endpoint');
  const probe = required(state.provisioned?.probe, 'probe');
  const log = createLogger('ApplyPolicies', { runId: input.runId });

  const endpointPolicy = allowProbeEndpointPolicy(probe.roleArn, preflight.modelResourceArns);
  await aws('ModifyVpcEndpoint', () =>
    client(EC2Client, input.region).send(
      new ModifyVpcEndpointCommand({ VpcEndpointId: endpoint.vpcEndpointId, PolicyDocument: endpointPolicy }),
    ),
  );
  await aws('PutRolePolicy', () =>
    client(IAMClient, input.region).send(
      new PutRolePolicyCommand({
        RoleName: probe.roleName,
        PolicyName: IDENTITY_POLICY_NAME,
        PolicyDocument: identityPolicy(endpoint.vpcEndpointId, preflight.modelResourceArns),
      }),
    ),
  );
  log.info('policies applied', { vpcEndpointId: endpoint.vpcEndpointId, roleArn: probe.roleArn });
  return { endpointPolicy, identityPolicyName: IDENTITY_POLICY_NAME, appliedAt: new Date().toISOString() };
}
