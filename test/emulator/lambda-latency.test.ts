import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES } from '../../emulator/core/latency.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { LAMBDA_TRUST_POLICY, zippedFixture } from '../fixtures/lambda/bundle.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';

/** The realistic profile with a tiny timeScale: states change as on AWS, only faster. */
let slow: Emulator;
let quick: Emulator;
let zip: Uint8Array;
/** The VPC function the Pending test creates; the VpcConfig-change test moves it. */
let vpcFn: { vpcId: string; subnetA: string; subnetB: string; sg: string } | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, realMs = 10_000): Promise<T> {
  const deadline = Date.now() + realMs;
  for (;;) {
    const v = await probe();
    if (done(v) || Date.now() > deadline) return v;
    await sleep(20);
  }
}

async function roleFor(
  emu: Emulator,
  name: string,
  opts: { eni?: boolean; wait?: boolean } = {},
): Promise<string> {
  const iam = new IAMClient(adminClientConfig(emu));
  const role = await iam.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
  );
  if (opts.eni) {
    const doc = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'ec2:*NetworkInterface*', Resource: '*' }],
    };
    await iam.send(
      new PutRolePolicyCommand({ RoleName: name, PolicyName: 'eni', PolicyDocument: JSON.stringify(doc) }),
    );
  }
  // Wait out the new-role window in virtual time.
  if (opts.wait !== false)
    await emu.ctx.clock.sleep(Math.max(0, emu.ctx.iam.assumableByLambdaAt(name) - emu.ctx.now()) + 1);
  return role.Role!.Arn!;
}

const payload = (event: unknown) => new TextEncoder().encode(JSON.stringify(event));

beforeAll(async () => {
  [slow, quick, zip] = await Promise.all([
    startTestEmulator({ profile: PROFILES.realistic, timeScale: 0.02 }),
    // Ten times slower: a non-VPC update lasts 3 virtual seconds, long enough to invoke within it.
    startTestEmulator({ profile: PROFILES.realistic, timeScale: 0.1 }),
    zippedFixture('./behaviours.ts'),
  ]);
});
afterAll(async () => {
  await Promise.all([slow?.close(), quick?.close()]);
});

