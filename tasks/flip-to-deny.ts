/** The flip: replace the endpoint policy with an explicit Deny of InvokeModel, and note when. */
import { EC2Client, ModifyVpcEndpointCommand } from '@aws-sdk/client-ec2';
import type { FlipOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { aws } from './lib/outcomes.ts';
import { policiesOfRun } from './lib/perimeter.ts';
import { denyInvokeEndpointPolicy } from './lib/policies.ts';
import { parseRunState, required } from './lib/run-state.ts';

export async function handler(event: unknown): Promise<FlipOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const endpoint = required(state.provisioned?.endpoint, 'endpoint');
  // A perimeter's rows may call any model and action: its Deny names them all.
  const policy = input.perimeter
    ? policiesOfRun({ ...state, preflight }, input.perimeter, endpoint.vpcEndpointId).deny()
    : denyInvokeEndpointPolicy(preflight.modelResourceArns);
  await aws('ModifyVpcEndpoint', () =>
    client(EC2Client, input.region).send(
      new ModifyVpcEndpointCommand({ VpcEndpointId: endpoint.vpcEndpointId, PolicyDocument: policy }),
    ),
  );
  const flippedAt = new Date().toISOString();
  createLogger('FlipEndpointPolicyToDeny', { runId: input.runId }).info('endpoint policy set to Deny', {
    flippedAt,
  });
  return { flippedAt, endpointPolicy: policy };
}
