/** Preflight: validate the input and the region before anything is created. */

import {
  BedrockClient,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
} from '@aws-sdk/client-bedrock';
import {
  DescribeAvailabilityZonesCommand,
  DescribeVpcEndpointServicesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { PreflightOutput } from '../statemachine/contract.ts';
import { cidrWithin } from './lib/cidr.ts';
import { client } from './lib/clients.ts';
import { invalidInput, unsupported } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';
import { aws, errorCode } from './lib/outcomes.ts';
import { INFERENCE_PROFILE_PREFIX, modelResourceArns } from './lib/policies.ts';
import { parseInput, serviceNameFor } from './lib/run-state.ts';
import { TASK_ENV } from './manifest.ts';

export async function handler(event: { input?: unknown }): Promise<PreflightOutput> {
  const input = parseInput(event?.input);
  const log = createLogger('Preflight', { runId: input.runId });
  const pool = (process.env[TASK_ENV.vpcCidrPool] ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (pool.length && !pool.some((block) => cidrWithin(input.vpcCidr, block))) {
    throw invalidInput(
      `vpcCidr ${input.vpcCidr} is outside the allowed pool ${pool.join(', ')}: pick a block inside it`,
    );
  }
  const serviceName = serviceNameFor(input.region);
  const usable = await endpointServiceZones(input.region);

  // A perimeter names its models: each must be one the stack's boundary allows (the spec comes
  // from a pull request and must not reach past the stack) and one Bedrock offers here.
  const models = input.perimeter?.models ?? [input.modelId];
  const allowed = (process.env[TASK_ENV.allowedModels] ?? '').split(',').filter(Boolean);
  const outside = input.perimeter && allowed.length ? models.filter((m) => !allowed.includes(m)) : [];
  if (outside.length)
    throw invalidInput(
      `model ${outside.join(', ')} is outside the stack's allowedModels (${allowed.join(', ')}): add it to allowedModels and redeploy, or remove it from the spec`,
    );
  for (const m of models) await refuseUnknownModel(input.region, m, log);

  const identity = await aws('GetCallerIdentity', () =>
    client(STSClient, input.region).send(new GetCallerIdentityCommand({})),
  );
  const accountId = identity.Account!;
  const startedAt = new Date();
  const out: PreflightOutput = {
    serviceName,
    availabilityZones: [usable[0]!, usable[1]!],
    modelResourceArns: [...new Set(models.flatMap((m) => modelResourceArns(input.region, accountId, m)))],
    accountId,
    startedAt: startedAt.toISOString(),
    expiresAt: new Date(startedAt.getTime() + input.ttlMinutes * 60_000).toISOString(),
  };
  log.info('preflight passed', { serviceName, availabilityZones: out.availabilityZones });
  return out;
}

/**
 * A model id Bedrock does not know in this region is the user's typo, not a failed verification:
 * refuse it before anything is created. GetFoundationModel answers ValidationException for an
 * unknown id, GetInferenceProfile ResourceNotFoundException. If the lookup itself is refused we
 * cannot tell, and the run goes on (the allow check would then show model-access-missing).
 */
async function refuseUnknownModel(region: string, modelId: string, log: ReturnType<typeof createLogger>) {
  const bedrock = client(BedrockClient, region);
  const isProfile = INFERENCE_PROFILE_PREFIX.test(modelId);
  try {
    await aws(
      isProfile ? 'GetInferenceProfile' : 'GetFoundationModel',
      async (): Promise<unknown> =>
        isProfile
          ? bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: modelId }))
          : bedrock.send(new GetFoundationModelCommand({ modelIdentifier: modelId })),
    );
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ValidationException' || code === 'ResourceNotFoundException') {
      throw invalidInput(
        `model ${modelId} is not offered by Amazon Bedrock in ${region}: check the id (aws bedrock list-${isProfile ? 'inference-profiles' : 'foundation-models'} --region ${region})`,
      );
    }
    if (code === 'AccessDeniedException') {
      log.warn('could not look the model up; going on', { modelId, error: code });
      return;
    }
    throw err;
  }
}

/**
 * The zones of a region where the Bedrock runtime interface endpoint service is offered, sorted;
 * at least two or a clear refusal. Preflight takes the first two; so does `pool create`, so a
 * pooled network's subnets lie in the zones a run's preflight picks.
 */
export async function endpointServiceZones(
  region: string,
  ec2Api: EC2Client = client(EC2Client, region),
): Promise<string[]> {
  const serviceName = serviceNameFor(region);

  const services = await aws('DescribeVpcEndpointServices', () =>
    ec2Api.send(new DescribeVpcEndpointServicesCommand({ ServiceNames: [serviceName] })),
  ).catch((err) => {
    if (errorCode(err) === 'InvalidServiceName') return { ServiceDetails: [] };
    throw err;
  });
  const service = services.ServiceDetails?.find((s) => s.ServiceName === serviceName);
  if (!service)
    throw unsupported(
      `${serviceName} is not offered in ${region}: choose a region where Amazon Bedrock runtime has a VPC endpoint service`,
    );
  if (!service.ServiceType?.some((t) => t.ServiceType === 'Interface')) {
    throw unsupported(`${serviceName} is not an interface endpoint service in ${region}`);
  }

  const zones = await aws('DescribeAvailabilityZones', () =>
    ec2Api.send(
      new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }),
    ),
  );
  const usable = (zones.AvailabilityZones ?? [])
    .map((z) => z.ZoneName!)
    .filter((z) => service.AvailabilityZones?.includes(z))
    .sort();
  if (usable.length < 2) {
    throw unsupported(
      `${serviceName} is offered in ${usable.length} availability zone(s) of ${region}; two are needed`,
    );
  }

  return usable;
}
