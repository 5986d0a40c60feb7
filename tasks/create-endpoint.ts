/**
 * The interface endpoint for bedrock-runtime, in both subnets, behind the endpoint security
 * group, with private DNS, and created refusing everything: nothing passes before the policy
 * under test is attached. ClientToken plus a tag lookup make a retry find the same endpoint.
 */
import { CreateVpcEndpointCommand, DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EndpointOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { createLogger } from './lib/log.ts';
import { aws } from './lib/outcomes.ts';
import { denyAllEndpointPolicy } from './lib/policies.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { runIdFilter, runTags, tagSpecifications } from './lib/tags.ts';

export async function handler(event: unknown): Promise<EndpointOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const network = required(state.network, 'network');
  const log = createLogger('CreateEndpoint', { runId: input.runId });
  const ec2Api = client(EC2Client, input.region);

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
          PolicyDocument: denyAllEndpointPolicy(),
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
  };
}
