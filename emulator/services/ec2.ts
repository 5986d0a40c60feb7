import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type {
  Ec2Model,
  EndpointView,
  PolicyDocument,
  SecurityGroupView,
  SgRuleView,
  SubnetView,
  VpcView,
} from '../core/models.ts';
import { listOf } from '../core/query.ts';
import type {
  EmulatedService,
  InventoryItem,
  OperationCall,
  QueryApi,
  QueryOperation,
} from '../core/service.ts';
import type {
  Endpoint,
  Eni,
  InternetGateway,
  NatGateway,
  PolicyVersion,
  Resource,
  RouteTable,
  SecurityGroup,
  SgRule,
  Subnet,
  Vpc,
} from './ec2/state.ts';
import {
  applyFilters,
  bool,
  type Cidr,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  filtersOf,
  formatCidr,
  formatIpv4,
  isIdOf,
  paginate,
  parseCidr,
  stableHex,
  str,
  strings,
  tagSet,
  tagsFromSpecifications,
  tagsRecord,
  validateTags,
  type Zone,
  zonesOf,
} from './ec2/util.ts';

/** The default endpoint policy AWS attaches when none is given (and after ResetPolicy). */
export const FULL_ACCESS_POLICY =
  '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}';

/** Endpoint services the emulator offers, in Bedrock regions only. */
const ENDPOINT_SERVICES = ['bedrock-runtime', 'bedrock'] as const;

type Kind = 'vpc' | 'subnet' | 'sg' | 'vpce' | 'eni' | 'igw' | 'rtb' | 'nat';

const PREFIX: Record<Kind, string> = {
  vpc: 'vpc',
  subnet: 'subnet',
  sg: 'sg',
  vpce: 'vpce',
  eni: 'eni',
  igw: 'igw',
  rtb: 'rtb',
  nat: 'nat',
};

const NOT_FOUND: Record<Kind, [string, (id: string) => string]> = {
  vpc: ['InvalidVpcID.NotFound', (id) => `The vpc ID '${id}' does not exist`],
  subnet: ['InvalidSubnetID.NotFound', (id) => `The subnet ID '${id}' does not exist`],
  sg: ['InvalidGroup.NotFound', (id) => `The security group '${id}' does not exist`],
  vpce: ['InvalidVpcEndpointId.NotFound', (id) => `The Vpc Endpoint Id '${id}' does not exist`],
  eni: ['InvalidNetworkInterfaceID.NotFound', (id) => `The networkInterface ID '${id}' does not exist`],
  igw: ['InvalidInternetGatewayID.NotFound', (id) => `The internetGateway ID '${id}' does not exist`],
  rtb: ['InvalidRouteTableID.NotFound', (id) => `The routeTable ID '${id}' does not exist`],
  nat: ['NatGatewayNotFound', (id) => `The Nat Gateway ${id} was not found`],
};

const MALFORMED: Record<Kind, string> = {
  vpc: 'InvalidVpcID.Malformed',
  subnet: 'InvalidSubnetID.Malformed',
  sg: 'InvalidGroupId.Malformed',
  vpce: 'InvalidVpcEndpointId.Malformed',
  eni: 'InvalidNetworkInterfaceID.Malformed',
  igw: 'InvalidInternetGatewayID.Malformed',
  rtb: 'InvalidRouteTableID.Malformed',
  nat: 'InvalidNatGatewayID.Malformed',
};

const INVENTORY_TYPE: Record<Kind, string> = {
  vpc: 'vpc',
  subnet: 'subnet',
  sg: 'security-group',
  vpce: 'vpc-endpoint',
  eni: 'network-interface',
  igw: 'internet-gateway',
  rtb: 'route-table',
  nat: 'nat-gateway',
};

function dependencyViolation(kind: string, id: string): AwsError {
  return new AwsError('DependencyViolation', `The ${kind} '${id}' has dependencies and cannot be deleted.`);
}

/**
 * EC2 as far as the product touches it: VPCs, subnets, security groups, interface endpoints and
 * their ENIs, Lambda's hyperplane ENIs, and enough gateways and routes to say whether a subnet
 * can reach the internet. States are computed from virtual timestamps when asked.
 */
export class Ec2Service implements EmulatedService, Ec2Model {
  readonly name = 'ec2' as const;
  readonly api: QueryApi;
  private readonly ctx: EmulatorContext;

