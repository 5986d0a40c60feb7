import type { EmulatorContext } from '../../core/context.ts';
import { AwsError } from '../../core/errors.ts';
import type {
  Endpoint,
  Eni,
  InternetGateway,
  NatGateway,
  Resource,
  RouteTable,
  SecurityGroup,
  Subnet,
  Vpc,
} from './state.ts';
import { cidrSize, isIdOf, stableHex, type TagMap, type Zone, zonesOf } from './util.ts';

/**
 * What exists in the emulated EC2: one table per resource family, and the plumbing every family
 * shares (ids, lookups with AWS's NotFound/Malformed errors, addresses, ENIs). No wire format here.
 */

export type Kind = 'vpc' | 'subnet' | 'sg' | 'vpce' | 'eni' | 'igw' | 'rtb' | 'nat';

/** An operation of one family: the decoded query input and the request's region. */
export type Ec2Operation = (input: Record<string, any>, region: string) => unknown;
export type Ec2Operations = Record<string, Ec2Operation>;

export const PREFIX: Record<Kind, string> = {
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

export function dependencyViolation(kind: string, id: string): AwsError {
  return new AwsError('DependencyViolation', `The ${kind} '${id}' has dependencies and cannot be deleted.`);
}

export class Ec2Store {
  readonly ctx: EmulatorContext;
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly enis = new Map<string, Eni>();
  readonly igws = new Map<string, InternetGateway>();
  readonly routeTables = new Map<string, RouteTable>();
  readonly nats = new Map<string, NatGateway>();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
  }

  get accountId(): string {
    return this.ctx.accountId;
  }

  now(): number {
    return this.ctx.now();
  }

  newId(prefix: string): string {
    return `${prefix}-${this.ctx.rng.hex(17)}`;
  }

  /** The fields every resource has; Describe-by-id sees it only after the consistency delay. */
  base(region: string, tags: TagMap, builtIn = false): Resource {
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

  tableOf(kind: Kind): Map<string, Resource> {
    const tables: Record<Kind, Map<string, Resource>> = {
      vpc: this.vpcs,
      subnet: this.subnets,
      sg: this.groups,
      vpce: this.endpoints,
      eni: this.enis,
      igw: this.igws,
      rtb: this.routeTables,
      nat: this.nats,
    };
    return tables[kind];
  }

  notFound(kind: Kind, id: string): AwsError {
    const [code, message] = NOT_FOUND[kind];
    return new AwsError(code, message(id));
  }

  /** A resource of this region by id, or the MissingParameter/Malformed/NotFound error AWS gives. */
  find<T extends Resource>(kind: Kind, id: string | undefined, region: string, param?: string): T {
    if (!id) {
      throw new AwsError(
        'MissingParameter',
        `The request must contain the parameter ${param ?? `${kind}Id`}`,
      );
    }
    if (!isIdOf(PREFIX[kind], id)) throw new AwsError(MALFORMED[kind], `Invalid id: "${id}"`);
    const r = this.tableOf(kind).get(id) as T | undefined;
    if (!r || r.region !== region) throw this.notFound(kind, id);
    return r;
  }

  inRegion<T extends Resource>(table: Map<string, T>, region: string): T[] {
    return [...table.values()].filter((r) => r.region === region);
  }

  defaultVpc(region: string): Vpc | undefined {
    return this.inRegion(this.vpcs, region).find((v) => v.isDefault);
  }

  arn(region: string, type: string, id: string): string {
    return `arn:aws:ec2:${region}:${this.ctx.accountId}:${type}/${id}`;
  }

  dhcpOptionsId(region: string): string {
    return `dopt-${stableHex(`dopt:${region}`, 17)}`;
  }

  /** The zone a Create* names (by name or id), or one at random, with AWS's error for others. */
  zoneOf(region: string, name?: string, zoneId?: string): Zone {
    const zones = zonesOf(region);
    const pick = (param: string, value: string, key: keyof Zone): Zone => {
      const z = zones.find((x) => x[key] === value);
      if (!z) {
        throw new AwsError(
          'InvalidParameterValue',
          `Value (${value}) for parameter ${param} is invalid. Subnets can currently only be created in the following availability zones: ${zones.map((x) => x[key]).join(', ')}.`,
        );
      }
      return z;
    };
    if (name) return pick('availabilityZone', name, 'zoneName');
    if (zoneId) return pick('availabilityZoneId', zoneId, 'zoneId');
    return zones[Math.floor(this.ctx.rng.next() * zones.length)]!;
  }

  /** A free host address in the subnet (AWS keeps the first four and the last one). */
  allocateIp(s: Subnet): number {
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

  newEni(
    region: string,
    s: Subnet,
    kind: Eni['kind'],
    owner: string,
    description: string,
    groupIds: string[],
  ): Eni {
    const requesterId =
      kind === 'lambda' ? `AROA${stableHex(owner, 16).toUpperCase()}:${owner}` : 'amazon-aws';
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

  /** Removes an ENI and gives its address back to the subnet. */
  deleteEni(eniId: string | undefined): void {
    const eni = eniId ? this.enis.get(eniId) : undefined;
    if (!eni) return;
    this.subnets.get(eni.subnetId)?.usedIps.delete(eni.privateIp);
    this.enis.delete(eni.id);
  }

  /** Resources whose time is up are gone: endpoints past `deleting`, Lambda ENIs Lambda deleted. */
  purge(): void {
    const now = this.now();
    for (const e of this.endpoints.values()) {
      if (
        e.goneAt !== undefined &&
        e.goneAt <= now &&
        (e.shownDeleting || !this.ctx.profile.showsEveryState)
      ) {
        for (const eniId of e.eniBySubnet.values()) this.deleteEni(eniId);
        this.endpoints.delete(e.id);
      }
    }
    for (const n of this.enis.values()) {
      if (n.deleteAt !== undefined && n.deleteAt <= now) this.deleteEni(n.id);
    }
  }

  clear(): void {
    for (const kind of Object.keys(PREFIX) as Kind[]) this.tableOf(kind).clear();
  }
}
