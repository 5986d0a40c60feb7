import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  type EC2Client,
  ModifyVpcAttributeCommand,
} from '@aws-sdk/client-ec2';

export interface TestNetwork {
  vpcId: string;
  subnets: [string, string];
  sg: string;
}

/**
 * The shape the product builds, through the EC2 API: a VPC `10.<octet>.0.0/16`, two /24 subnets
 * in us-east-1a and us-east-1b, and one security group. DNS hostnames on unless asked otherwise.
 */
export async function twoSubnetNetwork(
  ec2: EC2Client,
  opts: { octet: number; groupName: string; dnsHostnames?: boolean },
): Promise<TestNetwork> {
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${opts.octet}.0.0/16` }))).Vpc!.VpcId!;
  if (opts.dnsHostnames !== false) {
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  }
  const subnet = async (n: number, az: string) =>
    (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: `10.${opts.octet}.${n}.0/24`,
          AvailabilityZone: az,
        }),
      )
    ).Subnet!.SubnetId!;
  const subnets: [string, string] = [await subnet(1, 'us-east-1a'), await subnet(2, 'us-east-1b')];
  const sg = (
    await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: opts.groupName,
        Description: opts.groupName,
      }),
    )
  ).GroupId!;
  return { vpcId, subnets, sg };
}