  private vpcs = new Map<string, Vpc>();
  private subnets = new Map<string, Subnet>();
  private groups = new Map<string, SecurityGroup>();
  private endpoints = new Map<string, Endpoint>();
  private enis = new Map<string, Eni>();
  private igws = new Map<string, InternetGateway>();
  private routeTables = new Map<string, RouteTable>();
  private nats = new Map<string, NatGateway>();
  private regionsWithDefaultVpc = new Set<string>();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    const ops: Record<string, (input: Record<string, any>, region: string, call: OperationCall) => unknown> =
      {
        CreateVpc: (i, r) => this.createVpc(i, r),
        ModifyVpcAttribute: (i, r) => this.modifyVpcAttribute(i, r),
        DescribeVpcAttribute: (i, r) => this.describeVpcAttribute(i, r),
        DescribeVpcs: (i, r) => this.describeVpcs(i, r),
        DeleteVpc: (i, r) => this.deleteVpc(i, r),
        CreateSubnet: (i, r) => this.createSubnet(i, r),
        DescribeSubnets: (i, r) => this.describeSubnets(i, r),
        DeleteSubnet: (i, r) => this.deleteSubnet(i, r),
        CreateSecurityGroup: (i, r) => this.createSecurityGroup(i, r),
        AuthorizeSecurityGroupIngress: (i, r) => this.authorize(i, r, false),
        AuthorizeSecurityGroupEgress: (i, r) => this.authorize(i, r, true),
        RevokeSecurityGroupIngress: (i, r) => this.revoke(i, r, false),
        RevokeSecurityGroupEgress: (i, r) => this.revoke(i, r, true),
        DescribeSecurityGroups: (i, r) => this.describeSecurityGroups(i, r),
        DeleteSecurityGroup: (i, r) => this.deleteSecurityGroup(i, r),
        DescribeAvailabilityZones: (i, r) => this.describeAvailabilityZones(i, r),
        DescribeVpcEndpointServices: (i, r) => this.describeVpcEndpointServices(i, r),
        CreateVpcEndpoint: (i, r) => this.createVpcEndpoint(i, r),
        DescribeVpcEndpoints: (i, r) => this.describeVpcEndpoints(i, r),
        ModifyVpcEndpoint: (i, r) => this.modifyVpcEndpoint(i, r),
        DeleteVpcEndpoints: (i, r) => this.deleteVpcEndpoints(i, r),
        DescribeNetworkInterfaces: (i, r) => this.describeNetworkInterfaces(i, r),
        DeleteNetworkInterface: (i, r) => this.deleteNetworkInterface(i, r),
        CreateTags: (i, r) => this.createTags(i, r),
        DeleteTags: (i, r) => this.deleteTags(i, r),
        CreateInternetGateway: (i, r) => this.createInternetGateway(i, r),
        AttachInternetGateway: (i, r) => this.attachInternetGateway(i, r),
        DetachInternetGateway: (i, r) => this.detachInternetGateway(i, r),
        DeleteInternetGateway: (i, r) => this.deleteInternetGateway(i, r),
        DescribeInternetGateways: (i, r) => this.describeInternetGateways(i, r),
        CreateRouteTable: (i, r) => this.createRouteTable(i, r),
        CreateRoute: (i, r) => this.createRoute(i, r),
        AssociateRouteTable: (i, r) => this.associateRouteTable(i, r),
        DisassociateRouteTable: (i, r) => this.disassociateRouteTable(i, r),
        DescribeRouteTables: (i, r) => this.describeRouteTables(i, r),
        DeleteRouteTable: (i, r) => this.deleteRouteTable(i, r),
        CreateNatGateway: (i, r) => this.createNatGateway(i, r),
        DescribeNatGateways: (i, r) => this.describeNatGateways(i, r),
        DeleteNatGateway: (i, r) => this.deleteNatGateway(i, r),
      };
    const operations: Record<string, QueryOperation> = {};
    for (const [name, fn] of Object.entries(ops)) {
      operations[name] = (input, call) => {
        this.settle(call.region);
        if (bool(input.DryRun)) {
          throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
        }
        return fn(input, call.region, call);
      };
    }
    this.api = { protocol: 'ec2', operations };
  }

  // ================================================================ plumbing

  private now(): number {
    return this.ctx.now();
  }

  private newId(prefix: string): string {
    return `${prefix}-${this.ctx.rng.hex(17)}`;
  }

  private base(region: string, tags: Map<string, string>, builtIn = false): Resource {
    const createdAt = this.now();
    return {
      id: '',
      region,
      tags,
      createdAt,
      visibleAt: createdAt + this.ctx.delay('eventualConsistency'),
      builtIn,
    };
  }

  /** Runs before every call: the region's default VPC exists, and resources whose time is up are gone. */
  private settle(region: string): void {
    this.purge();
    if (!this.regionsWithDefaultVpc.has(region)) {
      this.regionsWithDefaultVpc.add(region);
      this.createDefaultVpc(region);
    }
  }

  private purge(): void {
    const now = this.now();
    for (const e of this.endpoints.values()) {
      if (e.goneAt !== undefined && e.goneAt <= now) {
        for (const eniId of e.eniBySubnet.values()) this.releaseIp(this.enis.get(eniId));
        for (const eniId of e.eniBySubnet.values()) this.enis.delete(eniId);
        this.endpoints.delete(e.id);
      }
    }
    for (const n of this.enis.values()) {
      if (n.deleteAt !== undefined && n.deleteAt <= now) {
        this.releaseIp(n);
        this.enis.delete(n.id);
      }
    }
  }

  private releaseIp(eni: Eni | undefined): void {
    if (eni) this.subnets.get(eni.subnetId)?.usedIps.delete(eni.privateIp);
  }

  private tableOf(kind: Kind): Map<string, Resource> {
    switch (kind) {
      case 'vpc':
        return this.vpcs;
      case 'subnet':
        return this.subnets;
      case 'sg':
        return this.groups;
      case 'vpce':
        return this.endpoints;
      case 'eni':
        return this.enis;
      case 'igw':
        return this.igws;
      case 'rtb':
        return this.routeTables;
      case 'nat':
        return this.nats;
    }
  }

  private checkFormat(kind: Kind, id: string): void {
    if (!isIdOf(PREFIX[kind], id)) throw new AwsError(MALFORMED[kind], `Invalid id: "${id}"`);
  }

  private notFound(kind: Kind, id: string): AwsError {
    const [code, message] = NOT_FOUND[kind];
    return new AwsError(code, message(id));
  }

  /** A resource of this region by id, or the NotFound/Malformed error AWS gives. */
  private find<T extends Resource>(kind: Kind, id: string | undefined, region: string, param?: string): T {
    if (!id) {
      throw new AwsError(
        'MissingParameter',
        `The request must contain the parameter ${param ?? `${kind}Id`}`,
      );
    }
    this.checkFormat(kind, id);
    const r = this.tableOf(kind).get(id) as T | undefined;
    if (!r || r.region !== region) throw this.notFound(kind, id);
    return r;
  }

  /**
   * Describe-by-id: every id must exist, and one created moments ago may still be invisible
   * (eventual consistency), or a `not-found-after-create` fault says so.
   */
  private describeByIds<T extends Resource>(
    kind: Kind,
    ids: string[],
    region: string,
    operation: string,
  ): T[] {
    const out: T[] = [];
    for (const id of ids) {
      const r = this.find<T>(kind, id, region);
      if (this.now() < r.visibleAt) throw this.notFound(kind, id);
      out.push(r);
    }
    if (ids.length > 0 && this.ctx.faults.take('not-found-after-create', 'ec2', operation)) {
      throw this.notFound(kind, ids[0]!);
    }
    return out;
  }

  private inRegion<T extends Resource>(table: Map<string, T>, region: string): T[] {
    return [...table.values()].filter((r) => r.region === region);
  }

  private arn(region: string, type: string, id: string): string {
    return `arn:aws:ec2:${region}:${this.ctx.accountId}:${type}/${id}`;
  }

  private zoneOf(region: string, name?: string, zoneId?: string) {
    const zones = zonesOf(region);
    if (name) {
      const z = zones.find((x) => x.zoneName === name);
      if (!z) {
        throw new AwsError(
          'InvalidParameterValue',
          `Value (${name}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${zones.map((x) => x.zoneName).join(', ')}.`,
        );
      }
      return z;
    }
    if (zoneId) {
      const z = zones.find((x) => x.zoneId === zoneId);
      if (!z) {
        throw new AwsError(
          'InvalidParameterValue',
          `Value (${zoneId}) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: ${zones.map((x) => x.zoneId).join(', ')}.`,
        );
      }
      return z;
    }
    return zones[Math.floor(this.ctx.rng.next() * zones.length)]!;
  }

  // ================================================================ VPCs

  private createDefaultVpc(region: string): void {
    const vpc = this.newVpc(region, parseCidr('172.31.0.0/16')!, new Map(), true);
    vpc.enableDnsHostnames = true;
    vpc.visibleAt = vpc.createdAt;
    zonesOf(region).forEach((zone, i) => {
      const s = this.newSubnet(region, vpc, zone, parseCidr(`172.31.${i * 16}.0/20`)!, new Map(), true);
      s.defaultForAz = true;
      s.mapPublicIpOnLaunch = true;
      s.visibleAt = s.createdAt;
    });
    const igw: InternetGateway = {
      ...this.base(region, new Map(), true),
      id: this.newId('igw'),
      vpcId: vpc.id,
    };
    igw.visibleAt = igw.createdAt;
    this.igws.set(igw.id, igw);
    // The default VPC predates any request: none of its parts is subject to eventual consistency.
    const main = this.routeTables.get(vpc.mainRouteTableId)!;
    main.visibleAt = main.createdAt;
    const group = this.groups.get(vpc.defaultGroupId)!;
    group.visibleAt = group.createdAt;
    main.routes.push({
      destination: '0.0.0.0/0',
      gatewayId: igw.id,
      origin: 'CreateRoute',
    });
  }

  /** A VPC with its main route table and its `default` security group, as AWS makes them. */
  private newVpc(region: string, cidr: Cidr, tags: Map<string, string>, isDefault: boolean): Vpc {
    const vpc: Vpc = {
      ...this.base(region, tags, isDefault),
      id: this.newId('vpc'),
      cidr,
      cidrAssociationId: this.newId('vpc-cidr-assoc'),
      isDefault,
      enableDnsSupport: true,
      enableDnsHostnames: false,
      enableNetworkAddressUsageMetrics: false,
      mainRouteTableId: '',
      defaultGroupId: '',
    };
    this.vpcs.set(vpc.id, vpc);
    const rtb: RouteTable = {
      ...this.base(region, new Map(), true),
      id: this.newId('rtb'),
      vpcId: vpc.id,
      main: true,
      mainAssociationId: this.newId('rtbassoc'),
      routes: [{ destination: formatCidr(cidr), gatewayId: 'local', origin: 'CreateRouteTable' }],
      associations: new Map(),
    };
    this.routeTables.set(rtb.id, rtb);
    vpc.mainRouteTableId = rtb.id;
    const sg: SecurityGroup = {
      ...this.base(region, new Map(), true),
      id: this.newId('sg'),
      vpcId: vpc.id,
      name: 'default',
      description: 'default VPC security group',
      isDefault: true,
      rules: [],
    };
    sg.rules.push(
      { ruleId: this.newId('sgr'), egress: false, ipProtocol: '-1', groupId: sg.id },
      { ruleId: this.newId('sgr'), egress: true, ipProtocol: '-1', cidr: '0.0.0.0/0' },
    );
    this.groups.set(sg.id, sg);
    vpc.defaultGroupId = sg.id;
    return vpc;
  }

  private vpcOut(v: Vpc, state = 'available') {
    return {
      vpcId: v.id,
      ownerId: this.ctx.accountId,
      instanceTenancy: 'default',
      cidrBlock: formatCidr(v.cidr),
      cidrBlockAssociationSet: [
        {
          associationId: v.cidrAssociationId,
          cidrBlock: formatCidr(v.cidr),
          cidrBlockState: { state: 'associated' },
        },
      ],
      dhcpOptionsId: `dopt-${stableHex(`dopt:${v.region}`, 17)}`,
      state,
      isDefault: v.isDefault,
      tagSet: tagSet(v.tags),
    };
  }

  private createVpc(input: Record<string, any>, region: string) {
    const text = str(input.CidrBlock);
    if (!text) throw new AwsError('MissingParameter', 'The request must contain the parameter cidrBlock');
    const cidr = parseCidr(text);
    if (!cidr) {
      throw new AwsError(
        'InvalidParameterValue',
        `Value (${text}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
      );
    }
    if (cidr.prefix < 16 || cidr.prefix > 28)
      throw new AwsError('InvalidVpc.Range', `The CIDR '${text}' is invalid.`);
    const tags = tagsFromSpecifications(input, 'vpc');
    if (this.inRegion(this.vpcs, region).length >= this.ctx.quotas.vpcsPerRegion) {
      throw new AwsError('VpcLimitExceeded', 'The maximum number of VPCs has been reached.');
    }
    const vpc = this.newVpc(region, cidr, tags, false);
    return { vpc: this.vpcOut(vpc, 'pending') };
  }

  private modifyVpcAttribute(input: Record<string, any>, region: string) {
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
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
  }

  private describeVpcAttribute(input: Record<string, any>, region: string) {
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
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
  }

  private describeVpcs(input: Record<string, any>, region: string) {
    const ids = strings(input.VpcId);
    let items = ids.length
      ? this.describeByIds<Vpc>('vpc', ids, region, 'DescribeVpcs')
      : this.inRegion(this.vpcs, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (v, name) => {
        switch (name) {
          case 'vpc-id':
            return [v.id];
          case 'cidr':
          case 'cidr-block-association.cidr-block':
            return [formatCidr(v.cidr)];
          case 'state':
            return ['available'];
          case 'is-default':
            return [String(v.isDefault)];
          case 'owner-id':
            return [this.ctx.accountId];
          case 'dhcp-options-id':
            return [`dopt-${stableHex(`dopt:${v.region}`, 17)}`];
          default:
            return undefined;
        }
      },
      (v) => v.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeVpcs', {
      idsGiven: ids.length ? 'vpcIds' : undefined,
    });
    return { vpcSet: page.map((v) => this.vpcOut(v)), nextToken };
  }

  private deleteVpc(input: Record<string, any>, region: string) {
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    const blocked =
      this.inRegion(this.subnets, region).some((s) => s.vpcId === vpc.id) ||
      this.inRegion(this.groups, region).some((g) => g.vpcId === vpc.id && !g.isDefault) ||
      this.inRegion(this.igws, region).some((g) => g.vpcId === vpc.id) ||
      this.inRegion(this.routeTables, region).some((t) => t.vpcId === vpc.id && !t.main) ||
      this.inRegion(this.endpoints, region).some((e) => e.vpcId === vpc.id) ||
      this.inRegion(this.enis, region).some((n) => n.vpcId === vpc.id) ||
      this.inRegion(this.nats, region).some(
        (n) => n.vpcId === vpc.id && n.state !== 'deleted' && n.state !== 'failed',
      );
    if (blocked || this.ctx.faults.take('dependency-violation', 'ec2', 'DeleteVpc')) {
      throw dependencyViolation('vpc', vpc.id);
    }
    this.routeTables.delete(vpc.mainRouteTableId);
    this.groups.delete(vpc.defaultGroupId);
    this.vpcs.delete(vpc.id);
    return {};
  }

  // ================================================================ subnets

  private newSubnet(
    region: string,
    vpc: Vpc,
    zone: Zone,
    cidr: Cidr,
    tags: Map<string, string>,
    builtIn: boolean,
  ): Subnet {
    const s: Subnet = {
      ...this.base(region, tags, builtIn),
      id: this.newId('subnet'),
      vpcId: vpc.id,
      zone,
      cidr,
      defaultForAz: false,
      mapPublicIpOnLaunch: false,
      usedIps: new Set(),
    };
    this.subnets.set(s.id, s);
    return s;
  }

  private subnetOut(s: Subnet, state = 'available') {
    return {
      subnetId: s.id,
      subnetArn: this.arn(s.region, 'subnet', s.id),
      state,
      vpcId: s.vpcId,
      cidrBlock: formatCidr(s.cidr),
      availableIpAddressCount: cidrSize(s.cidr) - 5 - s.usedIps.size,
      availabilityZone: s.zone.zoneName,
      availabilityZoneId: s.zone.zoneId,
      defaultForAz: s.defaultForAz,
      mapPublicIpOnLaunch: s.mapPublicIpOnLaunch,
      assignIpv6AddressOnCreation: false,
      ipv6CidrBlockAssociationSet: [],
      ownerId: this.ctx.accountId,
      tagSet: tagSet(s.tags),
    };
  }

  private createSubnet(input: Record<string, any>, region: string) {
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    const text = str(input.CidrBlock);
    if (!text) throw new AwsError('MissingParameter', 'The request must contain the parameter cidrBlock');
    const cidr = parseCidr(text);
    if (!cidr) {
      throw new AwsError(
        'InvalidParameterValue',
        `Value (${text}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
      );
    }
    if (cidr.prefix < 16 || cidr.prefix > 28 || !cidrContains(vpc.cidr, cidr)) {
      throw new AwsError('InvalidSubnet.Range', `The CIDR '${text}' is invalid.`);
    }
    if (this.inRegion(this.subnets, region).some((s) => s.vpcId === vpc.id && cidrsOverlap(s.cidr, cidr))) {
      throw new AwsError('InvalidSubnet.Conflict', `The CIDR '${text}' conflicts with another subnet`);
    }
    const zone = this.zoneOf(region, str(input.AvailabilityZone), str(input.AvailabilityZoneId));
    const tags = tagsFromSpecifications(input, 'subnet');
    const s = this.newSubnet(region, vpc, zone, cidr, tags, false);
    return { subnet: this.subnetOut(s, 'pending') };
  }

  private describeSubnets(input: Record<string, any>, region: string) {
    const ids = strings(input.SubnetId);
    let items = ids.length
      ? this.describeByIds<Subnet>('subnet', ids, region, 'DescribeSubnets')
      : this.inRegion(this.subnets, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (s, name) => {
        switch (name) {
          case 'subnet-id':
            return [s.id];
          case 'vpc-id':
            return [s.vpcId];
          case 'availability-zone':
            return [s.zone.zoneName];
          case 'availability-zone-id':
            return [s.zone.zoneId];
          case 'cidr-block':
          case 'cidr':
          case 'cidrBlock':
            return [formatCidr(s.cidr)];
          case 'state':
            return ['available'];
          case 'default-for-az':
          case 'defaultForAz':
            return [String(s.defaultForAz)];
          case 'map-public-ip-on-launch':
            return [String(s.mapPublicIpOnLaunch)];
          case 'owner-id':
            return [this.ctx.accountId];
          case 'subnet-arn':
            return [this.arn(s.region, 'subnet', s.id)];
          default:
            return undefined;
        }
      },
      (s) => s.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeSubnets', {
      idsGiven: ids.length ? 'subnetIds' : undefined,
    });
    return { subnetSet: page.map((s) => this.subnetOut(s)), nextToken };
  }

  private deleteSubnet(input: Record<string, any>, region: string) {
    const s = this.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
    const blocked = [...this.enis.values()].some((n) => n.subnetId === s.id);
    if (blocked || this.ctx.faults.take('dependency-violation', 'ec2', 'DeleteSubnet')) {
      throw dependencyViolation('subnet', s.id);
    }
    for (const t of this.routeTables.values()) {
      for (const [assoc, subnetId] of t.associations) if (subnetId === s.id) t.associations.delete(assoc);
    }
    this.subnets.delete(s.id);
    return {};
  }

  /** A free host address in the subnet (AWS keeps the first four and the last one). */
  private allocateIp(s: Subnet): number {
    const size = cidrSize(s.cidr);
    const hosts = size - 5;
    if (s.usedIps.size >= hosts) {
      throw new AwsError(
        'InsufficientFreeAddressesInSubnet',
        `There are not enough free addresses in subnet '${s.id}' to satisfy the requested number of instances.`,
      );
    }
    let offset = 4 + Math.floor(this.ctx.rng.next() * hosts);
    while (s.usedIps.has(s.cidr.base + offset)) offset = offset + 1 >= size - 1 ? 4 : offset + 1;
    const ip = s.cidr.base + offset;
    s.usedIps.add(ip);
    return ip;
  }

  // ================================================================ security groups

  private sgOut(g: SecurityGroup) {
    return {
      ownerId: this.ctx.accountId,
      groupName: g.name,
      groupDescription: g.description,
      groupId: g.id,
      securityGroupArn: this.arn(g.region, 'security-group', g.id),
      vpcId: g.vpcId,
      ipPermissions: this.permissionsOut(g.rules.filter((r) => !r.egress)),
      ipPermissionsEgress: this.permissionsOut(g.rules.filter((r) => r.egress)),
      tagSet: tagSet(g.tags),
    };
  }

  /** Rules grouped back into IpPermissions: one per protocol and port range. */
  private permissionsOut(rules: SgRule[]) {
    const byKey = new Map<string, SgRule[]>();
    for (const r of rules) {
      const k = `${r.ipProtocol}|${r.fromPort ?? ''}|${r.toPort ?? ''}`;
      byKey.set(k, [...(byKey.get(k) ?? []), r]);
    }
    return [...byKey.values()].map((rs) => ({
      ipProtocol: rs[0]!.ipProtocol,
      fromPort: rs[0]!.fromPort,
      toPort: rs[0]!.toPort,
      groups: rs
        .filter((r) => r.groupId)
        .map((r) => ({ groupId: r.groupId, userId: this.ctx.accountId, description: r.description })),
      ipRanges: rs.filter((r) => r.cidr).map((r) => ({ cidrIp: r.cidr, description: r.description })),
      ipv6Ranges: [],
      prefixListIds: [],
    }));
  }

  private ruleOut(g: SecurityGroup, r: SgRule) {
    return {
      securityGroupRuleId: r.ruleId,
      groupId: g.id,
      groupOwnerId: this.ctx.accountId,
      isEgress: r.egress,
      ipProtocol: r.ipProtocol,
      fromPort: r.fromPort ?? -1,
      toPort: r.toPort ?? -1,
      cidrIpv4: r.cidr,
      referencedGroupInfo: r.groupId ? { groupId: r.groupId, userId: this.ctx.accountId } : undefined,
      description: r.description,
      securityGroupRuleArn: this.arn(g.region, 'security-group-rule', r.ruleId),
      tagSet: [],
    };
  }

  private createSecurityGroup(input: Record<string, any>, region: string) {
    const name = str(input.GroupName);
    const description = str(input.GroupDescription);
    if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter groupName');
    if (description === undefined) {
      throw new AwsError('MissingParameter', 'The request must contain the parameter groupDescription');
    }
    if (name === 'default')
      throw new AwsError('InvalidGroup.Reserved', "The security group 'default' is reserved");
    if (name.startsWith('sg-')) {
      throw new AwsError('InvalidParameterValue', 'Group names may not be in the format sg-*');
    }
    const vpcId = str(input.VpcId);
    const vpc = vpcId
      ? this.find<Vpc>('vpc', vpcId, region, 'VpcId')
      : this.inRegion(this.vpcs, region).find((v) => v.isDefault);
    if (!vpc) throw new AwsError('VPCIdNotSpecified', 'No default VPC for this user');
    if (this.inRegion(this.groups, region).some((g) => g.vpcId === vpc.id && g.name === name)) {
      throw new AwsError(
        'InvalidGroup.Duplicate',
        `The security group '${name}' already exists for VPC '${vpc.id}'`,
      );
    }
    const tags = tagsFromSpecifications(input, 'security-group');
    const g: SecurityGroup = {
      ...this.base(region, tags),
      id: this.newId('sg'),
      vpcId: vpc.id,
      name,
      description,
      isDefault: false,
      rules: [],
    };
    // Every new group may send anywhere until told otherwise, as on AWS.
    g.rules.push({ ruleId: this.newId('sgr'), egress: true, ipProtocol: '-1', cidr: '0.0.0.0/0' });
    this.groups.set(g.id, g);
    return {
      groupId: g.id,
      securityGroupArn: this.arn(region, 'security-group', g.id),
      tagSet: tagSet(g.tags),
    };
  }

  /** GroupId, or GroupName in the default VPC (the EC2-Classic era form AWS still accepts). */
  private groupFrom(input: Record<string, any>, region: string): SecurityGroup {
    const id = str(input.GroupId);
    if (id) return this.find<SecurityGroup>('sg', id, region, 'GroupId');
    const name = str(input.GroupName);
    if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
    const def = this.inRegion(this.vpcs, region).find((v) => v.isDefault);
    const g = this.inRegion(this.groups, region).find((x) => x.vpcId === def?.id && x.name === name);
    if (!g) {
      throw new AwsError(
        'InvalidGroup.NotFound',
        `The security group '${name}' does not exist in default VPC '${def?.id ?? 'none'}'`,
      );
    }
    return g;
  }

  private static normaliseProtocol(p: string): string {
    const v = p.toLowerCase();
    const known: Record<string, string> = {
      '-1': '-1',
      all: '-1',
      tcp: 'tcp',
      '6': 'tcp',
      udp: 'udp',
      '17': 'udp',
      icmp: 'icmp',
      '1': 'icmp',
    };
    if (known[v]) return known[v];
    if (/^\d+$/.test(v) && Number(v) <= 255) return v;
    throw new AwsError('InvalidParameterValue', `Invalid value '${p}' for IP protocol. Unknown protocol.`);
  }

  /** The rules a request names, one per CIDR or group, in the group's own vocabulary. */
  private rulesFrom(input: Record<string, any>, g: SecurityGroup, egress: boolean): SgRule[] {
    const perms: Record<string, any>[] = listOf<Record<string, any>>(input.IpPermissions);
    if (
      perms.length === 0 &&
      (input.IpProtocol !== undefined ||
        input.CidrIp !== undefined ||
        input.SourceSecurityGroupName !== undefined)
    ) {
      perms.push({
        IpProtocol: input.IpProtocol ?? '-1',
        FromPort: input.FromPort,
        ToPort: input.ToPort,
        IpRanges: input.CidrIp ? [{ CidrIp: input.CidrIp }] : [],
        Groups: input.SourceSecurityGroupName ? [{ GroupName: input.SourceSecurityGroupName }] : [],
      });
    }
    const rules: SgRule[] = [];
    for (const p of perms) {
      const ipProtocol = Ec2Service.normaliseProtocol(str(p.IpProtocol) ?? '-1');
      let fromPort: number | undefined;
      let toPort: number | undefined;
      if (ipProtocol !== '-1') {
        fromPort = p.FromPort === undefined ? undefined : Number(p.FromPort);
        toPort = p.ToPort === undefined ? undefined : Number(p.ToPort);
        if (
          (ipProtocol === 'tcp' || ipProtocol === 'udp') &&
          (fromPort === undefined || toPort === undefined)
        ) {
          throw new AwsError(
            'InvalidParameterValue',
            "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange",
          );
        }
        if (
          (ipProtocol === 'tcp' || ipProtocol === 'udp') &&
          (fromPort! < 0 || toPort! > 65535 || fromPort! > toPort!)
        ) {
          throw new AwsError('InvalidParameterValue', `Invalid TCP/UDP port range (${fromPort}, ${toPort})`);
        }
      }
      for (const range of listOf<Record<string, any>>(p.IpRanges)) {
        const cidrText = str(range.CidrIp) ?? '';
        const cidr = parseCidr(cidrText);
        if (!cidr) throw new AwsError('InvalidParameterValue', `CIDR block ${cidrText} is malformed`);
        rules.push({
          ruleId: '',
          egress,
          ipProtocol,
          fromPort,
          toPort,
          cidr: formatCidr(cidr),
          description: str(range.Description),
        });
      }
      for (const pair of listOf<Record<string, any>>(p.Groups ?? p.UserIdGroupPairs)) {
        let ref: SecurityGroup | undefined;
        const refId = str(pair.GroupId);
        if (refId) {
          ref = this.find<SecurityGroup>('sg', refId, g.region, 'GroupId');
        } else if (pair.GroupName) {
          ref = this.inRegion(this.groups, g.region).find(
            (x) => x.vpcId === g.vpcId && x.name === str(pair.GroupName),
          );
          if (!ref)
            throw new AwsError(
              'InvalidGroup.NotFound',
              `The security group '${pair.GroupName}' does not exist`,
            );
        }
        if (!ref) throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
        if (ref.vpcId !== g.vpcId) {
          throw new AwsError(
            'InvalidGroup.NotFound',
            'You have specified two resources that belong to different networks.',
          );
        }
        rules.push({
          ruleId: '',
          egress,
          ipProtocol,
          fromPort,
          toPort,
          groupId: ref.id,
          description: str(pair.Description),
        });
      }
    }
    return rules;
  }

  private static sameRule(a: SgRule, b: SgRule): boolean {
    return (
      a.egress === b.egress &&
      a.ipProtocol === b.ipProtocol &&
      a.fromPort === b.fromPort &&
      a.toPort === b.toPort &&
      a.cidr === b.cidr &&
      a.groupId === b.groupId
    );
  }

  private authorize(input: Record<string, any>, region: string, egress: boolean) {
    const g = this.groupFrom(input, region);
    const rules = this.rulesFrom(input, g, egress);
    if (rules.length === 0) {
      throw new AwsError('MissingParameter', 'The request must contain the parameter ipPermissions');
    }
    for (const r of rules) {
      if (
        g.rules.some((x) => Ec2Service.sameRule(x, r)) ||
        rules.filter((x) => Ec2Service.sameRule(x, r)).length > 1
      ) {
        const peer = r.cidr ?? r.groupId;
        const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
        throw new AwsError(
          'InvalidPermission.Duplicate',
          `the specified rule "peer: ${peer}, ${proto}${r.fromPort !== undefined ? `, from port: ${r.fromPort}, to port: ${r.toPort}` : ''}, ALLOW" already exists`,
        );
      }
    }
    for (const r of rules) {
      r.ruleId = this.newId('sgr');
      g.rules.push(r);
    }
    return { return: true, securityGroupRuleSet: rules.map((r) => this.ruleOut(g, r)) };
  }

  private revoke(input: Record<string, any>, region: string, egress: boolean) {
    const g = this.groupFrom(input, region);
    const ruleIds = strings(input.SecurityGroupRuleId);
    let wanted: SgRule[];
    const unknown: SgRule[] = [];
    if (ruleIds.length) {
      wanted = [];
      for (const id of ruleIds) {
        const r = g.rules.find((x) => x.ruleId === id && x.egress === egress);
        if (!r) {
          throw new AwsError(
            'InvalidSecurityGroupRuleId.NotFound',
            `The security group rule ID '${id}' does not exist`,
          );
        }
        wanted.push(r);
      }
    } else {
      wanted = [];
      for (const r of this.rulesFrom(input, g, egress)) {
        const match = g.rules.find((x) => Ec2Service.sameRule(x, r));
        if (match) wanted.push(match);
        else unknown.push(r);
      }
      if (wanted.length === 0) {
        throw new AwsError(
          'InvalidPermission.NotFound',
          'The specified rule does not exist in this security group.',
        );
      }
    }
    g.rules = g.rules.filter((r) => !wanted.includes(r));
    return {
      return: true,
      unknownIpPermissionSet: unknown.length ? this.permissionsOut(unknown) : undefined,
      revokedSecurityGroupRuleSet: wanted.map((r) => ({
        securityGroupRuleId: r.ruleId,
        groupId: g.id,
        isEgress: r.egress,
        ipProtocol: r.ipProtocol,
        fromPort: r.fromPort ?? -1,
        toPort: r.toPort ?? -1,
        cidrIpv4: r.cidr,
        referencedGroupId: r.groupId,
        description: r.description,
      })),
    };
  }

  private describeSecurityGroups(input: Record<string, any>, region: string) {
    const ids = strings(input.GroupId);
    const names = strings(input.GroupName);
    let items = ids.length
      ? this.describeByIds<SecurityGroup>('sg', ids, region, 'DescribeSecurityGroups')
      : this.inRegion(this.groups, region);
    if (names.length) {
      const def = this.inRegion(this.vpcs, region).find((v) => v.isDefault);
      for (const n of names) {
        if (!items.some((g) => g.name === n && g.vpcId === def?.id)) {
          throw new AwsError(
            'InvalidGroup.NotFound',
            `The security group '${n}' does not exist in default VPC '${def?.id}'`,
          );
        }
      }
      items = items.filter((g) => names.includes(g.name) && g.vpcId === def?.id);
    }
    items = applyFilters(
      items,
      filtersOf(input),
      (g, name) => {
        const ingress = g.rules.filter((r) => !r.egress);
        const egress = g.rules.filter((r) => r.egress);
        switch (name) {
          case 'group-id':
            return [g.id];
          case 'group-name':
            return [g.name];
          case 'vpc-id':
            return [g.vpcId];
          case 'description':
            return [g.description];
          case 'owner-id':
            return [this.ctx.accountId];
          case 'ip-permission.cidr':
            return ingress.map((r) => r.cidr);
          case 'ip-permission.group-id':
            return ingress.map((r) => r.groupId);
          case 'ip-permission.protocol':
            return ingress.map((r) => r.ipProtocol);
          case 'ip-permission.from-port':
            return ingress.map((r) => r.fromPort);
          case 'ip-permission.to-port':
            return ingress.map((r) => r.toPort);
          case 'egress.ip-permission.cidr':
            return egress.map((r) => r.cidr);
          case 'egress.ip-permission.group-id':
            return egress.map((r) => r.groupId);
          default:
            return undefined;
        }
      },
      (g) => g.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeSecurityGroups', {
      idsGiven: ids.length || names.length ? 'groupIds' : undefined,
    });
    return { securityGroupInfo: page.map((g) => this.sgOut(g)), nextToken };
  }

  private deleteSecurityGroup(input: Record<string, any>, region: string) {
    const g = this.groupFrom(input, region);
    if (g.isDefault) {
      throw new AwsError(
        'CannotDelete',
        `the specified group: "${g.id}" name: "default" cannot be deleted by a user`,
      );
    }
    const referenced = [...this.groups.values()].some(
      (other) => other.id !== g.id && other.rules.some((r) => r.groupId === g.id),
    );
    const inUse =
      [...this.enis.values()].some((n) => n.groupIds.includes(g.id)) ||
      [...this.endpoints.values()].some((e) => e.groupIds.includes(g.id));
    if (referenced || inUse || this.ctx.faults.take('dependency-violation', 'ec2', 'DeleteSecurityGroup')) {
      throw new AwsError('DependencyViolation', `resource ${g.id} has a dependent object`);
    }
    this.groups.delete(g.id);
    return { return: true, groupId: g.id };
  }

  // ================================================================ zones and endpoint services

  private describeAvailabilityZones(input: Record<string, any>, region: string) {
    const names = strings(input.ZoneName);
    const zoneIds = strings(input.ZoneId);
    let zones = zonesOf(region);
    for (const n of names) {
      if (!zones.some((z) => z.zoneName === n))
        throw new AwsError('InvalidParameterValue', `The zone '${n}' does not exist.`);
    }
    for (const n of zoneIds) {
      if (!zones.some((z) => z.zoneId === n))
        throw new AwsError('InvalidParameterValue', `The zone id '${n}' does not exist.`);
    }
    if (names.length || zoneIds.length)
      zones = zones.filter((z) => names.includes(z.zoneName) || zoneIds.includes(z.zoneId));
    zones = applyFilters(
      zones,
      filtersOf(input),
      (z, name) => {
        switch (name) {
          case 'zone-name':
            return [z.zoneName];
          case 'zone-id':
            return [z.zoneId];
          case 'state':
            return ['available'];
          case 'region-name':
            return [region];
          case 'zone-type':
            return ['availability-zone'];
          case 'opt-in-status':
            return ['opt-in-not-required'];
          case 'group-name':
          case 'network-border-group':
            return [region];
          default:
            return undefined;
        }
      },
      () => new Map(),
    );
    return {
      availabilityZoneInfo: zones.map((z) => ({
        zoneName: z.zoneName,
        zoneId: z.zoneId,
        zoneState: 'available',
        regionName: region,
        optInStatus: 'opt-in-not-required',
        groupName: region,
        networkBorderGroup: region,
        zoneType: 'availability-zone',
        messageSet: [],
      })),
    };
  }

  private endpointServices(region: string) {
    if (!this.ctx.isBedrockRegion(region)) return [];
    const zones = zonesOf(region);
    return ENDPOINT_SERVICES.map((short) => {
      const serviceName = `com.amazonaws.${region}.${short}`;
      return {
        serviceName,
        serviceId: `vpce-svc-${stableHex(serviceName, 17)}`,
        serviceType: [{ serviceType: 'Interface' }],
        serviceRegion: region,
        availabilityZoneSet: zones.map((z) => z.zoneName),
        availabilityZoneIdSet: zones.map((z) => z.zoneId),
        owner: 'amazon',
        baseEndpointDnsNameSet: [`${short}.${region}.vpce.amazonaws.com`],
        privateDnsName: `${short}.${region}.amazonaws.com`,
        privateDnsNameSet: [{ privateDnsName: `${short}.${region}.amazonaws.com` }],
        vpcEndpointPolicySupported: true,
        acceptanceRequired: false,
        managesVpcEndpoints: false,
        privateDnsNameVerificationState: 'verified',
        supportedIpAddressTypeSet: ['ipv4'],
        tagSet: [],
      };
    });
  }

  private describeVpcEndpointServices(input: Record<string, any>, region: string) {
    const wanted = strings(input.ServiceName);
    let services = this.endpointServices(region);
    for (const name of wanted) {
      if (!services.some((s) => s.serviceName === name)) {
        throw new AwsError('InvalidServiceName', `The Vpc Endpoint Service '${name}' does not exist`);
      }
    }
    if (wanted.length) services = services.filter((s) => wanted.includes(s.serviceName));
    services = applyFilters(
      services,
      filtersOf(input),
      (s, name) => {
        switch (name) {
          case 'service-name':
            return [s.serviceName];
          case 'service-type':
            return ['Interface'];
          case 'owner':
            return [s.owner];
          case 'service-region':
            return [s.serviceRegion];
          case 'supported-ip-address-types':
            return ['ipv4'];
          default:
            return undefined;
        }
      },
      () => new Map(),
    );
    const { page, nextToken } = paginate(services, input, 'DescribeVpcEndpointServices', { min: 1 });
    return { serviceNameSet: page.map((s) => s.serviceName), serviceDetailSet: page, nextToken };
  }

  // ================================================================ interface endpoints

  private endpointState(e: Endpoint): string {
    const now = this.now();
    if (e.goneAt !== undefined) return now >= e.goneAt ? 'deleted' : 'deleting';
    return now < e.availableAt ? 'pending' : 'available';
  }

  /** The policy traffic sees now: the latest version whose propagation has finished. */
  private effectivePolicy(e: Endpoint): string {
    const now = this.now();
    let current: PolicyVersion = e.versions[0]!;
    for (const v of e.versions) if (v.effectiveAt <= now) current = v;
    return current.document;
  }

  private validatePolicy(doc: string): void {
    const max = this.ctx.quotas.endpointPolicyMaxChars;
    if (doc.length > max) {
      throw new AwsError(
        'InvalidPolicyDocument',
        `The Policy Document is not valid. Policy document length ${doc.length} exceeds the maximum of ${max} characters.`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(doc);
    } catch (err) {
      const at = Number(/position (\d+)/.exec(String((err as Error).message))?.[1] ?? doc.length);
      const before = doc.slice(0, at).split('\n');
      throw new AwsError(
        'InvalidPolicyDocument',
        `The Policy Document is not valid. Syntax error at position (${before.length},${before.at(-1)!.length + 1})`,
      );
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('Statement' in parsed)) {
      throw new AwsError(
        'InvalidPolicyDocument',
        'The Policy Document is not valid. Missing required field Statement',
      );
    }
  }

  private shortServiceName(e: { serviceName: string; region: string }): string {
    return e.serviceName.slice(`com.amazonaws.${e.region}.`.length);
  }

  private endpointOut(e: Endpoint) {
    const short = this.shortServiceName(e);
    const zone = `${short}.${e.region}.vpce.amazonaws.com`;
    const dns = [
      { dnsName: `${e.id}-${e.dnsSuffix}.${zone}`, hostedZoneId: 'Z7HUB22UULQXV' },
      ...e.subnetIds.map((sid) => ({
        dnsName: `${e.id}-${e.dnsSuffix}-${this.subnets.get(sid)?.zone.zoneName ?? ''}.${zone}`,
        hostedZoneId: 'Z7HUB22UULQXV',
      })),
    ];
    if (e.privateDnsEnabled) {
      dns.push({
        dnsName: `${short}.${e.region}.amazonaws.com`,
        hostedZoneId: `Z${stableHex(e.id, 20).toUpperCase()}`,
      });
    }
    return {
      vpcEndpointId: e.id,
      vpcEndpointType: 'Interface',
      vpcId: e.vpcId,
      serviceName: e.serviceName,
      state: this.endpointState(e),
      policyDocument: e.policy,
      routeTableIdSet: [],
      subnetIdSet: e.subnetIds,
      groupSet: e.groupIds.map((id) => ({ groupId: id, groupName: this.groups.get(id)?.name })),
      ipAddressType: 'ipv4',
      dnsOptions: { dnsRecordIpType: 'ipv4' },
      privateDnsEnabled: e.privateDnsEnabled,
      requesterManaged: false,
      networkInterfaceIdSet: e.subnetIds.map((s) => e.eniBySubnet.get(s)).filter((x) => x !== undefined),
      dnsEntrySet: dns,
      creationTimestamp: new Date(e.createdAt).toISOString(),
      tagSet: tagSet(e.tags),
      ownerId: this.ctx.accountId,
    };
  }

  /** Private DNS needs both VPC DNS attributes, and only one endpoint per service per VPC may hold the name. */
  private checkPrivateDns(vpc: Vpc, serviceName: string, region: string, except?: string): void {
    if (!vpc.enableDnsSupport || !vpc.enableDnsHostnames) {
      throw new AwsError(
        'InvalidParameter',
        `Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for ${vpc.id}`,
      );
    }
    const clash = this.inRegion(this.endpoints, region).find(
      (e) =>
        e.id !== except &&
        e.vpcId === vpc.id &&
        e.serviceName === serviceName &&
        e.privateDnsEnabled &&
        e.goneAt === undefined,
    );
    if (clash) {
      const short = this.shortServiceName({ serviceName, region });
      throw new AwsError(
        'InvalidParameter',
        `private-dns-enabled cannot be set because there is already a conflicting DNS domain for ${short}.${region}.amazonaws.com in the VPC ${vpc.id}`,
      );
    }
  }

  private endpointSubnets(ids: string[], vpc: Vpc, region: string, taken: Subnet[] = []): Subnet[] {
    const out: Subnet[] = [];
    for (const id of ids) {
      const s = this.find<Subnet>('subnet', id, region, 'SubnetId');
      if (s.vpcId !== vpc.id) {
        throw new AwsError('InvalidParameter', `The subnet ID '${id}' does not belong to the VPC ${vpc.id}`);
      }
      if ([...taken, ...out].some((o) => o.zone.zoneName === s.zone.zoneName)) {
        throw new AwsError(
          'DuplicateSubnetsInSameZone',
          `Found another VPC endpoint subnet in the availability zone of ${s.id}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.`,
        );
      }
      out.push(s);
    }
    return out;
  }

  private endpointGroups(ids: string[], vpc: Vpc, region: string): string[] {
    for (const id of ids) {
      const g = this.find<SecurityGroup>('sg', id, region, 'SecurityGroupId');
      if (g.vpcId !== vpc.id) {
        throw new AwsError(
          'InvalidParameter',
          `The security group '${id}' does not belong to the VPC ${vpc.id}`,
        );
      }
    }
    return [...new Set(ids)];
  }

  private addEndpointEni(e: Endpoint, s: Subnet): void {
    const eni = this.newEni(e.region, s, 'vpc_endpoint', e.id, `VPC Endpoint Interface ${e.id}`, e.groupIds);
    e.eniBySubnet.set(s.id, eni.id);
  }

  /**
   * ClientToken idempotency: the same token with the same parameters returns what it created;
   * with other parameters it is IdempotentParameterMismatch.
   */
  private idempotent<T extends { clientToken?: string; requestFingerprint?: string }>(
    existing: Iterable<T>,
    input: Record<string, any>,
  ): { clientToken: string | undefined; fingerprint: string; prior?: T } {
    const clientToken = str(input.ClientToken);
    const { ClientToken: _t, DryRun: _d, ...rest } = input;
    const fingerprint = JSON.stringify(rest);
    if (!clientToken) return { clientToken, fingerprint };
    const prior = [...existing].find((r) => r.clientToken === clientToken);
    if (prior && prior.requestFingerprint !== fingerprint) {
      throw new AwsError(
        'IdempotentParameterMismatch',
        `The client token ${clientToken} has already been used with different request parameters.`,
      );
    }
    return { clientToken, fingerprint, ...(prior ? { prior } : {}) };
  }

  private createVpcEndpoint(input: Record<string, any>, region: string) {
    const { clientToken, fingerprint, prior } = this.idempotent(this.inRegion(this.endpoints, region), input);
    if (prior) return { vpcEndpoint: this.endpointOut(prior), clientToken };
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    const serviceName = str(input.ServiceName);
    if (!serviceName)
      throw new AwsError('MissingParameter', 'The request must contain the parameter ServiceName');
    if (!this.endpointServices(region).some((s) => s.serviceName === serviceName)) {
      throw new AwsError('InvalidServiceName', `The Vpc Endpoint Service '${serviceName}' does not exist`);
    }
    // The API's default type is Gateway; Bedrock only offers Interface.
    const type = str(input.VpcEndpointType) ?? 'Gateway';
    if (type !== 'Interface') {
      throw new AwsError(
        'InvalidParameter',
        `Endpoint type (${type}) does not match available service types ([Interface]).`,
      );
    }
    if (strings(input.RouteTableId).length) {
      throw new AwsError(
        'InvalidParameter',
        'Route table IDs are only supported for Gateway type VPC Endpoint.',
      );
    }
    const subnets = this.endpointSubnets(strings(input.SubnetId), vpc, region);
    const groupIdsIn = strings(input.SecurityGroupId);
    const groupIds = groupIdsIn.length ? this.endpointGroups(groupIdsIn, vpc, region) : [vpc.defaultGroupId];
    const privateDnsEnabled = bool(input.PrivateDnsEnabled) ?? true;
    if (privateDnsEnabled) this.checkPrivateDns(vpc, serviceName, region);
    const policy = str(input.PolicyDocument) ?? FULL_ACCESS_POLICY;
    this.validatePolicy(policy);
    const tags = tagsFromSpecifications(input, 'vpc-endpoint');
    const live = this.inRegion(this.endpoints, region).filter(
      (e) => e.vpcId === vpc.id && e.goneAt === undefined,
    );
    if (live.length >= this.ctx.quotas.interfaceEndpointsPerVpc) {
      throw new AwsError('VpcEndpointLimitExceeded', 'The maximum number of VPC endpoints has been reached.');
    }
    const b = this.base(region, tags);
    const availableAt = b.createdAt + this.ctx.delay('endpointAvailable');
    const e: Endpoint = {
      ...b,
      id: this.newId('vpce'),
      vpcId: vpc.id,
      serviceName,
      subnetIds: subnets.map((s) => s.id),
      groupIds,
      privateDnsEnabled,
      policy,
      versions: [{ document: policy, effectiveAt: b.createdAt }],
      availableAt,
      usableAt: availableAt + this.ctx.delay('endpointUsable'),
      clientToken,
      requestFingerprint: fingerprint,
      dnsSuffix: this.ctx.rng.hex(8),
      eniBySubnet: new Map(),
    };
    this.endpoints.set(e.id, e);
    for (const s of subnets) this.addEndpointEni(e, s);
    return { vpcEndpoint: this.endpointOut(e), clientToken };
  }

  private liveEndpoints(region: string): Endpoint[] {
    return this.inRegion(this.endpoints, region).filter((e) => this.endpointState(e) !== 'deleted');
  }

  private describeVpcEndpoints(input: Record<string, any>, region: string) {
    const ids = strings(input.VpcEndpointId);
    let items = ids.length
      ? this.describeByIds<Endpoint>('vpce', ids, region, 'DescribeVpcEndpoints')
      : this.liveEndpoints(region);
    items = applyFilters(
      items,
      filtersOf(input),
      (e, name) => {
        switch (name) {
          case 'vpc-endpoint-id':
            return [e.id];
          case 'vpc-id':
            return [e.vpcId];
          case 'service-name':
            return [e.serviceName];
          case 'vpc-endpoint-state':
            return [this.endpointState(e)];
          case 'vpc-endpoint-type':
            return ['Interface'];
          case 'ip-address-type':
            return ['ipv4'];
          case 'service-region':
            return [e.region];
          default:
            return undefined;
        }
      },
      (e) => e.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeVpcEndpoints', { min: 1 });
    return { vpcEndpointSet: page.map((e) => this.endpointOut(e)), nextToken };
  }

  private modifyVpcEndpoint(input: Record<string, any>, region: string) {
    const e = this.find<Endpoint>('vpce', str(input.VpcEndpointId), region, 'VpcEndpointId');
    const vpc = this.vpcs.get(e.vpcId)!;
    if (e.goneAt !== undefined) {
      throw new AwsError(
        'IncorrectState',
        `The Vpc Endpoint ${e.id} is in state deleting and cannot be modified.`,
      );
    }
    const reset = bool(input.ResetPolicy) ?? false;
    const newPolicy = str(input.PolicyDocument);
    if (reset && newPolicy !== undefined) {
      throw new AwsError('InvalidParameter', 'PolicyDocument and ResetPolicy cannot both be specified.');
    }
    if (newPolicy !== undefined) this.validatePolicy(newPolicy);
    const addGroups = strings(input.AddSecurityGroupId);
    const removeGroups = strings(input.RemoveSecurityGroupId);
    this.endpointGroups(addGroups, vpc, region);
    for (const id of removeGroups) {
      if (!e.groupIds.includes(id)) {
        throw new AwsError(
          'InvalidParameter',
          `The security group '${id}' is not associated with the VPC endpoint ${e.id}`,
        );
      }
    }
    const addSubnets = this.endpointSubnets(
      strings(input.AddSubnetId),
      vpc,
      region,
      e.subnetIds.map((id) => this.subnets.get(id)!).filter(Boolean),
    );
    const removeSubnets = strings(input.RemoveSubnetId);
    for (const id of removeSubnets) {
      if (!e.subnetIds.includes(id)) {
        throw new AwsError(
          'InvalidParameter',
          `The subnet '${id}' is not associated with the VPC endpoint ${e.id}`,
        );
      }
    }
    const dns = bool(input.PrivateDnsEnabled);
    if (dns === true && !e.privateDnsEnabled) this.checkPrivateDns(vpc, e.serviceName, region, e.id);
    const groupIds = [...new Set([...e.groupIds.filter((g) => !removeGroups.includes(g)), ...addGroups])];
    if (groupIds.length === 0) {
      throw new AwsError('InvalidParameter', 'An interface endpoint must have at least one security group.');
    }

    // All checks passed: apply.
    if (newPolicy !== undefined || reset) {
      const doc = newPolicy ?? FULL_ACCESS_POLICY;
      e.policy = doc;
      // DescribeVpcEndpoints shows what was set at once; traffic sees it only after propagation,
      // and never in a world where policy updates (or just those with a Deny) do not apply.
      const applies =
        this.ctx.world.endpointPolicyUpdatesApply &&
        !(this.ctx.world.ignoreDenyPolicyUpdates && hasDeny(doc));
      const effectiveAt = applies
        ? this.now() + this.ctx.delay('endpointPolicyPropagation')
        : Number.POSITIVE_INFINITY;
      e.versions.push({ document: doc, effectiveAt });
    }
    e.groupIds = groupIds;
    for (const eniId of e.eniBySubnet.values()) {
      const eni = this.enis.get(eniId);
      if (eni) eni.groupIds = e.groupIds.slice();
    }
    for (const id of removeSubnets) {
      const eniId = e.eniBySubnet.get(id);
      this.releaseIp(eniId ? this.enis.get(eniId) : undefined);
      if (eniId) this.enis.delete(eniId);
      e.eniBySubnet.delete(id);
    }
    e.subnetIds = e.subnetIds.filter((s) => !removeSubnets.includes(s));
    for (const s of addSubnets) {
      e.subnetIds.push(s.id);
      this.addEndpointEni(e, s);
    }
    if (dns !== undefined) e.privateDnsEnabled = dns;
    return { return: true };
  }

  private deleteVpcEndpoints(input: Record<string, any>, region: string) {
    const ids = strings(input.VpcEndpointId);
    if (ids.length === 0)
      throw new AwsError('MissingParameter', 'The request must contain the parameter VpcEndpointId');
    const unsuccessful: unknown[] = [];
    for (const id of ids) {
      const e = this.endpoints.get(id);
      if (!isIdOf('vpce', id)) {
        unsuccessful.push({
          resourceId: id,
          error: { code: 'InvalidVpcEndpointId.Malformed', message: `Invalid Id: '${id}'` },
        });
        continue;
      }
      if (!e || e.region !== region || this.endpointState(e) === 'deleted') {
        unsuccessful.push({
          resourceId: id,
          error: {
            code: 'InvalidVpcEndpoint.NotFound',
            message: `The Vpc Endpoint Id '${id}' does not exist`,
          },
        });
        continue;
      }
      if (e.goneAt === undefined) {
        e.deleteRequestedAt = this.now();
        e.goneAt = this.now() + this.ctx.delay('endpointDelete');
      }
    }
    this.purge();
    return { unsuccessful };
  }

  // ================================================================ network interfaces

  private newEni(
    region: string,
    s: Subnet,
    kind: Eni['kind'],
    owner: string,
    description: string,
    groupIds: string[],
  ): Eni {
    const requesterId =
      kind === 'lambda'
        ? `AROA${stableHex(owner, 16).toUpperCase()}:${owner}`
        : kind === 'vpc_endpoint'
          ? 'amazon-aws'
          : 'amazon-aws';
    const eni: Eni = {
      ...this.base(region, new Map()),
      id: this.newId('eni'),
      kind,
      owner,
      subnetId: s.id,
      vpcId: s.vpcId,
      zone: s.zone,
      privateIp: this.allocateIp(s),
      description,
      groupIds: groupIds.slice(),
      macAddress: `0e:${this.ctx.rng.hex(10).match(/../g)!.join(':')}`,
      attachmentId: `ela-attach-${this.ctx.rng.hex(17)}`,
      requesterId,
    };
    this.enis.set(eni.id, eni);
    return eni;
  }

  /** Lambda ENIs detach some minutes after release; until then they are `in-use` and typed `lambda`. */
  private eniAttached(n: Eni): boolean {
    if (n.kind !== 'lambda') return true;
    return n.detachAt === undefined || this.now() < n.detachAt;
  }

  private eniOut(n: Eni) {
    const attached = this.eniAttached(n);
    const ip = formatIpv4(n.privateIp);
    const dnsName = `ip-${ip.replaceAll('.', '-')}.${n.region === 'us-east-1' ? 'ec2.internal' : `${n.region}.compute.internal`}`;
    return {
      networkInterfaceId: n.id,
      subnetId: n.subnetId,
      vpcId: n.vpcId,
      availabilityZone: n.zone.zoneName,
      availabilityZoneId: n.zone.zoneId,
      description: n.description,
      ownerId: this.ctx.accountId,
      requesterId: n.requesterId,
      requesterManaged: true,
      status: attached ? 'in-use' : 'available',
      macAddress: n.macAddress,
      privateIpAddress: ip,
      privateDnsName: dnsName,
      sourceDestCheck: true,
      groupSet: n.groupIds.map((id) => ({ groupId: id, groupName: this.groups.get(id)?.name })),
      attachment: attached
        ? {
            attachmentId: n.attachmentId,
            attachTime: new Date(n.createdAt).toISOString(),
            deleteOnTermination: false,
            deviceIndex: 1,
            instanceOwnerId: 'amazon-aws',
            status: 'attached',
          }
        : undefined,
      interfaceType: n.kind === 'lambda' && !attached ? 'interface' : n.kind,
      privateIpAddressesSet: [{ privateIpAddress: ip, privateDnsName: dnsName, primary: true }],
      ipv6AddressesSet: [],
      tagSet: tagSet(n.tags),
    };
  }

  private describeNetworkInterfaces(input: Record<string, any>, region: string) {
    const ids = strings(input.NetworkInterfaceId);
    let items = ids.length
      ? this.describeByIds<Eni>('eni', ids, region, 'DescribeNetworkInterfaces')
      : this.inRegion(this.enis, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (n, name) => {
        const out = this.eniOut(n);
        switch (name) {
          case 'network-interface-id':
            return [n.id];
          case 'vpc-id':
            return [n.vpcId];
          case 'subnet-id':
            return [n.subnetId];
          case 'group-id':
            return n.groupIds;
          case 'group-name':
            return n.groupIds.map((g) => this.groups.get(g)?.name);
          case 'description':
            return [n.description];
          case 'interface-type':
            return [out.interfaceType];
          case 'status':
            return [out.status];
          case 'requester-managed':
            return ['true'];
          case 'requester-id':
            return [n.requesterId];
          case 'availability-zone':
            return [n.zone.zoneName];
          case 'attachment.status':
            return [out.attachment ? 'attached' : 'detached'];
          case 'attachment.attachment-id':
            return [out.attachment?.attachmentId];
          case 'private-ip-address':
          case 'addresses.private-ip-address':
            return [out.privateIpAddress];
          case 'mac-address':
            return [n.macAddress];
          case 'owner-id':
            return [this.ctx.accountId];
          default:
            return undefined;
        }
      },
      (n) => n.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeNetworkInterfaces', {
      idsGiven: ids.length ? 'networkInterfaceIds' : undefined,
    });
    return { networkInterfaceSet: page.map((n) => this.eniOut(n)), nextToken };
  }

  private deleteNetworkInterface(input: Record<string, any>, region: string) {
    const n = this.find<Eni>('eni', str(input.NetworkInterfaceId), region, 'NetworkInterfaceId');
    if (n.kind === 'lambda') {
      if (this.eniAttached(n))
        throw new AwsError('InvalidNetworkInterface.InUse', `Interface: [${n.id}] in use.`);
    } else {
      // Endpoint and NAT gateway interfaces belong to their service: they go with it.
      throw new AwsError('InvalidParameterValue', `Network interface '${n.id}' is currently in use.`);
    }
    this.releaseIp(n);
    this.enis.delete(n.id);
    return {};
  }

  // ================================================================ tags

  private taggable(id: string, region: string): Resource {
    const prefix = id.split('-')[0] ?? '';
    const kind = (Object.keys(PREFIX) as Kind[]).find((k) => PREFIX[k] === prefix);
    if (!kind || !isIdOf(PREFIX[kind], id)) throw new AwsError('InvalidID', `The ID '${id}' is not valid`);
    return this.find(kind, id, region);
  }

  private createTags(input: Record<string, any>, region: string) {
    const ids = strings(input.ResourceId);
    if (ids.length === 0)
      throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
    const resources = ids.map((id) => this.taggable(id, region));
    const pairs = listOf<Record<string, any>>(input.Tag);
    const tags = validateTags(pairs);
    // Check every resource first: CreateTags is all or nothing.
    for (const r of resources) {
      if (new Set([...r.tags.keys(), ...tags.map(([k]) => k)]).size > 50) {
        throw new AwsError('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
      }
    }
    for (const r of resources) for (const [k, v] of tags) r.tags.set(k, v);
    return {};
  }

  private deleteTags(input: Record<string, any>, region: string) {
    const ids = strings(input.ResourceId);
    if (ids.length === 0)
      throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
    const resources = ids.map((id) => this.taggable(id, region));
    const pairs = listOf<Record<string, any>>(input.Tag);
    for (const r of resources) {
      if (pairs.length === 0) {
        r.tags.clear();
        continue;
      }
      for (const p of pairs) {
        const key = str(p.Key) ?? '';
        // A tag named with a value goes only if the value matches; without a value it goes whatever its value.
        if (p.Value === undefined || r.tags.get(key) === str(p.Value)) r.tags.delete(key);
      }
    }
    return {};
  }

  // ================================================================ internet gateways

  private igwOut(g: InternetGateway) {
    return {
      internetGatewayId: g.id,
      ownerId: this.ctx.accountId,
      attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [],
      tagSet: tagSet(g.tags),
    };
  }

  private createInternetGateway(input: Record<string, any>, region: string) {
    const tags = tagsFromSpecifications(input, 'internet-gateway');
    const g: InternetGateway = { ...this.base(region, tags), id: this.newId('igw') };
    this.igws.set(g.id, g);
    return { internetGateway: this.igwOut(g) };
  }

  private attachInternetGateway(input: Record<string, any>, region: string) {
    const g = this.find<InternetGateway>('igw', str(input.InternetGatewayId), region, 'InternetGatewayId');
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    if (g.vpcId) {
      throw new AwsError(
        'Resource.AlreadyAssociated',
        `resource ${g.id} is already attached to network ${g.vpcId}`,
      );
    }
    if (this.inRegion(this.igws, region).some((x) => x.vpcId === vpc.id)) {
      throw new AwsError(
        'Resource.AlreadyAssociated',
        `resource ${vpc.id} already has an internet gateway attached`,
      );
    }
    g.vpcId = vpc.id;
    return {};
  }

  private detachInternetGateway(input: Record<string, any>, region: string) {
    const g = this.find<InternetGateway>('igw', str(input.InternetGatewayId), region, 'InternetGatewayId');
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    if (g.vpcId !== vpc.id)
      throw new AwsError('Gateway.NotAttached', `resource ${g.id} is not attached to network ${vpc.id}`);
    const mapped = this.inRegion(this.nats, region).some(
      (n) => n.vpcId === vpc.id && n.connectivityType === 'public' && n.state === 'available',
    );
    if (mapped) {
      throw new AwsError(
        'DependencyViolation',
        `Network ${vpc.id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
      );
    }
    g.vpcId = undefined;
    return {};
  }

  private deleteInternetGateway(input: Record<string, any>, region: string) {
    const g = this.find<InternetGateway>('igw', str(input.InternetGatewayId), region, 'InternetGatewayId');
    if (g.vpcId || this.ctx.faults.take('dependency-violation', 'ec2', 'DeleteInternetGateway')) {
      throw dependencyViolation('internetGateway', g.id);
    }
    this.igws.delete(g.id);
    return {};
  }

  private describeInternetGateways(input: Record<string, any>, region: string) {
    const ids = strings(input.InternetGatewayId);
    let items = ids.length
      ? this.describeByIds<InternetGateway>('igw', ids, region, 'DescribeInternetGateways')
      : this.inRegion(this.igws, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (g, name) => {
        switch (name) {
          case 'internet-gateway-id':
            return [g.id];
          case 'attachment.vpc-id':
            return [g.vpcId];
          case 'attachment.state':
            return [g.vpcId ? 'available' : undefined];
          case 'owner-id':
            return [this.ctx.accountId];
          default:
            return undefined;
        }
      },
      (g) => g.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeInternetGateways', {
      idsGiven: ids.length ? 'internetGatewayIds' : undefined,
    });
    return { internetGatewaySet: page.map((g) => this.igwOut(g)), nextToken };
  }

  // ================================================================ route tables

  private routeState(t: RouteTable, r: RouteTable['routes'][number]): string {
    if (r.gatewayId === 'local') return 'active';
    if (r.gatewayId) return this.igws.get(r.gatewayId)?.vpcId === t.vpcId ? 'active' : 'blackhole';
    if (r.natGatewayId) {
      const n = this.nats.get(r.natGatewayId);
      return n && (n.state === 'available' || n.state === 'pending') ? 'active' : 'blackhole';
    }
    return 'blackhole';
  }

  private routeTableOut(t: RouteTable) {
    const associations: unknown[] = [];
    if (t.main && t.mainAssociationId) {
      associations.push({
        main: true,
        routeTableAssociationId: t.mainAssociationId,
        routeTableId: t.id,
        associationState: { state: 'associated' },
      });
    }
    for (const [assoc, subnetId] of t.associations) {
      associations.push({
        main: false,
        routeTableAssociationId: assoc,
        routeTableId: t.id,
        subnetId,
        associationState: { state: 'associated' },
      });
    }
    return {
      routeTableId: t.id,
      vpcId: t.vpcId,
      ownerId: this.ctx.accountId,
      associationSet: associations,
      propagatingVgwSet: [],
      routeSet: t.routes.map((r) => ({
        destinationCidrBlock: r.destination,
        gatewayId: r.gatewayId,
        natGatewayId: r.natGatewayId,
        origin: r.origin,
        state: this.routeState(t, r),
      })),
      tagSet: tagSet(t.tags),
    };
  }

  private createRouteTable(input: Record<string, any>, region: string) {
    const vpc = this.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
    const tags = tagsFromSpecifications(input, 'route-table');
    const t: RouteTable = {
      ...this.base(region, tags),
      id: this.newId('rtb'),
      vpcId: vpc.id,
      main: false,
      routes: [{ destination: formatCidr(vpc.cidr), gatewayId: 'local', origin: 'CreateRouteTable' }],
      associations: new Map(),
    };
    this.routeTables.set(t.id, t);
    return { routeTable: this.routeTableOut(t), clientToken: str(input.ClientToken) };
  }

  private createRoute(input: Record<string, any>, region: string) {
    const t = this.find<RouteTable>('rtb', str(input.RouteTableId), region, 'RouteTableId');
    const destText = str(input.DestinationCidrBlock);
    if (!destText)
      throw new AwsError('MissingParameter', 'The request must contain the parameter destinationCidrBlock');
    const dest = parseCidr(destText);
    if (!dest) {
      throw new AwsError(
        'InvalidParameterValue',
        `Value (${destText}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`,
      );
    }
    const destination = formatCidr(dest);
    if (t.routes.some((r) => r.destination === destination)) {
      throw new AwsError('RouteAlreadyExists', `The route identified by ${destination} already exists.`);
    }
    const gatewayId = str(input.GatewayId);
    const natGatewayId = str(input.NatGatewayId);
    if (gatewayId) {
      if (!isIdOf('igw', gatewayId))
        throw new AwsError('InvalidGatewayID.NotFound', `The gateway ID '${gatewayId}' does not exist`);
      const g = this.igws.get(gatewayId);
      if (!g || g.region !== region)
        throw new AwsError('InvalidGatewayID.NotFound', `The gateway ID '${gatewayId}' does not exist`);
      if (g.vpcId !== t.vpcId) {
        throw new AwsError(
          'InvalidParameterValue',
          `route table ${t.id} and network gateway ${g.id} belong to different networks`,
        );
      }
      t.routes.push({ destination, gatewayId, origin: 'CreateRoute' });
    } else if (natGatewayId) {
      const n = this.find<NatGateway>('nat', natGatewayId, region, 'NatGatewayId');
      if (n.vpcId !== t.vpcId) {
        throw new AwsError(
          'InvalidParameterValue',
          `route table ${t.id} and NAT gateway ${n.id} belong to different networks`,
        );
      }
      t.routes.push({ destination, natGatewayId, origin: 'CreateRoute' });
    } else {
      throw new AwsError(
        'InvalidParameterCombination',
        'The request must contain exactly one of gatewayId, natGatewayId',
      );
    }
    return { return: true };
  }

  private associateRouteTable(input: Record<string, any>, region: string) {
    const t = this.find<RouteTable>('rtb', str(input.RouteTableId), region, 'RouteTableId');
    const s = this.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
    if (s.vpcId !== t.vpcId) {
      throw new AwsError(
        'InvalidParameterValue',
        `Route table ${t.id} and subnet ${s.id} belong to different networks`,
      );
    }
    const existing = this.explicitTableOf(s.id);
    if (existing) {
      throw new AwsError(
        'Resource.AlreadyAssociated',
        `the specified association for route table ${existing.id} conflicts with an existing association`,
      );
    }
    const associationId = this.newId('rtbassoc');
    t.associations.set(associationId, s.id);
    return { associationId, associationState: { state: 'associated' } };
  }

  private disassociateRouteTable(input: Record<string, any>, region: string) {
    const associationId = str(input.AssociationId);
    if (!associationId)
      throw new AwsError('MissingParameter', 'The request must contain the parameter associationId');
    for (const t of this.inRegion(this.routeTables, region)) {
      if (t.mainAssociationId === associationId) {
        throw new AwsError(
          'InvalidParameterValue',
          `cannot disassociate the main route table association ${associationId}`,
        );
      }
      if (t.associations.delete(associationId)) return {};
    }
    throw new AwsError(
      'InvalidAssociationID.NotFound',
      `The association ID '${associationId}' does not exist`,
    );
  }

  private describeRouteTables(input: Record<string, any>, region: string) {
    const ids = strings(input.RouteTableId);
    let items = ids.length
      ? this.describeByIds<RouteTable>('rtb', ids, region, 'DescribeRouteTables')
      : this.inRegion(this.routeTables, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (t, name) => {
        switch (name) {
          case 'route-table-id':
            return [t.id];
          case 'vpc-id':
            return [t.vpcId];
          case 'association.main':
            return [String(t.main)];
          case 'association.subnet-id':
            return [...t.associations.values()];
          case 'association.route-table-association-id':
            return [t.mainAssociationId, ...t.associations.keys()];
          case 'route.destination-cidr-block':
            return t.routes.map((r) => r.destination);
          case 'route.gateway-id':
            return t.routes.map((r) => r.gatewayId);
          case 'route.nat-gateway-id':
            return t.routes.map((r) => r.natGatewayId);
          case 'owner-id':
            return [this.ctx.accountId];
          default:
            return undefined;
        }
      },
      (t) => t.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeRouteTables', {
      max: 100,
      idsGiven: ids.length ? 'routeTableIds' : undefined,
    });
    return { routeTableSet: page.map((t) => this.routeTableOut(t)), nextToken };
  }

  private deleteRouteTable(input: Record<string, any>, region: string) {
    const t = this.find<RouteTable>('rtb', str(input.RouteTableId), region, 'RouteTableId');
    if (t.main || t.associations.size > 0) throw dependencyViolation('routeTable', t.id);
    this.routeTables.delete(t.id);
    return {};
  }

  private explicitTableOf(subnetId: string): RouteTable | undefined {
    for (const t of this.routeTables.values()) {
      for (const s of t.associations.values()) if (s === subnetId) return t;
    }
    return undefined;
  }

  // ================================================================ NAT gateways

  private natOut(n: NatGateway) {
    return {
      natGatewayId: n.id,
      subnetId: n.subnetId,
      vpcId: n.vpcId,
      state: n.state,
      connectivityType: n.connectivityType,
      createTime: new Date(n.createdAt).toISOString(),
      deleteTime: n.deletedAt !== undefined ? new Date(n.deletedAt).toISOString() : undefined,
      failureCode: n.failureCode,
      failureMessage: n.failureMessage,
      natGatewayAddressSet:
        n.state === 'failed'
          ? []
          : [
              {
                allocationId: n.allocationId,
                networkInterfaceId: n.eniId,
                privateIp: n.privateIp,
                publicIp: n.publicIp,
                isPrimary: true,
                status: n.state === 'deleted' ? 'disassociating' : 'succeeded',
              },
            ],
      tagSet: tagSet(n.tags),
    };
  }

  private createNatGateway(input: Record<string, any>, region: string) {
    const { clientToken, fingerprint, prior } = this.idempotent(this.inRegion(this.nats, region), input);
    if (prior) return { natGateway: this.natOut(prior), clientToken };
    const s = this.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
    const connectivityType = (str(input.ConnectivityType) ?? 'public') as NatGateway['connectivityType'];
    if (connectivityType !== 'public' && connectivityType !== 'private') {
      throw new AwsError(
        'InvalidParameterValue',
        `Value (${connectivityType}) for parameter connectivityType is invalid.`,
      );
    }
    const tags = tagsFromSpecifications(input, 'natgateway');
    const n: NatGateway = {
      ...this.base(region, tags),
      id: this.newId('nat'),
      vpcId: s.vpcId,
      subnetId: s.id,
      connectivityType,
      state: 'available',
      privateIp: '',
      allocationId: str(input.AllocationId),
      clientToken,
      requestFingerprint: fingerprint,
    };
    // A public NAT gateway in a VPC without an internet gateway fails, as on AWS.
    if (connectivityType === 'public' && !this.inRegion(this.igws, region).some((g) => g.vpcId === s.vpcId)) {
      n.state = 'failed';
      n.failureCode = 'Gateway.NotAttached';
      n.failureMessage = `Network ${s.vpcId} has no Internet gateway attached`;
    } else {
      const eni = this.newEni(region, s, 'nat_gateway', n.id, `Interface for NAT Gateway ${n.id}`, []);
      n.eniId = eni.id;
      n.privateIp = formatIpv4(eni.privateIp);
      if (connectivityType === 'public')
        n.publicIp = `3.${(eni.privateIp >>> 16) & 255}.${(eni.privateIp >>> 8) & 255}.${eni.privateIp & 255}`;
    }
    this.nats.set(n.id, n);
    return { natGateway: this.natOut(n), clientToken };
  }

  private describeNatGateways(input: Record<string, any>, region: string) {
    const ids = strings(input.NatGatewayId);
    let items = ids.length
      ? this.describeByIds<NatGateway>('nat', ids, region, 'DescribeNatGateways')
      : this.inRegion(this.nats, region);
    items = applyFilters(
      items,
      filtersOf(input),
      (n, name) => {
        switch (name) {
          case 'nat-gateway-id':
            return [n.id];
          case 'state':
            return [n.state];
          case 'subnet-id':
            return [n.subnetId];
          case 'vpc-id':
            return [n.vpcId];
          default:
            return undefined;
        }
      },
      (n) => n.tags,
    );
    const { page, nextToken } = paginate(items, input, 'DescribeNatGateways', {
      idsGiven: ids.length ? 'natGatewayIds' : undefined,
    });
    return { natGatewaySet: page.map((n) => this.natOut(n)), nextToken };
  }

  private deleteNatGateway(input: Record<string, any>, region: string) {
    const n = this.find<NatGateway>('nat', str(input.NatGatewayId), region, 'NatGatewayId');
    if (n.state !== 'deleted') {
      n.state = 'deleted';
      n.deletedAt = this.now();
      if (n.eniId) {
        this.releaseIp(this.enis.get(n.eniId));
        this.enis.delete(n.eniId);
      }
    }
    return { natGatewayId: n.id };
  }

  // ================================================================ Ec2Model: views for the other services

  vpc(vpcId: string): VpcView | undefined {
    const v = this.vpcs.get(vpcId);
    if (!v) return undefined;
    return {
      vpcId: v.id,
      region: v.region,
      cidrBlock: formatCidr(v.cidr),
      isDefault: v.isDefault,
      enableDnsSupport: v.enableDnsSupport,
      enableDnsHostnames: v.enableDnsHostnames,
      tags: tagsRecord(v.tags),
    };
  }

  subnet(subnetId: string): SubnetView | undefined {
    const s = this.subnets.get(subnetId);
    if (!s) return undefined;
    return {
      subnetId: s.id,
      vpcId: s.vpcId,
      region: s.region,
      availabilityZone: s.zone.zoneName,
      cidrBlock: formatCidr(s.cidr),
    };
  }

  securityGroup(groupId: string): SecurityGroupView | undefined {
    const g = this.groups.get(groupId);
    if (!g) return undefined;
    const view = (r: SgRule): SgRuleView => ({
      ipProtocol: r.ipProtocol,
      fromPort: r.fromPort,
      toPort: r.toPort,
      cidrIpv4: r.cidr ? [r.cidr] : [],
      groupIds: r.groupId ? [r.groupId] : [],
    });
    return {
      groupId: g.id,
      vpcId: g.vpcId,
      ingress: g.rules.filter((r) => !r.egress).map(view),
      egress: g.rules.filter((r) => r.egress).map(view),
    };
  }

  interfaceEndpointsInVpc(vpcId: string): EndpointView[] {
    this.purge();
    const now = this.now();
    return [...this.endpoints.values()]
      .filter((e) => e.vpcId === vpcId && this.endpointState(e) !== 'deleted')
      .map((e) => {
        const state = this.endpointState(e);
        return {
          vpcEndpointId: e.id,
          vpcId: e.vpcId,
          region: e.region,
          serviceName: e.serviceName,
          state,
          usable: state === 'available' && now >= e.usableAt,
          privateDnsEnabled: e.privateDnsEnabled,
          subnetIds: e.subnetIds.slice(),
          securityGroupIds: e.groupIds.slice(),
          effectivePolicy: JSON.parse(this.effectivePolicy(e)) as PolicyDocument,
          privateIps: e.subnetIds.map((s) => {
            const eni = this.enis.get(e.eniBySubnet.get(s) ?? '');
            return eni ? formatIpv4(eni.privateIp) : '';
          }),
        };
      });
  }

  subnetHasInternetPath(subnetId: string, seen: Set<string> = new Set()): boolean {
    const s = this.subnets.get(subnetId);
    if (!s || seen.has(subnetId)) return false;
    seen.add(subnetId);
    const vpc = this.vpcs.get(s.vpcId);
    if (!vpc) return false;
    const table = this.explicitTableOf(s.id) ?? this.routeTables.get(vpc.mainRouteTableId);
    const route = table?.routes.find((r) => r.destination === '0.0.0.0/0');
    if (!route) return false;
    if (route.gatewayId) return this.igws.get(route.gatewayId)?.vpcId === s.vpcId;
    if (route.natGatewayId) {
      const nat = this.nats.get(route.natGatewayId);
      return (
        nat !== undefined &&
        nat.state === 'available' &&
        nat.connectivityType === 'public' &&
        this.subnetHasInternetPath(nat.subnetId, seen)
      );
    }
    return false;
  }

  attachLambdaEnis(fn: {
    functionName: string;
    region: string;
    subnetIds: string[];
    securityGroupIds: string[];
  }): string[] {
    this.purge();
    const ids: string[] = [];
    for (const subnetId of fn.subnetIds) {
      const s = this.subnets.get(subnetId);
      if (!s || s.region !== fn.region) continue;
      const h = this.ctx.rng.hex(32);
      const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      const eni = this.newEni(
        fn.region,
        s,
        'lambda',
        fn.functionName,
        `AWS Lambda VPC ENI-${fn.functionName}-${uuid}`,
        fn.securityGroupIds,
      );
      ids.push(eni.id);
    }
    return ids;
  }

  releaseLambdaEnis(functionName: string): void {
    const now = this.now();
    for (const n of this.enis.values()) {
      if (n.kind !== 'lambda' || n.owner !== functionName || n.detachAt !== undefined) continue;
      n.detachAt = now + this.ctx.delay('eniDetach');
      n.deleteAt = n.detachAt + this.ctx.delay('eniLambdaDelete');
    }
  }

  // ================================================================ EmulatedService

  inventory(): InventoryItem[] {
    this.purge();
    const item = (kind: Kind, r: Resource, state: string): InventoryItem => ({
      service: 'ec2',
      type: INVENTORY_TYPE[kind],
      id: r.id,
      region: r.region,
      state,
      tags: tagsRecord(r.tags),
      builtIn: r.builtIn,
    });
    return [
      ...[...this.vpcs.values()].map((v) => item('vpc', v, 'available')),
      ...[...this.subnets.values()].map((s) => item('subnet', s, 'available')),
      ...[...this.groups.values()].map((g) => item('sg', g, 'available')),
      ...[...this.endpoints.values()]
        .filter((e) => this.endpointState(e) !== 'deleted')
        .map((e) => item('vpce', e, this.endpointState(e))),
      ...[...this.enis.values()].map((n) => item('eni', n, this.eniAttached(n) ? 'in-use' : 'available')),
      ...[...this.igws.values()].map((g) => item('igw', g, g.vpcId ? 'attached' : 'detached')),
      ...[...this.routeTables.values()].map((t) => item('rtb', t, 'available')),
      ...[...this.nats.values()]
        .filter((n) => n.state !== 'deleted' && n.state !== 'failed')
        .map((n) => item('nat', n, n.state)),
    ];
  }

  reset(): void {
    this.vpcs.clear();
    this.subnets.clear();
    this.groups.clear();
    this.endpoints.clear();
    this.enis.clear();
    this.igws.clear();
    this.routeTables.clear();
    this.nats.clear();
    this.regionsWithDefaultVpc.clear();
  }
}

/** True when a policy document has any Deny statement. */
function hasDeny(doc: string): boolean {
  try {
    const parsed = JSON.parse(doc) as { Statement?: unknown };
    const statements = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
    return statements.some((st) => (st as { Effect?: string } | undefined)?.Effect === 'Deny');
  } catch {
    return false;
  }
}