describe('Lambda with realistic latencies', () => {
  it('refuses a brand-new role for a few seconds, then accepts it', async () => {
    const lambda = new LambdaClient(adminClientConfig(slow));
    const role = await roleFor(slow, 'fresh-role', { wait: false });
    const create = () =>
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: 'fresh',
          Runtime: 'nodejs24.x',
          Handler: 'index.handler',
          Role: role,
          Code: { ZipFile: zip },
        }),
      );
    await expect(create()).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: 'The role defined for the function cannot be assumed by Lambda.',
    });
    const created = await until(
      () =>
        create().then(
          (r) => r,
          (e: Error) => e,
        ),
      (r) => !(r instanceof Error),
    );
    expect(created).toMatchObject({ FunctionName: 'fresh' });
  });

  it('keeps a VPC function Pending (invocations refused with 409) until its ENIs are ready, then Active', async () => {
    const ec2 = new EC2Client(adminClientConfig(slow));
    const lambda = new LambdaClient(adminClientConfig(slow));
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }));
    const subnet = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc!.VpcId!,
        CidrBlock: '10.40.1.0/24',
        AvailabilityZone: 'us-east-1a',
      }),
    );
    const subnetB = await ec2.send(
      new CreateSubnetCommand({
        VpcId: vpc.Vpc!.VpcId!,
        CidrBlock: '10.40.2.0/24',
        AvailabilityZone: 'us-east-1b',
      }),
    );
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpc.Vpc!.VpcId!, GroupName: 'w', Description: 'w' }),
    );
    vpcFn = {
      vpcId: vpc.Vpc!.VpcId!,
      subnetA: subnet.Subnet!.SubnetId!,
      subnetB: subnetB.Subnet!.SubnetId!,
      sg: sg.GroupId!,
    };
    const role = await roleFor(slow, 'vpc-role', { eni: true });
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'pending-fn',
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Role: role,
        Code: { ZipFile: zip },
        VpcConfig: { SubnetIds: [subnet.Subnet!.SubnetId!], SecurityGroupIds: [sg.GroupId!] },
      }),
    );
    expect(created).toMatchObject({ State: 'Pending', StateReasonCode: 'Creating' });
    await expect(
      lambda.send(new InvokeCommand({ FunctionName: 'pending-fn', Payload: payload({ action: 'echo' }) })),
    ).rejects.toMatchObject({
      name: 'ResourceConflictException',
      $metadata: { httpStatusCode: 409 },
      message:
        'The operation cannot be performed at this time. The function is currently in the following state: Pending',
    });
    const active = await until(
      () => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'pending-fn' })),
      (c) => c.State === 'Active',
    );
    expect(active.State).toBe('Active');
    expect(active.LastUpdateStatus).toBe('Successful');
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'pending-fn', Payload: payload({ action: 'echo' }) }),
    );
    expect(out.FunctionError).toBeUndefined();
  });

  it('keeps invoking on the old network while a VpcConfig change is InProgress (minutes, not seconds)', async () => {
    expect(vpcFn).toBeDefined();
    const lambda = new LambdaClient(adminClientConfig(slow));
    const saved = slow.ctx.network;
    const seen: (string[] | undefined)[] = [];
    slow.ctx.network = {
      resolve: (hostname, region, network) => {
        seen.push(network?.subnetIds);
        return saved.resolve(hostname, region, network);
      },
    };
    try {
      const updated = await lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: 'pending-fn',
          VpcConfig: { SubnetIds: [vpcFn!.subnetB], SecurityGroupIds: [vpcFn!.sg] },
        }),
      );
      expect(updated.LastUpdateStatus).toBe('InProgress');
      expect(updated.VpcConfig?.SubnetIds).toEqual([vpcFn!.subnetB]);
      const dnsEvent = payload({ action: 'dns', hostname: 'bedrock-runtime.us-east-1.amazonaws.com' });
      await lambda.send(new InvokeCommand({ FunctionName: 'pending-fn', Payload: dnsEvent }));
      expect(seen.at(-1)).toEqual([vpcFn!.subnetA]);
      const still = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'pending-fn' }));
      expect(still.LastUpdateStatus).toBe('InProgress');
    } finally {
      slow.ctx.network = saved;
    }
  });

  it('runs the old configuration while an update is InProgress and refuses a second update meanwhile', async () => {
    const lambda = new LambdaClient(adminClientConfig(quick));
    const role = await roleFor(quick, 'update-role');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'updating',
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Role: role,
        Code: { ZipFile: zip },
        Environment: { Variables: { GREETING: 'old' } },
      }),
    );
    await until(
      () => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'updating' })),
      (c) => c.State === 'Active',
    );
    const env = async () =>
      JSON.parse(
        new TextDecoder().decode(
          (
            await lambda.send(
              new InvokeCommand({ FunctionName: 'updating', Payload: payload({ action: 'env' }) }),
            )
          ).Payload,
        ),
      ).GREETING;
    expect(await env()).toBe('old');
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'updating',
        Environment: { Variables: { GREETING: 'new' } },
      }),
    );
    expect(updated.LastUpdateStatus).toBe('InProgress');
    expect(updated.Environment?.Variables?.GREETING).toBe('new');
    expect(await env()).toBe('old');
    await expect(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'updating', Timeout: 9 })),
    ).rejects.toMatchObject({ name: 'ResourceConflictException', $metadata: { httpStatusCode: 409 } });
    const done = await until(
      () => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'updating' })),
      (c) => c.LastUpdateStatus === 'Successful',
    );
    expect(done.LastUpdateStatus).toBe('Successful');
    expect(await env()).toBe('new');
  });
});
