/**
 * Retried tasks must not create twice: the state machine retries a task whose first attempt may
 * have created resources before failing. Handlers run in-process against the emulator through
 * the same SDK environment variables a Lambda gets.
 */
import {
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  ListRolesCommand,
  ListRoleTagsCommand,
} from '@aws-sdk/client-iam';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import {
  ExecutionInputSchema,
  PROBE_ROLE_PATH,
  type RunState,
  TAG_KEYS,
} from '../../statemachine/contract.ts';
import { TASK_ENV } from '../../tasks/manifest.ts';
import { startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let ec2: EC2Client;
const input = ExecutionInputSchema.parse({
  runId: 'idem-1',
  region: 'us-east-1',
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
});
const byRun = [{ Name: `tag:${TAG_KEYS.runId}`, Values: [input.runId] }];

beforeAll(async () => {
  emu = await startTestEmulator();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALADMIN000000',
    AWS_SECRET_ACCESS_KEY: 'local-admin-secret',
  });
  // CreateProbe embeds the probe's code at build time; in-process it reads this global instead.
  (globalThis as Record<string, unknown>).__PROBE_BUNDLE__ = 'export const handler = async () => ({});';
  ec2 = new EC2Client(emu.clientConfig());
});
afterAll(() => emu.close());

describe('tasks are idempotent', () => {
  let state: RunState = { input };

  it('CreateNetwork run twice, the second after a failure midway, makes one VPC and two subnets', async () => {
    const { handler: preflight } = await import('../../tasks/preflight.ts');
    const { handler: createNetwork } = await import('../../tasks/create-network.ts');
    state = { ...state, preflight: await preflight({ input }) };
    // First attempt dies after the VPC exists (as a Lambda timeout or crash would leave it).
    emu.setFaults([
      {
        kind: 'error',
        service: 'ec2',
        operation: 'CreateSubnet',
        code: 'UnauthorizedOperation',
        status: 403,
        times: 1,
      },
    ]);
    await expect(createNetwork(state)).rejects.toThrow();
    emu.setFaults([]);
    const first = await createNetwork(state);
    const second = await createNetwork(state);
    expect(second).toEqual(first);
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: byRun }));
    expect(vpcs.Vpcs).toHaveLength(1);
    const subnets = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [first.vpcId] }] }),
    );
    expect(subnets.Subnets).toHaveLength(2);
    state = { ...state, network: first };
  });

  it('CreateEndpoint run twice makes one endpoint', async () => {
    const { handler } = await import('../../tasks/create-endpoint.ts');
    const a = await handler(state);
    const b = await handler(state);
    expect(b.vpcEndpointId).toBe(a.vpcEndpointId);
    const eps = await ec2.send(new DescribeVpcEndpointsCommand({ Filters: byRun }));
    expect(eps.VpcEndpoints).toHaveLength(1);
    state = { ...state, provisioned: { endpoint: a } };
  });

  it('CreateProbe run twice makes one role and one function, and one tagged bystander role only the verify role may assume', async () => {
    const { handler } = await import('../../tasks/create-probe.ts');
    // A role principal in a trust policy must exist (IAM refuses MalformedPolicyDocument otherwise).
    const verifyRole = (
      await new IAMClient(emu.clientConfig()).send(
        new CreateRoleCommand({
          RoleName: 'verify-task',
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          }),
        }),
      )
    ).Role!.Arn!;
    process.env[TASK_ENV.outsideCallerRoleArn] = verifyRole;
    process.env[TASK_ENV.allowedModels] = `${input.modelId},amazon.titan-text-express-v1`;
    try {
      const a = await handler(state);
      const b = await handler(state);
      expect(b.functionArn).toBe(a.functionArn);
      expect({ ...b, state: a.state }).toEqual(a);
      const fns = await new LambdaClient(emu.clientConfig()).send(new ListFunctionsCommand({}));
      expect(fns.Functions?.filter((f) => f.FunctionName === `plv-probe-${input.runId}`)).toHaveLength(1);
      expect(a.unlistedModelId).toBe('amazon.titan-text-express-v1');
      expect(a.bystanderRoleName).toBe(`plv-by-${input.runId}`);
      const iam = new IAMClient(emu.clientConfig());
      const roles = (await iam.send(new ListRolesCommand({ PathPrefix: PROBE_ROLE_PATH }))).Roles ?? [];
      expect(roles.map((r) => r.RoleName).sort()).toEqual([
        `plv-by-${input.runId}`,
        `plv-probe-${input.runId}`,
      ]);
      const tags = (await iam.send(new ListRoleTagsCommand({ RoleName: a.bystanderRoleName! }))).Tags ?? [];
      expect(tags.find((t) => t.Key === TAG_KEYS.runId)?.Value).toBe(input.runId);
      const role = (await iam.send(new GetRoleCommand({ RoleName: a.bystanderRoleName! }))).Role!;
      const trust = JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!));
      expect(trust.Statement.map((x: { Principal: unknown }) => x.Principal)).toEqual([{ AWS: verifyRole }]);
    } finally {
      delete process.env[TASK_ENV.outsideCallerRoleArn];
      delete process.env[TASK_ENV.allowedModels];
    }
  });

  it('teardown twice: the second pass deletes nothing and fails on nothing (NotFound is success)', async () => {
    const { teardownPass, listLeftovers } = await import('../../tasks/lib/teardown.ts');
    const { createLogger } = await import('../../tasks/lib/log.ts');
    const log = createLogger('test');
    // Instant profile: ENIs detach at once, so passes finish quickly; loop as Cleanup does.
    let pass = await teardownPass(input.runId, input.region, log);
    for (let i = 0; i < 10 && pass.remaining.length; i++)
      pass = await teardownPass(input.runId, input.region, log);
    expect(pass.remaining).toEqual([]);
    const again = await teardownPass(input.runId, input.region, log);
    expect(again).toEqual({ deleted: [], remaining: [], unlisted: [] });
    expect(await listLeftovers(input.runId, input.region)).toEqual({ leftovers: [], unlisted: [] });
    // The probe role and the bystander are gone too.
    const roles = (
      await new IAMClient(emu.clientConfig()).send(new ListRolesCommand({ PathPrefix: PROBE_ROLE_PATH }))
    ).Roles;
    expect(roles ?? []).toEqual([]);
  });
});
