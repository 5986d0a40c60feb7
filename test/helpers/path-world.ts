import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  ModifyVpcEndpointCommand,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'vitest';
import type { Caller } from '../../emulator/core/identity.ts';
import type { Emulator, StartOptions } from '../../emulator/emulator.ts';
import { explainBedrockPath } from '../../emulator/network/path.ts';
import { adminClientConfig, startTestEmulator } from './emulator.ts';

/**
 * The world the path decision tables call Bedrock from: a VPC with two subnets in two zones, an
 * interface endpoint in both, a probe role, built through the real EC2 and IAM SDK clients; the
 * call is made with credentials the emulator issued for the probe role inside the VPC, as the
 * probe function's would be. One setting per thing a case varies.
 */

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
export const MODEL_ARN = `arn:aws:bedrock:${REGION}::foundation-model/${MODEL}`;
export const BODY = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 20,
  messages: [{ role: 'user', content: 'ping' }],
});
/** Below the black-hole hold (600 virtual s; 0.6 real s at timeScale 0.001) so the client's own timeout fires. */
export const CLIENT_TIMEOUT_MS = 250;

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

export interface Setup {
  enableDnsSupport: boolean;
  enableDnsHostnames: boolean;
  privateDns: boolean;
  /** Workload SG keeps its default allow-all egress. */
  workloadEgress: boolean;
  /** Port the endpoint SG admits from the workload SG. */
  endpointIngressPort: number;
  endpointPolicy: (ctx: { probeRoleArn: string; vpceId: string }) => unknown;
  identityPolicy: (ctx: { probeRoleArn: string; vpceId: string }) => unknown;
  extraIdentityPolicy?: (ctx: { probeRoleArn: string; vpceId: string }) => unknown;
  /** No interface endpoint at all. */
  noEndpoint: boolean;
  /** Route 0.0.0.0/0 through an internet gateway from the workload subnet. */
  internetGateway: boolean;
  /** Wait for the endpoint to be available and usable before calling. */
  waitForEndpoint: boolean;
}

export const allowProbeOnModel = ({ probeRoleArn }: { probeRoleArn: string }) => ({
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: probeRoleArn }, Action: 'bedrock:InvokeModel', Resource: MODEL_ARN },
  ],
});
export const identityRequiringEndpoint = ({ vpceId }: { vpceId: string }) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'bedrock:InvokeModel',
      Resource: '*',
      Condition: { StringEquals: { 'aws:SourceVpce': vpceId } },
    },
  ],
});

export const CORRECT: Setup = {
  enableDnsSupport: true,
  enableDnsHostnames: true,
  privateDns: true,
  workloadEgress: true,
  endpointIngressPort: 443,
  endpointPolicy: allowProbeOnModel,
  identityPolicy: identityRequiringEndpoint,
  noEndpoint: false,
  internetGateway: false,
  waitForEndpoint: true,
};

let emu: Emulator | undefined;

/** Close the world the last build() started (afterEach, or before building a second one in a test). */
export async function closePathWorld(): Promise<void> {
  await emu?.close();
  emu = undefined;
}

