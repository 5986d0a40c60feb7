import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreatePolicyCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallerNetwork } from '../../emulator/core/identity.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { LAMBDA_TRUST_POLICY, zippedFixture } from '../fixtures/lambda/bundle.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { eventually, functionReady } from '../helpers/wait.ts';

let emu: Emulator;
let lambda: LambdaClient;
let ec2: EC2Client;
let zip: Uint8Array;
let vpcRole: string;
let plainRole: string;
let net: { vpcId: string; subnetA: string; subnetB: string; sg: string; otherVpcSubnet: string };

const ENI_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface'],
      Resource: '*',
    },
  ],
});

async function lambdaEnis(functionName: string) {
  const out = await ec2.send(new DescribeNetworkInterfacesCommand({}));
  return (out.NetworkInterfaces ?? []).filter((n) =>
    n.Description?.startsWith(`AWS Lambda VPC ENI-${functionName}-`),
  );
}

function createVpcFunction(
  name: string,
  vpc: { SubnetIds: string[]; SecurityGroupIds: string[] },
  role = vpcRole,
) {
  return lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: role,
      Code: { ZipFile: zip },
      VpcConfig: vpc,
    }),
  );
}

beforeAll(async () => {
  emu = await startTestEmulator();
  lambda = new LambdaClient(adminClientConfig(emu));
  ec2 = new EC2Client(adminClientConfig(emu));
  const iam = new IAMClient(adminClientConfig(emu));
  zip = await zippedFixture('./behaviours.ts');
  const withEni = await iam.send(
    new CreateRoleCommand({ RoleName: 'vpc-fn', AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
  );
  await iam.send(
    new PutRolePolicyCommand({ RoleName: 'vpc-fn', PolicyName: 'eni', PolicyDocument: ENI_POLICY }),
  );
  vpcRole = withEni.Role!.Arn!;
  const without = await iam.send(
    new CreateRoleCommand({ RoleName: 'no-eni', AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
  );
  plainRole = without.Role!.Arn!;

  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const a = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.1.0/24', AvailabilityZone: 'us-east-1a' }),
  );
  const b = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.2.0/24', AvailabilityZone: 'us-east-1b' }),
  );
  const sg = await ec2.send(
    new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'workload', Description: 'probe' }),
  );
  const other = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }));
  const otherSubnet = await ec2.send(
    new CreateSubnetCommand({
      VpcId: other.Vpc!.VpcId!,
      CidrBlock: '10.30.1.0/24',
      AvailabilityZone: 'us-east-1a',
    }),
  );
  net = {
    vpcId,
    subnetA: a.Subnet!.SubnetId!,
    subnetB: b.Subnet!.SubnetId!,
    sg: sg.GroupId!,
    otherVpcSubnet: otherSubnet.Subnet!.SubnetId!,
  };
});
afterAll(() => emu?.close());

