/**
 * The emulator fails closed: unknown keys, unsigned requests and wrong secrets get each service's
 * own refusal, and IAM authorizes every call with the caller's policies, boundary and SCPs.
 * Sources are cited in emulator/auth/credentials.ts and emulator/auth/authorize.ts.
 */
import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { CreateVpcCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreatePolicyCommand,
  IAMClient,
  ListRolesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, createServiceRole, signedFetch, startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(() => emu.close());

async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
  throw new Error('expected a refusal, got data');
}

function clients(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  const cfg = { ...adminClientConfig(emu), credentials };
  return {
    ec2: () => new EC2Client(cfg).send(new DescribeVpcsCommand({})),
    iam: () => new IAMClient(cfg).send(new ListRolesCommand({})),
    sts: () => new STSClient(cfg).send(new GetCallerIdentityCommand({})),
    lambda: () => new LambdaClient(cfg).send(new ListFunctionsCommand({})),
    states: () => new SFNClient(cfg).send(new ListStateMachinesCommand({})),
    bedrock: () =>
      new BedrockRuntimeClient(cfg).send(
        new InvokeModelCommand({ modelId: 'amazon.titan-text-express-v1', body: '{"inputText":"hi"}' }),
      ),
  };
}

describe('credentials', () => {
  it('refuses an access key the emulator never issued, with each service’s code and status, and no data', async () => {
    const c = clients({ accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'whatever' });
    expect(await refusal(c.ec2())).toMatchObject({ name: 'AuthFailure', status: 401 });
    expect(await refusal(c.iam())).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    expect(await refusal(c.sts())).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    expect(await refusal(c.lambda())).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
    expect(await refusal(c.states())).toMatchObject({ name: 'UnrecognizedClientException', status: 400 });
    expect(await refusal(c.bedrock())).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
  });

  it('refuses the admin key signed with a wrong secret', async () => {
    const c = clients({ accessKeyId: emu.clientConfig().credentials.accessKeyId, secretAccessKey: 'wrong' });
    expect(await refusal(c.ec2())).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await refusal(c.sts())).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(await refusal(c.lambda())).toMatchObject({ name: 'InvalidSignatureException', status: 403 });
    expect(await refusal(c.states())).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
  });

  it('refuses unsigned requests', async () => {
    const res = await fetch(emu.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeVpcs&Version=2016-11-15',
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('<Code>AuthFailure</Code>');
  });

  it('accepts the admin pair, signed, as the account root', async () => {
    const res = await signedFetch(emu, 'sts', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('arn:aws:iam::123456789012:root');
  });
});

describe('authorization', () => {
  async function session(name: string, statements: object[]) {
    await createServiceRole(emu, name, 'lambda.amazonaws.com', []);
    if (statements.length)
      await new IAMClient(adminClientConfig(emu)).send(
        new PutRolePolicyCommand({
          RoleName: name,
          PolicyName: 'p',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
        }),
      );
    return emu.ctx.identities.issueForRole(`arn:aws:iam::123456789012:role/${name}`, name, 'fn');
  }

  it('refuses an action no identity policy allows, in the service’s AccessDenied shape with IAM’s message', async () => {
    const creds = await session('no-perms', []);
    const c = clients(creds);
    const ec2 = await refusal(c.ec2());
    expect(ec2).toMatchObject({ name: 'UnauthorizedOperation', status: 403 });
    expect(ec2.message).toMatch(
      /^You are not authorized to perform this operation\. User: arn:aws:sts::123456789012:assumed-role\/no-perms\/fn is not authorized to perform: ec2:DescribeVpcs on resource: \* because no identity-based policy allows the ec2:DescribeVpcs action\. Encoded authorization failure message: /,
    );
    expect(await refusal(c.iam())).toEqual({
      name: 'AccessDenied',
      status: 403,
      message:
        'User: arn:aws:sts::123456789012:assumed-role/no-perms/fn is not authorized to perform: iam:ListRoles on resource: * because no identity-based policy allows the iam:ListRoles action',
    });
    expect(await refusal(c.lambda())).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(await refusal(c.states())).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    // GetCallerIdentity needs no permission.
    expect((await c.sts()).Arn).toBe('arn:aws:sts::123456789012:assumed-role/no-perms/fn');
  });

  it('authorizes a tagged create on vpc/* with aws:RequestTag, and ec2:CreateTags with ec2:CreateAction', async () => {
    const creds = await session('tagged-creator', [
      {
        Effect: 'Allow',
        Action: 'ec2:CreateVpc',
        Resource: 'arn:aws:ec2:us-east-1:123456789012:vpc/*',
        Condition: { StringEquals: { 'aws:RequestTag/run': 'r1' } },
      },
      {
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { 'ec2:CreateAction': 'CreateVpc' } },
      },
    ]);
    const ec2 = new EC2Client({ ...adminClientConfig(emu), credentials: creds });
    const spec = (v: string) => [{ ResourceType: 'vpc' as const, Tags: [{ Key: 'run', Value: v }] }];
    const ok = await ec2.send(
      new CreateVpcCommand({ CidrBlock: '10.9.0.0/16', TagSpecifications: spec('r1') }),
    );
    expect(ok.Vpc?.VpcId).toMatch(/^vpc-/);
    const wrong = await refusal(
      ec2.send(new CreateVpcCommand({ CidrBlock: '10.8.0.0/16', TagSpecifications: spec('r2') })),
    );
    expect(wrong.message).toContain('ec2:CreateVpc on resource: arn:aws:ec2:us-east-1:123456789012:vpc/*');
  });

  it('a permissions boundary limits what the identity policy allows', async () => {
    const creds = await session('bounded', [{ Effect: 'Allow', Action: ['ec2:*', 'iam:*'], Resource: '*' }]);
    const admin = new IAMClient(adminClientConfig(emu));
    const b = await admin.send(
      new CreatePolicyCommand({
        PolicyName: 'only-ec2',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }],
        }),
      }),
    );
    await admin.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: 'bounded', PermissionsBoundary: b.Policy!.Arn! }),
    );
    const c = clients(creds);
    await c.ec2();
    const refused = await refusal(c.iam());
    expect(refused.message).toContain('because no permissions boundary allows the iam:ListRoles action');
  });

  it('service control policies bind every principal, root included', async () => {
    emu.ctx.world.serviceControlPolicies = [
      {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: '*', Resource: '*' },
          { Effect: 'Deny', Action: 'lambda:ListFunctions', Resource: '*' },
        ],
      },
    ];
    try {
      const root = clients(emu.clientConfig().credentials);
      const refused = await refusal(root.lambda());
      expect(refused).toMatchObject({ name: 'AccessDeniedException', status: 403 });
      expect(refused.message).toContain('with an explicit deny in a service control policy');
      await root.ec2();
    } finally {
      emu.ctx.world.serviceControlPolicies = [];
    }
  });
});
