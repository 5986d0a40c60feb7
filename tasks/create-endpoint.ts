/**
 * The interface endpoint for bedrock-runtime, in both subnets, behind the endpoint security
 * group, with private DNS, created with the policy under test (only the run's probe role, named by
 * the ARN it will have, may invoke the run's model): the allow is in force from the first moment
 * the endpoint carries traffic, so no policy propagation waits on the critical path. Runs before
 * CreateProbe, which binds the role's identity policy to this endpoint's id. ClientToken plus a
 * tag lookup make a retry find the same endpoint.
 */
import { CreateVpcEndpointCommand, DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EndpointOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { aws } from './lib/outcomes.ts';
import { policiesOfRun } from './lib/perimeter.ts';
import { allowProbeEndpointPolicy } from './lib/policies.ts';
import { parseRunState, probeRoleArn, required } from './lib/run-state.ts';
import { runIdFilter, runTags, tagSpecifications } from './lib/tags.ts';

export async function handler(event: unknown): Promise<EndpointOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const network = required(state.network, 'network');
  const log = createLogger('CreateEndpoint', { runId: input.runId });
  const ec2Api = client(EC2Client, input.region);
  // The team's endpoint policy when the run carries its perimeter; the product's own otherwise.
  const endpointPolicy = input.perimeter
    ? policiesOfRun({ ...state, preflight }, input.perimeter).endpoint()
    : allowProbeEndpointPolicy(probeRoleArn(preflight.accountId, input.runId), preflight.modelResourceArns);

  const found = await aws('DescribeVpcEndpoints', () =>
    ec2Api.send(
      new DescribeVpcEndpointsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [network.vpcId] },
          { Name: 'service-name', Values: [preflight.serviceName] },
          runIdFilter(input.runId),
        ],
      }),
    ),
  );
  let endpoint = found.VpcEndpoints?.find(
    (e) => !['deleting', 'deleted', 'failed', 'rejected'].includes(String(e.State).toLowerCase()),
  );
  if (!endpoint) {
    const created = await aws('CreateVpcEndpoint', () =>
      ec2Api.send(
        new CreateVpcEndpointCommand({
          VpcEndpointType: 'Interface',
          VpcId: network.vpcId,
          ServiceName: preflight.serviceName,
          SubnetIds: network.subnetIds,
          SecurityGroupIds: [network.endpointSecurityGroupId],
          PrivateDnsEnabled: input.options.privateDnsEnabled,
          PolicyDocument: endpointPolicy,
          ClientToken: `plv-endpoint-${input.runId}`.slice(0, 64),
          TagSpecifications: tagSpecifications(
            'vpc-endpoint',
            runTags(input, preflight.expiresAt),
            `plv-${input.runId}`,
          ),
        }),
      ),
    );
    endpoint = created.VpcEndpoint!;
    log.info('endpoint created', {
      vpcEndpointId: endpoint.VpcEndpointId,
      privateDnsEnabled: input.options.privateDnsEnabled,
    });
  } else {
    log.info('endpoint already exists (retried task)', { vpcEndpointId: endpoint.VpcEndpointId });
  }
  return {
    vpcEndpointId: endpoint.VpcEndpointId!,
    state: String(endpoint.State ?? 'pending'),
    privateDnsEnabled: endpoint.PrivateDnsEnabled ?? input.options.privateDnsEnabled,
    dnsNames: (endpoint.DnsEntries ?? []).map((d) => d.DnsName!).filter(Boolean),
    endpointPolicy,
  };
}