describe('Lambda functions inside a VPC', () => {
  it('creates hyperplane ENIs in each subnet and reports the VpcId', async () => {
    const created = await createVpcFunction('vpc-probe', {
      SubnetIds: [net.subnetA, net.subnetB],
      SecurityGroupIds: [net.sg],
    });
    expect(created.VpcConfig).toMatchObject({
      SubnetIds: [net.subnetA, net.subnetB],
      SecurityGroupIds: [net.sg],
      VpcId: net.vpcId,
    });
    const enis = await lambdaEnis('vpc-probe');
    expect(enis.map((e) => e.SubnetId).sort()).toEqual([net.subnetA, net.subnetB].sort());
    for (const eni of enis) {
      expect(eni.Status).toBe('in-use');
      expect(eni.Groups?.map((g) => g.GroupId)).toEqual([net.sg]);
    }
  });

  it('refuses a VPC function whose role may not create network interfaces', async () => {
    await expect(
      createVpcFunction('vpc-noperm', { SubnetIds: [net.subnetA], SecurityGroupIds: [net.sg] }, plainRole),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: 'The provided execution role does not have permissions to call CreateNetworkInterface on EC2',
    });
    expect(await lambdaEnis('vpc-noperm')).toEqual([]);
  });

  // The ENI permission is decided like any call of the role: a permissions boundary that leaves
  // ec2:CreateNetworkInterface out refuses it even though the identity policy allows it (IAM User
  // Guide, "Permissions boundaries for IAM entities": effective permissions are the intersection).
  it('refuses a VPC function whose role is allowed ENIs by its policy but not by its boundary', async () => {
    const iam = new IAMClient(adminClientConfig(emu));
    const boundary = await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'logs-only-boundary',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }],
        }),
      }),
    );
    const bounded = await iam.send(
      new CreateRoleCommand({
        RoleName: 'vpc-fn-bounded',
        AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY,
        PermissionsBoundary: boundary.Policy!.Arn!,
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'vpc-fn-bounded', PolicyName: 'eni', PolicyDocument: ENI_POLICY }),
    );
    await expect(
      createVpcFunction(
        'vpc-bounded',
        { SubnetIds: [net.subnetA], SecurityGroupIds: [net.sg] },
        bounded.Role!.Arn!,
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: 'The provided execution role does not have permissions to call CreateNetworkInterface on EC2',
    });
    expect(await lambdaEnis('vpc-bounded')).toEqual([]);
  });

  it('refuses subnets or security groups that do not exist, or that sit in different VPCs', async () => {
    await expect(
      createVpcFunction('vpc-badsubnet', {
        SubnetIds: ['subnet-0123456789abcdef0'],
        SecurityGroupIds: [net.sg],
      }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: expect.stringContaining('InvalidSubnetID.NotFound'),
    });
    await expect(
      createVpcFunction('vpc-badsg', {
        SubnetIds: [net.subnetA],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: expect.stringContaining('InvalidGroup.NotFound'),
    });
    await expect(
      createVpcFunction('vpc-mixed', { SubnetIds: [net.otherVpcSubnet], SecurityGroupIds: [net.sg] }),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
  });

  it('gives the function’s calls the VPC as their network (DNS is answered for that VPC)', async () => {
    await createVpcFunction('vpc-dns', { SubnetIds: [net.subnetA], SecurityGroupIds: [net.sg] });
    await functionReady(lambda, 'vpc-dns');
    const saved = emu.ctx.network;
    const seen: (CallerNetwork | undefined)[] = [];
    emu.ctx.network = {
      resolve: (hostname, region, network) => {
        seen.push(network);
        return saved ? saved.resolve(hostname, region, network) : [];
      },
    };
    try {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: 'vpc-dns',
          Payload: new TextEncoder().encode(
            JSON.stringify({ action: 'dns', hostname: 'bedrock-runtime.us-east-1.amazonaws.com' }),
          ),
        }),
      );
      expect(out.FunctionError).toBeUndefined();
      expect(seen[0]).toEqual({ vpcId: net.vpcId, subnetIds: [net.subnetA], securityGroupIds: [net.sg] });
    } finally {
      emu.ctx.network = saved;
    }
  });

  it('judges a call from where it was sent, not from whose key signs it (credentials of a caller outside any VPC, used inside one)', async () => {
    // Credentials issued outside any VPC (as STS issues them to a task with no VpcConfig).
    const outside = emu.ctx.identities.issueForRole(plainRole, 'no-eni', 'handed-over');
    await createVpcFunction('vpc-borrowed', { SubnetIds: [net.subnetA], SecurityGroupIds: [net.sg] });
    await functionReady(lambda, 'vpc-borrowed');
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'plain-borrowed',
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: plainRole,
        Code: { ZipFile: zip },
      }),
    );
    await functionReady(lambda, 'plain-borrowed');
    const run = async (FunctionName: string) => {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName,
          Payload: new TextEncoder().encode(JSON.stringify({ action: 'invoke-model', credentials: outside })),
        }),
      );
      const text = new TextDecoder().decode(out.Payload);
      expect(out.FunctionError, text).toBeUndefined();
      return JSON.parse(text) as { outcome: string; message?: string };
    };
    // Inside the VPC (no endpoint, no route out) the packets go nowhere, whoever signs them.
    expect((await run('vpc-borrowed')).outcome).toMatch(/TimeoutError|RequestTimeout/);
    // The same credentials from a function outside any VPC reach the public endpoint: IAM answers.
    const fromOutside = await run('plain-borrowed');
    expect(fromOutside.outcome).toBe('AccessDeniedException');
    expect(fromOutside.message).toMatch(/no identity-based policy allows/);
  });

  it('moves ENIs when VpcConfig changes: new ones attach, old ones are released', async () => {
    await createVpcFunction('vpc-move', { SubnetIds: [net.subnetA], SecurityGroupIds: [net.sg] });
    await functionReady(lambda, 'vpc-move');
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'vpc-move',
        VpcConfig: { SubnetIds: [net.subnetB], SecurityGroupIds: [net.sg] },
      }),
    );
    // The released ENI stays in use for a while (every profile), then detaches.
    const during = await lambdaEnis('vpc-move');
    expect(
      during
        .filter((e) => e.Status === 'in-use')
        .map((e) => e.SubnetId)
        .sort(),
    ).toEqual([net.subnetA, net.subnetB].sort());
    await functionReady(lambda, 'vpc-move');
    const enis = await eventually(
      () => lambdaEnis('vpc-move'),
      (all) => all.some((e) => e.Status === 'available'),
      'the released ENI detached',
    );
    const inUse = enis.filter((e) => e.Status === 'in-use').map((e) => e.SubnetId);
    const released = enis.filter((e) => e.Status === 'available').map((e) => e.SubnetId);
    expect(inUse).toEqual([net.subnetB]);
    expect(released).toEqual([net.subnetA]);
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'vpc-move' }));
    expect(cfg.VpcConfig?.SubnetIds).toEqual([net.subnetB]);
  });

  it('leaves its ENIs behind after DeleteFunction, released for Lambda to delete later', async () => {
    await createVpcFunction('vpc-delete', {
      SubnetIds: [net.subnetA, net.subnetB],
      SecurityGroupIds: [net.sg],
    });
    expect((await lambdaEnis('vpc-delete')).every((e) => e.Status === 'in-use')).toBe(true);
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'vpc-delete' }));
    // Every profile keeps them in use for a while after the delete, as AWS does (ARCHITECTURE:
    // every state observable on instant); they detach later and Lambda deletes them much later.
    expect((await lambdaEnis('vpc-delete')).every((e) => e.Status === 'in-use')).toBe(true);
    const after = await eventually(
      () => lambdaEnis('vpc-delete'),
      (all) => all.every((e) => e.Status === 'available'),
      'the ENIs detached',
    );
    expect(after).toHaveLength(2);
  });
});
