import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcEndpointCommand,
  DescribeNetworkInterfacesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../emulator/core/identity.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { traceNetwork } from '../../emulator/network/path.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { twoSubnetNetwork } from '../helpers/network.ts';
import { endpointAvailable } from '../helpers/wait.ts';

/**
 * Security-group CIDR rules match the packet's source address (AWS-FACTS, wave 2: a /32 of the
 * caller's ENI works), not "the rule covers the caller's whole subnet".
 */
let emu: Emulator;
let ec2: EC2Client;

beforeAll(async () => {
  emu = await startTestEmulator();
  ec2 = new EC2Client(adminClientConfig(emu));
});
afterAll(() => emu?.close());

describe('security groups match the source address', () => {
  it('admits a function through a /32 of its own ENI and refuses it through a /32 of another address', async () => {
    const net = await twoSubnetNetwork(ec2, { octet: 50, groupName: 'workload' });
    const endpointSg = (
      await ec2.send(
        new CreateSecurityGroupCommand({ VpcId: net.vpcId, GroupName: 'vpce', Description: 'vpce' }),
      )
    ).GroupId!;
    const ep = (
      await ec2.send(
        new CreateVpcEndpointCommand({
          VpcId: net.vpcId,
          ServiceName: 'com.amazonaws.us-east-1.bedrock-runtime',
          VpcEndpointType: 'Interface',
          SubnetIds: net.subnets,
          SecurityGroupIds: [endpointSg],
          PrivateDnsEnabled: true,
        }),
      )
    ).VpcEndpoint!;
    await endpointAvailable(ec2, ep.VpcEndpointId!);
    const [eniId] = emu.ec2.attachLambdaEnis({
      functionName: 'probe',
      region: 'us-east-1',
      subnetIds: [net.subnets[0]],
      securityGroupIds: [net.sg],
    });
    const eni = (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId!] })))
      .NetworkInterfaces![0]!;
    const caller = {
      functionName: 'probe',
      network: { vpcId: net.vpcId, subnetIds: [net.subnets[0]], securityGroupIds: [net.sg] },
    } as unknown as Caller;
    const sgHop = () =>
      traceNetwork(emu.ctx, caller, 'us-east-1', 'bedrock-runtime').hops.find(
        (h) => h.hop === 'security-groups',
      );

    // Another address of the same subnet does not admit this caller.
    const other = eni.PrivateIpAddress!.endsWith('.200') ? '10.50.1.201' : '10.50.1.200';
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: endpointSg,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: `${other}/32` }] },
        ],
      }),
    );
    expect(sgHop()?.ok).toBe(false);

    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: endpointSg,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 443,
            ToPort: 443,
            IpRanges: [{ CidrIp: `${eni.PrivateIpAddress}/32` }],
          },
        ],
      }),
    );
    expect(sgHop()?.ok).toBe(true);
  });
});