export async function build(overrides: Partial<Setup> = {}, opts: StartOptions = {}) {
  const s = { ...CORRECT, ...overrides };
  emu = await startTestEmulator(opts);
  const cfg = { ...adminClientConfig(emu, REGION), maxAttempts: 5 };
  const ec2 = new EC2Client(cfg);
  const iam = new IAMClient(cfg);

  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } }));
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  const subnetA = (
    await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.1.0/24', AvailabilityZone: `${REGION}a` }),
    )
  ).Subnet!.SubnetId!;
  const subnetB = (
    await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.20.2.0/24', AvailabilityZone: `${REGION}b` }),
    )
  ).Subnet!.SubnetId!;
  const workloadSg = (
    await ec2.send(
      new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'workload', Description: 'probe function' }),
    )
  ).GroupId!;
  const endpointSg = (
    await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: 'endpoint',
        Description: 'bedrock endpoint',
      }),
    )
  ).GroupId!;
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: endpointSg,
      IpPermissions: [
        {
          IpProtocol: 'tcp',
          FromPort: s.endpointIngressPort,
          ToPort: s.endpointIngressPort,
          UserIdGroupPairs: [{ GroupId: workloadSg }],
        },
      ],
    }),
  );
  if (!s.workloadEgress) {
    await ec2.send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: workloadSg,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    // Egress that goes somewhere else entirely: DNS to the resolver only.
    await ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: workloadSg,
        IpPermissions: [
          { IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '10.20.0.2/32' }] },
        ],
      }),
    );
  }
  if (s.internetGateway) {
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const rt = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    await ec2.send(
      new CreateRouteCommand({ RouteTableId: rt, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }),
    );
    await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt, SubnetId: subnetA }));
  }

  const roleName = 'probe-role';
  const role = await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: TRUST }));
  const probeRoleArn = role.Role!.Arn!;

  let vpceId = 'vpce-00000000000000000';
  if (!s.noEndpoint) {
    const ep = await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: vpcId,
        VpcEndpointType: 'Interface',
        ServiceName: `com.amazonaws.${REGION}.bedrock-runtime`,
        SubnetIds: [subnetA, subnetB],
        SecurityGroupIds: [endpointSg],
        PrivateDnsEnabled: s.privateDns,
        PolicyDocument: JSON.stringify(s.endpointPolicy({ probeRoleArn, vpceId: 'unknown-yet' })),
      }),
    );
    vpceId = ep.VpcEndpoint!.VpcEndpointId!;
    // The policy may depend on the endpoint id; set it now that we know it.
    await ec2.send(
      new ModifyVpcEndpointCommand({
        VpcEndpointId: vpceId,
        PolicyDocument: JSON.stringify(s.endpointPolicy({ probeRoleArn, vpceId })),
      }),
    );
  }
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName: 'bedrock',
      PolicyDocument: JSON.stringify(s.identityPolicy({ probeRoleArn, vpceId })),
    }),
  );
  if (s.extraIdentityPolicy) {
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: 'extra',
        PolicyDocument: JSON.stringify(s.extraIdentityPolicy({ probeRoleArn, vpceId })),
      }),
    );
  }
  // Attributes last: DNS settings are what these cases vary, after the endpoint exists.
  if (!s.enableDnsHostnames) {
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: false } }));
  }
  if (!s.enableDnsSupport) {
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: false } }));
  }
  if (!s.noEndpoint && s.waitForEndpoint) await waitUsable(emu, vpceId);

  const network = { vpcId, subnetIds: [subnetA, subnetB], securityGroupIds: [workloadSg] };
  const creds = emu.ctx.identities.issueForRole(probeRoleArn, roleName, 'probe', { network });
  const runtime = new BedrockRuntimeClient({
    ...adminClientConfig(emu, REGION),
    credentials: creds,
    // throwOnRequestTimeout: this handler version only warns on requestTimeout otherwise.
    requestHandler: new NodeHttpHandler({ requestTimeout: CLIENT_TIMEOUT_MS, throwOnRequestTimeout: true }),
  });
  const caller: Caller = emu.ctx.identities.resolve(creds.accessKeyId)!;
  const started = emu;
  const explain = (modelId = MODEL, hostname?: string) =>
    explainBedrockPath(started.ctx, caller, REGION, modelId, hostname);
  return {
    emu,
    ec2,
    iam,
    runtime,
    caller,
    explain,
    vpcId,
    vpceId,
    subnetA,
    subnetB,
    workloadSg,
    endpointSg,
    probeRoleArn,
  };
}

/** Poll DescribeVpcEndpoints until `available`, then until the emulator says traffic flows. */
export async function waitUsable(e: Emulator, vpceId: string): Promise<void> {
  const ec2 = new EC2Client({ ...adminClientConfig(e, REGION), maxAttempts: 5 });
  for (let i = 0; i < 400; i++) {
    const out = await ec2
      .send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [vpceId] }))
      .catch(() => undefined);
    const state = out?.VpcEndpoints?.[0]?.State?.toLowerCase();
    const view = e.ctx.ec2
      .interfaceEndpointsInVpc(out?.VpcEndpoints?.[0]?.VpcId ?? '')
      .find((v) => v.vpcEndpointId === vpceId);
    if (state === 'available' && view?.usable) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`endpoint ${vpceId} never became usable`);
}

export function invoke(runtime: BedrockRuntimeClient, modelId = MODEL) {
  return runtime.send(new InvokeModelCommand({ modelId, contentType: 'application/json', body: BODY }));
}

export async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

/** The client gave up on its own: no HTTP answer ever came back. */
export function expectClientTimeout(err: any): void {
  expect(err.name).toBe('TimeoutError');
  expect(err.message).toContain(`${CLIENT_TIMEOUT_MS} ms`);
  expect(err.$metadata?.httpStatusCode).toBeUndefined();
}

export const denied = (tail: string) =>
  `User: arn:aws:sts::${ACCOUNT}:assumed-role/probe-role/probe is not authorized to perform: bedrock:InvokeModel on resource: ${MODEL_ARN} ${tail}`;
