/** Poll the endpoint until it is `available` (60–150 s on AWS), or give up at the input's deadline. */
import { DescribeVpcEndpointsCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EndpointOutput } from '../statemachine/contract.ts';
import { client } from './lib/clients.ts';
import { resourceFailed, timedOut } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { aws, isNotFound } from './lib/outcomes.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs, waitUntil } from './lib/waiter.ts';

const FAILED_STATES = ['failed', 'rejected', 'deleted', 'deleting', 'expired'];

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<EndpointOutput> {
  const state = parseRunState(event);
  const { input } = state;
  const created = required(state.provisioned?.endpoint, 'the created endpoint');
  const log = createLogger('WaitForEndpoint', { runId: input.runId, vpcEndpointId: created.vpcEndpointId });
  const ec2Api = client(EC2Client, input.region);

  const result = await waitUntil({
    what: 'endpoint available',
    poll: async () => {
      const r = await aws('DescribeVpcEndpoints', () =>
        ec2Api.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [created.vpcEndpointId] })),
      );
      return r.VpcEndpoints?.[0];
    },
    done: (e) => {
      const s = String(e?.State ?? '').toLowerCase();
      if (FAILED_STATES.includes(s))
        throw resourceFailed(`endpoint ${created.vpcEndpointId} went to state ${e?.State}`);
      return s === 'available';
    },
    timeoutMs: budgetMs(input.deadlines.endpointAvailableSeconds, context),
    minDelayMs: 2_000,
    maxDelayMs: 10_000,
    retryOn: isNotFound,
    onAttempt: (e, attempt) => log.info('endpoint state', { attempt, state: e?.State }),
  });
  if (!result.satisfied) {
    throw timedOut(
      `endpoint ${created.vpcEndpointId} was not available after ${Math.round(result.elapsedMs / 1000)} s (state ${result.value?.State ?? 'unknown'})`,
    );
  }
  const e = result.value!;
  return {
    vpcEndpointId: created.vpcEndpointId,
    state: String(e.State),
    privateDnsEnabled: e.PrivateDnsEnabled ?? created.privateDnsEnabled,
    dnsNames: (e.DnsEntries ?? []).map((d) => d.DnsName!).filter(Boolean),
    ...(created.endpointPolicy ? { endpointPolicy: created.endpointPolicy } : {}),
    waitedSeconds: Math.round(result.elapsedMs / 100) / 10,
  };
}
