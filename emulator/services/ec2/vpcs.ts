import { AwsError } from '../../core/errors.ts';
import { vpcOut } from './responses.ts';
import type { InternetGateway, Resource, RouteTable, SecurityGroup, Vpc } from './state.ts';
import { dependencyViolation, type Ec2Operations, type Ec2Store } from './store.ts';
import { newSubnet } from './subnets.ts';
import {
  bool,
  type Cidr,
  cidrParam,
  formatCidr,
  parseCidr,
  str,
  type TagMap,
  tagsFromSpecifications,
  zonesOf,
} from './util.ts';

/** VPCs: create (with the main route table and `default` group AWS adds), attributes, delete. */

/** A VPC with its main route table and its `default` security group, as AWS makes them. */
function newVpc(s: Ec2Store, region: string, cidr: Cidr, tags: TagMap, isDefault: boolean): Vpc {
  const vpc: Vpc = {
    ...s.base(region, tags, isDefault),
    id: s.newId('vpc'),
    cidr,
    cidrAssociationId: s.newId('vpc-cidr-assoc'),
    isDefault,
    enableDnsSupport: true,
    enableDnsHostnames: false,
    enableNetworkAddressUsageMetrics: false,
    mainRouteTableId: '',
    defaultGroupId: '',
  };
  s.vpcs.set(vpc.id, vpc);
  const rtb: RouteTable = {
    ...s.base(region, new Map(), true),
    id: s.newId('rtb'),
    vpcId: vpc.id,
    main: true,
    mainAssociationId: s.newId('rtbassoc'),
    routes: [{ destination: formatCidr(cidr), gatewayId: 'local', origin: 'CreateRouteTable' }],
    associations: new Map(),
  };
  s.routeTables.set(rtb.id, rtb);
  vpc.mainRouteTableId = rtb.id;
  const sg: SecurityGroup = {
    ...s.base(region, new Map(), true),
    id: s.newId('sg'),
    vpcId: vpc.id,
    name: 'default',
    description: 'default VPC security group',
    isDefault: true,
    rules: [],
  };
  sg.rules.push(
    { ruleId: s.newId('sgr'), egress: false, ipProtocol: '-1', groupId: sg.id },
    { ruleId: s.newId('sgr'), egress: true, ipProtocol: '-1', cidr: '0.0.0.0/0' },
  );
  s.groups.set(sg.id, sg);
  vpc.defaultGroupId = sg.id;
  return vpc;
}

/** The default VPC of a region: one /20 public subnet per zone and an internet gateway. */
export function createDefaultVpc(s: Ec2Store, region: string): void {
  const vpc = newVpc(s, region, parseCidr('172.31.0.0/16')!, new Map(), true);
  vpc.enableDnsHostnames = true;
  vpc.visibleAt = vpc.createdAt;
  zonesOf(region).forEach((zone, i) => {
    const sub = newSubnet(s, region, vpc, zone, parseCidr(`172.31.${i * 16}.0/20`)!, new Map(), true);
    sub.defaultForAz = true;
    sub.mapPublicIpOnLaunch = true;
    sub.visibleAt = sub.createdAt;
  });
  const igw: InternetGateway = { ...s.base(region, new Map(), true), id: s.newId('igw'), vpcId: vpc.id };
  igw.visibleAt = igw.createdAt;
  s.igws.set(igw.id, igw);
  // The default VPC predates any request: none of its parts is subject to eventual consistency.
  const main = s.routeTables.get(vpc.mainRouteTableId)!;
  main.visibleAt = main.createdAt;
  const group = s.groups.get(vpc.defaultGroupId)!;
  group.visibleAt = group.createdAt;
  main.routes.push({ destination: '0.0.0.0/0', gatewayId: igw.id, origin: 'CreateRoute' });
}

export function vpcOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateVpc(input, region) {
      const cidr = cidrParam(input, 'CidrBlock', 'cidrBlock');
      if (cidr.prefix < 16 || cidr.prefix > 28)
        throw new AwsError('InvalidVpc.Range', `The CIDR '${str(input.CidrBlock)}' is invalid.`);
      const tags = tagsFromSpecifications(input, 'vpc');
      if (s.inRegion(s.vpcs, region).length >= s.ctx.quotas.vpcsPerRegion) {
        throw new AwsError('VpcLimitExceeded', 'The maximum number of VPCs has been reached.');
      }
      return { vpc: vpcOut(s, newVpc(s, region, cidr, tags, false), 'pending') };
    },

    ModifyVpcAttribute(input, region) {
      const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
      const given = (
        ['EnableDnsSupport', 'EnableDnsHostnames', 'EnableNetworkAddressUsageMetrics'] as const
      ).filter((k) => input[k] !== undefined);
      if (given.length === 0) {
        throw new AwsError('MissingParameter', 'The request must contain exactly one attribute to modify');
      }
      if (given.length > 1) {
        throw new AwsError(
          'InvalidParameterCombination',
          `Fields for multiple attribute types specified: ${given.map((g) => g[0]!.toLowerCase() + g.slice(1)).join(', ')}`,
        );
      }
      const key = given[0]!;
      const value = bool(input[key]?.Value ?? input[key]) ?? false;
      if (key === 'EnableDnsSupport') vpc.enableDnsSupport = value;
      else if (key === 'EnableDnsHostnames') vpc.enableDnsHostnames = value;
      else vpc.enableNetworkAddressUsageMetrics = value;
      return {};
    },

    DescribeVpcAttribute(input, region) {
      const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
      const attribute = str(input.Attribute);
      const values: Record<string, boolean> = {
        enableDnsSupport: vpc.enableDnsSupport,
        enableDnsHostnames: vpc.enableDnsHostnames,
        enableNetworkAddressUsageMetrics: vpc.enableNetworkAddressUsageMetrics,
      };
      if (!attribute)
        throw new AwsError('MissingParameter', 'The request must contain the parameter attribute');
      if (!(attribute in values)) {
        throw new AwsError(
          'InvalidParameterValue',
          `Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`,
        );
      }
      return { vpcId: vpc.id, [attribute]: { value: values[attribute] } };
    },

    DeleteVpc(input, region) {
      const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
      const inVpc = <T extends Resource & { vpcId?: string | undefined }>(table: Map<string, T>) =>
        s.inRegion(table, region).filter((r) => r.vpcId === vpc.id);
      const blocked =
        inVpc(s.subnets).length > 0 ||
        inVpc(s.groups).some((g) => !g.isDefault) ||
        inVpc(s.igws).length > 0 ||
        inVpc(s.routeTables).some((t) => !t.main) ||
        inVpc(s.endpoints).length > 0 ||
        inVpc(s.enis).length > 0 ||
        inVpc(s.nats).some((n) => n.state !== 'deleted' && n.state !== 'failed');
      if (blocked || s.ctx.faults.take('dependency-violation', 'ec2', 'DeleteVpc')) {
        throw dependencyViolation('vpc', vpc.id);
      }
      s.routeTables.delete(vpc.mainRouteTableId);
      s.groups.delete(vpc.defaultGroupId);
      s.vpcs.delete(vpc.id);
      return {};
    },
  };
}
