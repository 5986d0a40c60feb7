import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  SetDefaultPolicyVersionCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROFILES } from '../../emulator/core/latency.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { withClockHeld } from '../helpers/wait.ts';

const ACCOUNT = '123456789012';
const BASIC = 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';
const VPC_ACCESS = 'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';
const ENI_MANAGEMENT = 'arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess';

const lambdaTrust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

const bedrockPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'bedrock:InvokeModel',
      Resource: 'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-lite-v1',
      Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-0123456789abcdef0' } },
    },
  ],
});

let emu: Emulator;
let iam: IAMClient;

beforeAll(async () => {
  emu = await startTestEmulator();
  iam = new IAMClient(adminClientConfig(emu));
});
afterAll(() => emu.close());
beforeEach(() => emu.reset());

async function createRole(
  name: string,
  extra: Partial<ConstructorParameters<typeof CreateRoleCommand>[0]> = {},
) {
  const out = await iam.send(
    new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: lambdaTrust, ...extra }),
  );
  return out.Role!;
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

describe('IAM roles', () => {
  it('creates a role with an AROA id, an account-scoped ARN with its path, and returns it from GetRole', async () => {
    const created = await createRole('probe', {
      Path: '/privatelink-verify/',
      Description: 'probe role',
      MaxSessionDuration: 7200,
      Tags: [{ Key: 'run-id', Value: 'r1' }],
    });
    expect(created.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/);
    expect(created.Arn).toBe(`arn:aws:iam::${ACCOUNT}:role/privatelink-verify/probe`);
    expect(created.CreateDate).toBeInstanceOf(Date);

    const got = (await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role!;
    expect(got.RoleId).toBe(created.RoleId);
    expect(got.Path).toBe('/privatelink-verify/');
    expect(got.Description).toBe('probe role');
    expect(got.MaxSessionDuration).toBe(7200);
    expect(got.Tags).toEqual([{ Key: 'run-id', Value: 'r1' }]);
    // AWS returns the trust policy URL-encoded, verbatim.
    expect(decodeURIComponent(got.AssumeRolePolicyDocument!)).toBe(lambdaTrust);
  });

  it('defaults Path to / and MaxSessionDuration to one hour', async () => {
    const role = await createRole('plain');
    expect(role.Path).toBe('/');
    expect(role.Arn).toBe(`arn:aws:iam::${ACCOUNT}:role/plain`);
    expect(role.MaxSessionDuration).toBe(3600);
  });

  it('refuses a second role with the same name, whatever its case', async () => {
    await createRole('probe');
    const err = await errorOf(createRole('PROBE'));
    expect(err.name).toBe('EntityAlreadyExistsException');
    expect(err.status).toBe(409);
  });

  it('rejects invalid role names, paths and session durations with ValidationError', async () => {
    expect((await errorOf(createRole('bad name!'))).name).toBe('ValidationError');
    expect((await errorOf(createRole('x'.repeat(65)))).name).toBe('ValidationError');
    expect((await errorOf(createRole('p', { Path: 'no-slashes' }))).name).toBe('ValidationError');
    expect((await errorOf(createRole('p', { MaxSessionDuration: 60 }))).name).toBe('ValidationError');
  });

  it('rejects a trust policy that is not JSON, lacks a principal, or names an unknown role', async () => {
    const notJson = await errorOf(createRole('p', { AssumeRolePolicyDocument: '{"Version": ' }));
    expect(notJson.name).toBe('MalformedPolicyDocumentException');
    expect(notJson.message).toBe('This policy contains invalid Json');

    const noPrincipal = JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] });
    expect((await errorOf(createRole('p', { AssumeRolePolicyDocument: noPrincipal }))).name).toBe(
      'MalformedPolicyDocumentException',
    );

    const ghost = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/ghost` },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    const err = await errorOf(createRole('p', { AssumeRolePolicyDocument: ghost }));
    expect(err.name).toBe('MalformedPolicyDocumentException');
    expect(err.message).toContain('Invalid principal');
    // Nothing half-created.
    expect((await errorOf(iam.send(new GetRoleCommand({ RoleName: 'p' })))).name).toBe(
      'NoSuchEntityException',
    );
  });

  it('accepts a trust policy sent URL-encoded, as GetRole hands it out', async () => {
    const role = await createRole('copy', { AssumeRolePolicyDocument: encodeURIComponent(lambdaTrust) });
    expect(decodeURIComponent(role.AssumeRolePolicyDocument!)).toBe(lambdaTrust);
  });

  it('caps the trust policy at 2,048 characters (whitespace not counted) with LimitExceeded', async () => {
    const big = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': Array.from({ length: 200 }, () => ACCOUNT) } },
        },
      ],
    });
    const err = await errorOf(createRole('big', { AssumeRolePolicyDocument: big }));
    expect(err.name).toBe('LimitExceededException');
  });

  it('answers NoSuchEntity (404) for a role that does not exist', async () => {
    const err = await errorOf(iam.send(new GetRoleCommand({ RoleName: 'ghost' })));
    expect(err).toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The role with name ghost cannot be found.',
      status: 404,
    });
  });

  it('answers NoSuchEntity right after create when the not-found-after-create fault is set, then finds it', async () => {
    await createRole('fresh');
    emu.setFaults([{ kind: 'not-found-after-create', service: 'iam', operation: 'GetRole', times: 1 }]);
    expect((await errorOf(iam.send(new GetRoleCommand({ RoleName: 'fresh' })))).name).toBe(
      'NoSuchEntityException',
    );
    const again = await iam.send(new GetRoleCommand({ RoleName: 'fresh' }));
    expect(again.Role?.RoleName).toBe('fresh');
  });

  it('updates description, session duration and trust policy', async () => {
    await createRole('probe');
    await iam.send(
      new UpdateRoleCommand({ RoleName: 'probe', Description: 'changed', MaxSessionDuration: 43200 }),
    );
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'probe', PolicyDocument: trust }));
    const got = (await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role!;
    expect(got.Description).toBe('changed');
    expect(got.MaxSessionDuration).toBe(43200);
    expect(decodeURIComponent(got.AssumeRolePolicyDocument!)).toBe(trust);
    expect(emu.iam.role('probe')?.assumeRolePolicyDocument).toEqual(JSON.parse(trust));
  });

  it('deletes a role only once its inline and attached policies are gone (DeleteConflict 409)', async () => {
    await createRole('probe');
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'bedrock', PolicyDocument: bedrockPolicy }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC }));

    const inline = await errorOf(iam.send(new DeleteRoleCommand({ RoleName: 'probe' })));
    expect(inline).toMatchObject({ name: 'DeleteConflictException', status: 409 });
    expect(inline.message).toBe('Cannot delete entity, must delete policies first.');

    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'probe', PolicyName: 'bedrock' }));
    const attached = await errorOf(iam.send(new DeleteRoleCommand({ RoleName: 'probe' })));
    expect(attached.name).toBe('DeleteConflictException');
    expect(attached.message).toBe('Cannot delete entity, must detach all policies first.');

    await iam.send(new DetachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'probe' }));
    expect((await errorOf(iam.send(new GetRoleCommand({ RoleName: 'probe' })))).name).toBe(
      'NoSuchEntityException',
    );
    expect((await errorOf(iam.send(new DeleteRoleCommand({ RoleName: 'probe' })))).name).toBe(
      'NoSuchEntityException',
    );
  });
});

describe('IAM role tags', () => {
  it('tags, retags (case-insensitive keys), lists and untags a role; inventory carries the tags', async () => {
    await createRole('probe', { Tags: [{ Key: 'run-id', Value: 'r1' }] });
    await iam.send(
      new TagRoleCommand({
        RoleName: 'probe',
        Tags: [
          { Key: 'owner', Value: 'team' },
          { Key: 'RUN-ID', Value: 'r2' },
        ],
      }),
    );
    let tags = (await iam.send(new ListRoleTagsCommand({ RoleName: 'probe' }))).Tags;
    expect(tags).toEqual([
      { Key: 'owner', Value: 'team' },
      { Key: 'RUN-ID', Value: 'r2' },
    ]);

    await iam.send(new UntagRoleCommand({ RoleName: 'probe', TagKeys: ['run-id'] }));
    tags = (await iam.send(new ListRoleTagsCommand({ RoleName: 'probe' }))).Tags;
    expect(tags).toEqual([{ Key: 'owner', Value: 'team' }]);

    expect(emu.inventory().filter((i) => i.service === 'iam')).toEqual([
      { service: 'iam', type: 'role', id: 'probe', tags: { owner: 'team' } },
    ]);
    expect(emu.leftovers('owner', 'team').map((i) => i.id)).toEqual(['probe']);
  });

  it('rejects duplicate tag keys in one request and more than 50 tags', async () => {
    const dup = await errorOf(
      createRole('p', {
        Tags: [
          { Key: 'a', Value: '1' },
          { Key: 'A', Value: '2' },
        ],
      }),
    );
    expect(dup.name).toBe('InvalidInputException');

    await createRole('probe');
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    expect((await errorOf(iam.send(new TagRoleCommand({ RoleName: 'probe', Tags: many })))).name).toBe(
      'LimitExceededException',
    );
  });
});

describe('IAM ListRoles', () => {
  it('pages with Marker/MaxItems and IsTruncated, in name order, filtered by PathPrefix', async () => {
    for (const n of ['delta', 'alpha', 'echo', 'charlie', 'bravo']) await createRole(n);
    await createRole('svc', { Path: '/service/' });

    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await iam.send(new ListRolesCommand({ MaxItems: 2, Marker: marker }));
      pages++;
      seen.push(...page.Roles!.map((r) => r.RoleName!));
      expect(page.Roles!.length).toBeLessThanOrEqual(2);
      expect(page.IsTruncated).toBe(page.Marker !== undefined);
      marker = page.Marker;
    } while (marker);
    expect(pages).toBe(3);
    expect(seen).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo', 'svc']);

    const svc = await iam.send(new ListRolesCommand({ PathPrefix: '/service/' }));
    expect(svc.Roles!.map((r) => r.RoleName)).toEqual(['svc']);
    expect(svc.IsTruncated).toBe(false);
  });

  it('leaves tags out of ListRoles, as AWS does', async () => {
    await createRole('probe', { Tags: [{ Key: 'run-id', Value: 'r1' }] });
    const roles = (await iam.send(new ListRolesCommand({}))).Roles!;
    expect(roles[0]!.RoleName).toBe('probe');
    expect(roles[0]!.Tags).toBeUndefined();
  });

  it('resumes after a page boundary even if the last role returned was deleted meanwhile', async () => {
    for (const n of ['a1', 'a2', 'a3', 'a4']) await createRole(n);
    const first = await iam.send(new ListRolesCommand({ MaxItems: 2 }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'a2' }));
    const second = await iam.send(new ListRolesCommand({ MaxItems: 2, Marker: first.Marker }));
    expect(second.Roles!.map((r) => r.RoleName)).toEqual(['a3', 'a4']);
    expect(second.IsTruncated).toBe(false);
  });
});

describe('IAM inline role policies', () => {
  it('puts, gets (URL-encoded document), lists and deletes an inline policy', async () => {
    await createRole('probe');
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'bedrock', PolicyDocument: bedrockPolicy }),
    );
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'aaa', PolicyDocument: bedrockPolicy }),
    );

    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'probe', PolicyName: 'bedrock' }));
    expect(got.RoleName).toBe('probe');
    expect(got.PolicyDocument).toBe(encodeURIComponent(bedrockPolicy));

    const listed = await iam.send(new ListRolePoliciesCommand({ RoleName: 'probe' }));
    expect(listed.PolicyNames).toEqual(['aaa', 'bedrock']);
    expect(listed.IsTruncated).toBe(false);

    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'probe', PolicyName: 'aaa' }));
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'probe' }))).PolicyNames).toEqual([
      'bedrock',
    ]);
  });

  it('answers NoSuchEntity for a missing inline policy or role', async () => {
    await createRole('probe');
    const get = await errorOf(iam.send(new GetRolePolicyCommand({ RoleName: 'probe', PolicyName: 'nope' })));
    expect(get).toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The role policy with name nope cannot be found.',
    });
    const del = await errorOf(
      iam.send(new DeleteRolePolicyCommand({ RoleName: 'probe', PolicyName: 'nope' })),
    );
    expect(del.name).toBe('NoSuchEntityException');
    const put = await errorOf(
      iam.send(
        new PutRolePolicyCommand({ RoleName: 'ghost', PolicyName: 'p', PolicyDocument: bedrockPolicy }),
      ),
    );
    expect(put.name).toBe('NoSuchEntityException');
  });

  it('rejects malformed identity policies', async () => {
    await createRole('probe');
    const put = (doc: string) =>
      errorOf(
        iam.send(new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'p', PolicyDocument: doc })),
      );
    expect((await put('not json')).name).toBe('MalformedPolicyDocumentException');
    const withPrincipal = JSON.stringify({
      Statement: [{ Effect: 'Allow', Principal: '*', Action: 'bedrock:InvokeModel', Resource: '*' }],
    });
    expect((await put(withPrincipal)).message).toBe('Policy document should not specify a principal.');
    const badResource = JSON.stringify({
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'bucket' }],
    });
    expect((await put(badResource)).name).toBe('MalformedPolicyDocumentException');
    const badAction = JSON.stringify({
      Statement: [{ Effect: 'Allow', Action: 'InvokeModel', Resource: '*' }],
    });
    expect((await put(badAction)).name).toBe('MalformedPolicyDocumentException');
    const badVersion = JSON.stringify({ Version: '2020-01-01', Statement: [] });
    expect((await put(badVersion)).name).toBe('MalformedPolicyDocumentException');
  });

  it('limits the inline policies of a role to 10,240 characters in total (LimitExceeded)', async () => {
    await createRole('probe');
    const policyOf = (n: number) =>
      JSON.stringify({
        Statement: [
          {
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: Array.from({ length: n }, (_, i) => `arn:aws:s3:::bucket-${i}/*`),
          },
        ],
      });
    const six = policyOf(220); // about 6,000 characters
    expect(six.length).toBeGreaterThan(5500);
    expect(six.length).toBeLessThan(10240);
    await iam.send(new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'one', PolicyDocument: six }));
    // Replacing the same policy does not count it twice.
    await iam.send(new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'one', PolicyDocument: six }));
    const err = await errorOf(
      iam.send(new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'two', PolicyDocument: six })),
    );
    expect(err).toMatchObject({ name: 'LimitExceededException', status: 409 });
    expect(err.message).toBe('Maximum policy size of 10240 bytes exceeded for role probe');
  });
});

describe('IAM managed policies', () => {
  it('attaches, lists and detaches AWS managed Lambda policies', async () => {
    await createRole('probe');
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: VPC_ACCESS }));
    // Attaching again is a no-op, as on AWS.
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC }));

    const listed = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'probe' }));
    expect(listed.AttachedPolicies).toEqual([
      { PolicyName: 'AWSLambdaBasicExecutionRole', PolicyArn: BASIC },
      { PolicyName: 'AWSLambdaVPCAccessExecutionRole', PolicyArn: VPC_ACCESS },
    ]);

    await iam.send(new DetachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC }));
    const after = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'probe' }));
    expect(after.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([VPC_ACCESS]);

    const again = await errorOf(
      iam.send(new DetachRolePolicyCommand({ RoleName: 'probe', PolicyArn: BASIC })),
    );
    expect(again.name).toBe('NoSuchEntityException');
  });

  it('refuses to attach a policy ARN it does not know (NoSuchEntity) or a malformed ARN (InvalidInput)', async () => {
    await createRole('probe');
    const unknown = await errorOf(
      iam.send(
        new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: 'arn:aws:iam::aws:policy/NoSuchPolicy' }),
      ),
    );
    expect(unknown).toMatchObject({ name: 'NoSuchEntityException', status: 404 });
    const bad = await errorOf(
      iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: 'not-an-arn' })),
    );
    expect(bad.name).toBe('InvalidInputException');
  });

  it('describes AWS managed policies with GetPolicy and their real statements with GetPolicyVersion', async () => {
    await createRole('probe');
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: VPC_ACCESS }));
    const policy = (await iam.send(new GetPolicyCommand({ PolicyArn: VPC_ACCESS }))).Policy!;
    expect(policy).toMatchObject({
      PolicyName: 'AWSLambdaVPCAccessExecutionRole',
      Path: '/service-role/',
      Arn: VPC_ACCESS,
      AttachmentCount: 1,
      IsAttachable: true,
    });
    expect(policy.PolicyId).toMatch(/^ANPA/);

    const version = (
      await iam.send(
        new GetPolicyVersionCommand({ PolicyArn: VPC_ACCESS, VersionId: policy.DefaultVersionId! }),
      )
    ).PolicyVersion!;
    expect(version.IsDefaultVersion).toBe(true);
    const doc = JSON.parse(decodeURIComponent(version.Document!));
    expect(doc.Statement[0].Action).toEqual(
      expect.arrayContaining([
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ]),
    );

    const eni = (await iam.send(new GetPolicyCommand({ PolicyArn: ENI_MANAGEMENT }))).Policy!;
    expect(eni.AttachmentCount).toBe(0);
    const missing = await errorOf(
      iam.send(new GetPolicyCommand({ PolicyArn: 'arn:aws:iam::aws:policy/Nope' })),
    );
    expect(missing.name).toBe('NoSuchEntityException');
    const noVersion = await errorOf(
      iam.send(new GetPolicyVersionCommand({ PolicyArn: BASIC, VersionId: 'v99' })),
    );
    expect(noVersion.name).toBe('NoSuchEntityException');
  });

  it('sets and removes a permissions boundary', async () => {
    await createRole('probe', { PermissionsBoundary: BASIC });
    let role = (await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role!;
    expect(role.PermissionsBoundary).toEqual({
      PermissionsBoundaryType: 'Policy',
      PermissionsBoundaryArn: BASIC,
    });
    await iam.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: 'probe', PermissionsBoundary: VPC_ACCESS }),
    );
    role = (await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role!;
    expect(role.PermissionsBoundary?.PermissionsBoundaryArn).toBe(VPC_ACCESS);
    expect(emu.iam.permissionsBoundary('probe')?.Statement).toBeDefined();
    await iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: 'probe' }));
    role = (await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role!;
    expect(role.PermissionsBoundary).toBeUndefined();
  });
});

describe('IAM customer managed policies', () => {
  const boundaryDoc = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['bedrock:InvokeModel', 'logs:*', 'ec2:*'], Resource: '*' }],
  });

  it('creates a policy in the account, attaches it, and feeds its default version to identityPolicies', async () => {
    const policy = (
      await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'probe-boundary',
          Path: '/privatelink-verify/',
          PolicyDocument: boundaryDoc,
          Description: 'boundary',
          Tags: [{ Key: 'run-id', Value: 'r1' }],
        }),
      )
    ).Policy!;
    expect(policy.Arn).toBe(`arn:aws:iam::${ACCOUNT}:policy/privatelink-verify/probe-boundary`);
    expect(policy.PolicyId).toMatch(/^ANPA[A-Z2-7]{17}$/);
    expect(policy.DefaultVersionId).toBe('v1');

    await createRole('probe', { PermissionsBoundary: policy.Arn });
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: policy.Arn }));
    expect((await iam.send(new GetPolicyCommand({ PolicyArn: policy.Arn }))).Policy).toMatchObject({
      AttachmentCount: 1,
      PermissionsBoundaryUsageCount: 1,
      Description: 'boundary',
    });
    expect(emu.iam.identityPolicies('probe')).toEqual([JSON.parse(boundaryDoc)]);
    expect(emu.iam.permissionsBoundary('probe')).toEqual(JSON.parse(boundaryDoc));
    expect(emu.inventory()).toContainEqual({
      service: 'iam',
      type: 'policy',
      id: policy.Arn,
      tags: { 'run-id': 'r1' },
    });

    const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local' }));
    expect(local.Policies!.map((p) => p.Arn)).toEqual([policy.Arn]);
    const aws = await iam.send(new ListPoliciesCommand({ Scope: 'AWS' }));
    expect(aws.Policies!.map((p) => p.PolicyName)).toContain('AWSLambdaVPCAccessExecutionRole');

    const dup = await errorOf(
      iam.send(new CreatePolicyCommand({ PolicyName: 'PROBE-BOUNDARY', PolicyDocument: boundaryDoc })),
    );
    expect(dup.name).toBe('EntityAlreadyExistsException');
  });

  it('versions a policy: the default decides, the default cannot be deleted, at most five versions', async () => {
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: 'p', PolicyDocument: boundaryDoc })))
      .Policy!.Arn!;
    await createRole('probe');
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: arn }));
    const narrower = JSON.stringify({
      Statement: [{ Effect: 'Allow', Action: 'logs:PutLogEvents', Resource: '*' }],
    });
    const v2 = (
      await iam.send(
        new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: narrower, SetAsDefault: true }),
      )
    ).PolicyVersion!;
    expect(v2).toMatchObject({ VersionId: 'v2', IsDefaultVersion: true });
    expect(emu.iam.identityPolicies('probe')).toEqual([JSON.parse(narrower)]);
    const v1 = (await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' })))
      .PolicyVersion!;
    expect(decodeURIComponent(v1.Document!)).toBe(boundaryDoc);
    expect(v1.IsDefaultVersion).toBe(false);

    const delDefault = await errorOf(
      iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' })),
    );
    expect(delDefault.name).toBe('DeleteConflictException');
    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v1' }));
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));

    for (let i = 0; i < 4; i++) {
      await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: narrower }));
    }
    const versions = (await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!;
    expect(versions.map((v) => v.VersionId)).toEqual(['v6', 'v5', 'v4', 'v3', 'v1']);
    const sixth = await errorOf(
      iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: narrower })),
    );
    expect(sixth.name).toBe('LimitExceededException');
  });

  it('deletes a policy only when detached and down to its default version', async () => {
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: 'p', PolicyDocument: boundaryDoc })))
      .Policy!.Arn!;
    await createRole('probe');
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: arn }));
    expect((await errorOf(iam.send(new DeletePolicyCommand({ PolicyArn: arn })))).name).toBe(
      'DeleteConflictException',
    );
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'probe', PolicyArn: arn }));
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: boundaryDoc }));
    expect((await errorOf(iam.send(new DeletePolicyCommand({ PolicyArn: arn })))).name).toBe(
      'DeleteConflictException',
    );
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    expect((await errorOf(iam.send(new GetPolicyCommand({ PolicyArn: arn })))).name).toBe(
      'NoSuchEntityException',
    );
  });

  it('refuses to change AWS managed policies and oversized documents', async () => {
    const denied = await errorOf(iam.send(new DeletePolicyCommand({ PolicyArn: BASIC })));
    expect(denied).toMatchObject({ name: 'AccessDenied', status: 403 });
    const huge = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: Array.from({ length: 300 }, (_, i) => `arn:aws:s3:::bucket-${i}/*`),
        },
      ],
    });
    const big = await errorOf(iam.send(new CreatePolicyCommand({ PolicyName: 'big', PolicyDocument: huge })));
    expect(big.name).toBe('LimitExceededException');
  });
});

describe('IamModel views', () => {
  it('role() finds a role by name or by ARN, and only by its own ARN', async () => {
    const created = await createRole('probe', { Path: '/app/' });
    expect(emu.iam.role('probe')?.roleId).toBe(created.RoleId);
    expect(emu.iam.role(created.Arn!)?.roleName).toBe('probe');
    expect(emu.iam.role(`arn:aws:iam::${ACCOUNT}:role/probe`)).toBeUndefined();
    expect(emu.iam.role(`arn:aws:iam::999999999999:role/app/probe`)).toBeUndefined();
    expect(emu.iam.role('ghost')).toBeUndefined();
  });

  it('identityPolicies() returns inline and attached managed policies, parsed', async () => {
    await createRole('probe');
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'probe', PolicyName: 'bedrock', PolicyDocument: bedrockPolicy }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'probe', PolicyArn: ENI_MANAGEMENT }));
    const docs = emu.iam.identityPolicies('probe');
    expect(docs).toHaveLength(2);
    expect(docs).toContainEqual(JSON.parse(bedrockPolicy));
    const actions = docs.flatMap((d) => [d.Statement].flat().flatMap((s) => [s.Action ?? []].flat()));
    expect(actions).toContain('bedrock:InvokeModel');
    expect(actions).toContain('ec2:CreateNetworkInterface');
    expect(emu.iam.identityPolicies('ghost')).toEqual([]);
  });

  it('assumableByLambdaAt() is the creation time under the instant profile', async () => {
    await createRole('probe');
    const view = emu.iam.role('probe')!;
    expect(emu.iam.assumableByLambdaAt('probe')).toBe(view.createdAt);
    expect(emu.iam.assumableByLambdaAt('ghost')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('IamModel under the realistic profile', () => {
  let real: Emulator;
  let realIam: IAMClient;
  beforeAll(async () => {
    real = await startTestEmulator({ profile: PROFILES.realistic, timeScale: 0.001 });
    realIam = new IAMClient(adminClientConfig(real));
  });
  afterAll(() => real.close());

  it('keeps a new role unassumable by Lambda for 5-12 virtual seconds, and reopens that window after a trust policy update', async () => {
    // 5-12 virtual seconds are 5-12 ms of wall time at this cap: hold the clock from the create
    // to the look, as a client calling right after CreateRole would be on AWS.
    const window = await withClockHeld(real, async () => {
      await realIam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust }));
      const w = real.iam.assumableByLambdaAt('probe') - real.iam.role('probe')!.createdAt;
      expect(real.iam.assumableByLambdaAt('probe')).toBeGreaterThan(real.ctx.now());
      return w;
    });
    expect(window).toBeGreaterThanOrEqual(5_000);
    expect(window).toBeLessThanOrEqual(12_000);

    // Wait (virtually) until the role is assumable, then change the trust policy.
    await real.ctx.clock.sleep(window + 1);
    expect(real.iam.assumableByLambdaAt('probe')).toBeLessThanOrEqual(real.ctx.now());
    const before = real.ctx.now();
    await realIam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'probe', PolicyDocument: lambdaTrust }));
    const after = real.ctx.now();
    // Reopened with the same per-role draw, counted from the moment of the update.
    const reopened = real.iam.assumableByLambdaAt('probe');
    expect(reopened - before).toBeGreaterThanOrEqual(window);
    expect(reopened - after).toBeLessThanOrEqual(window);
  });
});

describe('STS with IAM roles', () => {
  // Root may not assume roles, whatever the trust policy says (real response quoted in
  // kubeflow/testing#961: "Roles may not be assumed by root accounts.").
  it('refuses AssumeRole to the root user', async () => {
    const role = await createRole('root-target', {
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    const err = await errorOf(
      new STSClient(adminClientConfig(emu)).send(
        new AssumeRoleCommand({ RoleArn: role.Arn!, RoleSessionName: 'session' }),
      ),
    );
    expect(err).toEqual({
      name: 'AccessDenied',
      message: 'Roles may not be assumed by root accounts.',
      status: 403,
    });
  });

  it('AssumeRole by a session the trust policy names returns credentials that act as that role; others are refused', async () => {
    const callerArn = `arn:aws:iam::${ACCOUNT}:role/caller`;
    await createRole('caller');
    const session = emu.ctx.identities.issueForRole(callerArn, 'caller', 'fn');
    const role = await createRole('probe', {
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: callerArn }, Action: 'sts:AssumeRole' }],
      }),
    });
    const sts = new STSClient({ ...adminClientConfig(emu), credentials: session });
    const out = await sts.send(
      new AssumeRoleCommand({ RoleArn: role.Arn!, RoleSessionName: 'test-session' }),
    );
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/probe/test-session`);
    expect(out.AssumedRoleUser?.AssumedRoleId).toBe(`${role.RoleId}:test-session`);

    const c = out.Credentials!;
    const asRole = new STSClient({
      ...adminClientConfig(emu),
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken!,
      },
    });
    const id = await asRole.send(new GetCallerIdentityCommand({}));
    expect(id.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/probe/test-session`);

    // A role that trusts only Lambda: the session is not named, so the trust policy refuses.
    const lambdaOnly = await createRole('lambda-only');
    const refused = await errorOf(
      sts.send(new AssumeRoleCommand({ RoleArn: lambdaOnly.Arn!, RoleSessionName: 'session' })),
    );
    expect(refused).toEqual({
      name: 'AccessDenied',
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/caller/fn is not authorized to perform: sts:AssumeRole on resource: ${lambdaOnly.Arn}`,
      status: 403,
    });
  });

  it('AssumeRole on a deleted role is AccessDenied', async () => {
    const role = await createRole('gone');
    await iam.send(new DeleteRoleCommand({ RoleName: 'gone' }));
    const sts = new STSClient(adminClientConfig(emu));
    const err = await errorOf(sts.send(new AssumeRoleCommand({ RoleArn: role.Arn!, RoleSessionName: 's1' })));
    expect(err.name).toBe('AccessDenied');
  });
});
