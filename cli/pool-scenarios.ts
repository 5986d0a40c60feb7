/**
 * Worlds for runs that lease a pooled network (input `pool`): the run did not build the network,
 * so what it proves must come from reading it back. A leased network someone changed after the
 * pool built it must fail the run, never pass it.
 */
import {
  AttachInternetGatewayCommand,
  AuthorizeSecurityGroupEgressCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  DescribeRouteTablesCommand,
} from '@aws-sdk/client-ec2';
import type { Scenario } from './scenarios.ts';

export const POOL_SCENARIOS: Scenario[] = [
  {
    name: 'pool',
    description: 'the run leases a network of a pool (built exactly as a run builds its own): must pass',
    kind: 'correct',
    expect: { verdict: 'pass' },
    pool: { size: 1 },
  },
  {
    name: 'pool-group-opened',
    description:
      "someone opened the pooled network's workload group to the internet (egress 0.0.0.0/0, all traffic) after the pool built it",
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'no-other-way-out',
      result: 'failed',
      reason: /not as the pool built it: .*egress the pool did not write: all:\*-\* 0\.0\.0\.0\/0/,
    },
    pool: {
      size: 1,
      tamper: async (ec2, [network]) => {
        await ec2.send(
          new AuthorizeSecurityGroupEgressCommand({
            GroupId: network!.workloadSecurityGroupId,
            IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
          }),
        );
      },
    },
  },
  {
    name: 'pool-internet-route',
    description:
      'someone attached an internet gateway to the pooled VPC and routed 0.0.0.0/0 to it after the pool built it',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'no-other-way-out',
      result: 'failed',
      reason: /0\.0\.0\.0\/0 → igw-/,
    },
    pool: {
      size: 1,
      tamper: async (ec2, [network]) => {
        const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!
          .InternetGatewayId!;
        await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: network!.vpcId }));
        const tables = await ec2.send(
          new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [network!.vpcId] }] }),
        );
        const main =
          tables.RouteTables?.find((t) => t.Associations?.some((a) => a.Main)) ?? tables.RouteTables?.[0];
        await ec2.send(
          new CreateRouteCommand({
            RouteTableId: main!.RouteTableId!,
            DestinationCidrBlock: '0.0.0.0/0',
            GatewayId: igw,
          }),
        );
      },
    },
  },
];
