import { AwsError } from '../../core/errors.ts';
import { listOf } from '../../core/query.ts';
import { endpointServices } from './catalog.ts';
import { endpointState, eniAttached, showEndpoint, showEni } from './lifecycle.ts';
import {
  endpointOut,
  eniOut,
  igwOut,
  natOut,
  routeTableOut,
  sgOut,
  subnetOut,
  vpcOut,
  zoneOut,
} from './responses.ts';
import type { Resource, SecurityGroup } from './state.ts';
import type { Ec2Operations, Ec2Store, Kind } from './store.ts';
import { formatCidr, str, strings, type TagMap, type Zone, zonesOf } from './util.ts';

/**
 * Every Describe* of the emulated EC2, table-driven: per resource family a table of filter names
 * → accessors, how ids select, and how an item renders. Filters (with `*`/`?` wildcards and the
 * `tag:`, `tag-key`, `tag-value` forms), describe-by-id consistency and MaxResults/NextToken
 * pagination are written once, below the tables.
 */

type Value = string | boolean | number | undefined;
/** Filter name → the values a resource has for it. A name not in the table is refused, as EC2 does. */
type FilterTable<T> = Record<string, (r: T) => Value[]>;

interface DescribeSpec<T> {
  /** The query list that selects by id (`VpcId` for `VpcId.N`), checked against `kind`'s table. */
  ids?: { field: string; kind: Kind; name: string };
  /** The response member holding the page. */
  listKey: string;
  all: (s: Ec2Store, region: string) => T[];
  filters: FilterTable<T>;
  render: (s: Ec2Store, r: T, region: string) => unknown;
  /** MaxResults bounds; `false`: the operation does not paginate. */
  page?: { min?: number; max?: number } | false;
  /** MaxResults may come with ids (DescribeVpcEndpoints); elsewhere that is InvalidParameterCombination. */
  maxResultsWithIds?: boolean;
  /** Selection by something other than ids (group names, zone names, service names). */
  select?: (
    s: Ec2Store,
    input: Record<string, any>,
    region: string,
    items: T[],
  ) => { items: T[]; given: boolean };
  tags?: (r: T) => TagMap;
  /** Called for each item a client is answered with (the intermediate states it has now seen). */
  shown?: (s: Ec2Store, r: T) => void;
  extra?: (page: T[]) => Record<string, unknown>;
}

const NO_TAGS: TagMap = new Map();

function spec<T>(s: DescribeSpec<T>): DescribeSpec<T> {
  return s;
}

function tableFor(s: Ec2Store) {
  const owner: FilterTable<unknown> = { 'owner-id': () => [s.accountId] };
  return {
    DescribeVpcs: spec({
      ids: { field: 'VpcId', kind: 'vpc', name: 'vpcIds' },
      listKey: 'vpcSet',
      all: (st, region) => st.inRegion(st.vpcs, region),
      render: (st, v) => vpcOut(st, v),
      filters: {
        ...owner,
        'vpc-id': (v) => [v.id],
        cidr: (v) => [formatCidr(v.cidr)],
        'cidr-block-association.cidr-block': (v) => [formatCidr(v.cidr)],
        state: () => ['available'],
        'is-default': (v) => [String(v.isDefault)],
        'dhcp-options-id': (v) => [s.dhcpOptionsId(v.region)],
      },
    }),
    DescribeSubnets: spec({
      ids: { field: 'SubnetId', kind: 'subnet', name: 'subnetIds' },
      listKey: 'subnetSet',
      all: (st, region) => st.inRegion(st.subnets, region),
      render: (st, n) => subnetOut(st, n),
      filters: {
        ...owner,
        'subnet-id': (n) => [n.id],
        'vpc-id': (n) => [n.vpcId],
        'availability-zone': (n) => [n.zone.zoneName],
        'availability-zone-id': (n) => [n.zone.zoneId],
        'cidr-block': (n) => [formatCidr(n.cidr)],
        cidr: (n) => [formatCidr(n.cidr)],
        cidrBlock: (n) => [formatCidr(n.cidr)],
        state: () => ['available'],
        'default-for-az': (n) => [String(n.defaultForAz)],
        defaultForAz: (n) => [String(n.defaultForAz)],
        'map-public-ip-on-launch': (n) => [String(n.mapPublicIpOnLaunch)],
        'subnet-arn': (n) => [s.arn(n.region, 'subnet', n.id)],
      },
    }),
    DescribeSecurityGroups: spec({
      ids: { field: 'GroupId', kind: 'sg', name: 'groupIds' },
      listKey: 'securityGroupInfo',
      all: (st, region) => st.inRegion(st.groups, region),
      render: (st, g) => sgOut(st, g),
      // GroupName.N names groups of the default VPC (the EC2-Classic era form AWS still accepts).
      select: (st, input, region, items) => {
        const names = strings(input.GroupName);
        if (!names.length) return { items, given: false };
        const def = st.defaultVpc(region);
        for (const n of names) {
          if (!items.some((g) => g.name === n && g.vpcId === def?.id)) {
            throw new AwsError(
              'InvalidGroup.NotFound',
              `The security group '${n}' does not exist in default VPC '${def?.id}'`,
            );
          }
        }
        return { items: items.filter((g) => names.includes(g.name) && g.vpcId === def?.id), given: true };
      },
      filters: {
        ...owner,
        'group-id': (g) => [g.id],
        'group-name': (g) => [g.name],
        'vpc-id': (g) => [g.vpcId],
        description: (g) => [g.description],
        'ip-permission.cidr': (g) => ingress(g).map((r) => r.cidr),
        'ip-permission.group-id': (g) => ingress(g).map((r) => r.groupId),
        'ip-permission.protocol': (g) => ingress(g).map((r) => r.ipProtocol),
        'ip-permission.from-port': (g) => ingress(g).map((r) => r.fromPort),
        'ip-permission.to-port': (g) => ingress(g).map((r) => r.toPort),
        'egress.ip-permission.cidr': (g) => egress(g).map((r) => r.cidr),
        'egress.ip-permission.group-id': (g) => egress(g).map((r) => r.groupId),
      },
    }),
    DescribeVpcEndpoints: spec({
      ids: { field: 'VpcEndpointId', kind: 'vpce', name: 'vpcEndpointIds' },
      listKey: 'vpcEndpointSet',
      all: (st, region) =>
        st.inRegion(st.endpoints, region).filter((e) => endpointState(st, e) !== 'deleted'),
      render: (st, e) => endpointOut(st, e),
      shown: showEndpoint,
      page: { min: 1 },
      maxResultsWithIds: true,
      filters: {
        'vpc-endpoint-id': (e) => [e.id],
        'vpc-id': (e) => [e.vpcId],
        'service-name': (e) => [e.serviceName],
        'vpc-endpoint-state': (e) => [endpointState(s, e)],
        'vpc-endpoint-type': () => ['Interface'],
        'ip-address-type': () => ['ipv4'],
        'service-region': (e) => [e.region],
      },
    }),
    DescribeNetworkInterfaces: spec({
      ids: { field: 'NetworkInterfaceId', kind: 'eni', name: 'networkInterfaceIds' },
      listKey: 'networkInterfaceSet',
      all: (st, region) => st.inRegion(st.enis, region),
      render: (st, n) => eniOut(st, n),
      shown: showEni,
      filters: {
        ...owner,
        'network-interface-id': (n) => [n.id],
        'vpc-id': (n) => [n.vpcId],
        'subnet-id': (n) => [n.subnetId],
        'group-id': (n) => n.groupIds,
        'group-name': (n) => n.groupIds.map((g) => s.groups.get(g)?.name),
        description: (n) => [n.description],
        'interface-type': (n) => [eniOut(s, n).interfaceType],
        status: (n) => [eniOut(s, n).status],
        'requester-managed': () => ['true'],
        'requester-id': (n) => [n.requesterId],
        'availability-zone': (n) => [n.zone.zoneName],
        'attachment.status': (n) => [eniAttached(s, n) ? 'attached' : 'detached'],
        'attachment.attachment-id': (n) => [eniAttached(s, n) ? n.attachmentId : undefined],
        'private-ip-address': (n) => [eniOut(s, n).privateIpAddress],
        'addresses.private-ip-address': (n) => [eniOut(s, n).privateIpAddress],
        'mac-address': (n) => [n.macAddress],
      },
    }),
    DescribeInternetGateways: spec({
      ids: { field: 'InternetGatewayId', kind: 'igw', name: 'internetGatewayIds' },
      listKey: 'internetGatewaySet',
      all: (st, region) => st.inRegion(st.igws, region),
      render: (st, g) => igwOut(st, g),
      filters: {
        ...owner,
        'internet-gateway-id': (g) => [g.id],
        'attachment.vpc-id': (g) => [g.vpcId],
        'attachment.state': (g) => [g.vpcId ? 'available' : undefined],
      },
    }),
    DescribeRouteTables: spec({
      ids: { field: 'RouteTableId', kind: 'rtb', name: 'routeTableIds' },
      listKey: 'routeTableSet',
      all: (st, region) => st.inRegion(st.routeTables, region),
      render: (st, t) => routeTableOut(st, t),
      page: { max: 100 },
      filters: {
        ...owner,
        'route-table-id': (t) => [t.id],
        'vpc-id': (t) => [t.vpcId],
        'association.main': (t) => [String(t.main)],
        'association.subnet-id': (t) => [...t.associations.values()],
        'association.route-table-association-id': (t) => [t.mainAssociationId, ...t.associations.keys()],
        'route.destination-cidr-block': (t) => t.routes.map((r) => r.destination),
        'route.gateway-id': (t) => t.routes.map((r) => r.gatewayId),
        'route.nat-gateway-id': (t) => t.routes.map((r) => r.natGatewayId),
      },
    }),
    DescribeNatGateways: spec({
      ids: { field: 'NatGatewayId', kind: 'nat', name: 'natGatewayIds' },
      listKey: 'natGatewaySet',
      all: (st, region) => st.inRegion(st.nats, region),
      render: (_st, n) => natOut(n),
      filters: {
        'nat-gateway-id': (n) => [n.id],
        state: (n) => [n.state],
        'subnet-id': (n) => [n.subnetId],
        'vpc-id': (n) => [n.vpcId],
      },
    }),
    DescribeAvailabilityZones: spec<Zone>({
      listKey: 'availabilityZoneInfo',
      all: (_st, region) => zonesOf(region),
      render: (_st, z, region) => zoneOut(region, z),
      page: false,
      tags: () => NO_TAGS,
      select: (_st, input, _region, zones) => {
        const names = strings(input.ZoneName);
        const ids = strings(input.ZoneId);
        for (const n of names) {
          if (!zones.some((z) => z.zoneName === n))
            throw new AwsError('InvalidParameterValue', `The zone '${n}' does not exist.`);
        }
        for (const n of ids) {
          if (!zones.some((z) => z.zoneId === n))
            throw new AwsError('InvalidParameterValue', `The zone id '${n}' does not exist.`);
        }
        if (!names.length && !ids.length) return { items: zones, given: false };
        return {
          items: zones.filter((z) => names.includes(z.zoneName) || ids.includes(z.zoneId)),
          given: false,
        };
      },
      filters: {
        'zone-name': (z) => [z.zoneName],
        'zone-id': (z) => [z.zoneId],
        state: () => ['available'],
        'region-name': (z) => [regionOfZone(z)],
        'zone-type': () => ['availability-zone'],
        'opt-in-status': () => ['opt-in-not-required'],
        'group-name': (z) => [regionOfZone(z)],
        'network-border-group': (z) => [regionOfZone(z)],
      },
    }),
    DescribeVpcEndpointServices: spec({
      listKey: 'serviceDetailSet',
      all: (st, region) => endpointServices(st.ctx, region),
      render: (_st, d) => d,
      page: { min: 1 },
      tags: () => NO_TAGS,
      extra: (page) => ({ serviceNameSet: page.map((d) => d.serviceName) }),
      select: (_st, input, _region, services) => {
        const wanted = strings(input.ServiceName);
        for (const name of wanted) {
          if (!services.some((d) => d.serviceName === name)) {
            throw new AwsError('InvalidServiceName', `The Vpc Endpoint Service '${name}' does not exist`);
          }
        }
        return {
          items: wanted.length ? services.filter((d) => wanted.includes(d.serviceName)) : services,
          given: false,
        };
      },
      filters: {
        'service-name': (d) => [d.serviceName],
        'service-type': () => ['Interface'],
        owner: (d) => [d.owner],
        'service-region': (d) => [d.serviceRegion],
        'supported-ip-address-types': () => ['ipv4'],
      },
    }),
  };
}

const ingress = (g: SecurityGroup) => g.rules.filter((r) => !r.egress);
const egress = (g: SecurityGroup) => g.rules.filter((r) => r.egress);

/** `us-east-1a` → `us-east-1`. */
function regionOfZone(z: Zone): string {
  return z.zoneName.slice(0, -1);
}

/** One Describe* operation per table row. */
export function describeOperations(s: Ec2Store): Ec2Operations {
  const table = tableFor(s) as Record<string, DescribeSpec<any>>;
  const ops: Ec2Operations = {};
  for (const [operation, sp] of Object.entries(table)) {
    ops[operation] = (input, region) => describe(s, operation, sp, input, region);
  }
  return ops;
}

function describe<T>(
  s: Ec2Store,
  operation: string,
  sp: DescribeSpec<T>,
  input: Record<string, any>,
  region: string,
): Record<string, unknown> {
  const ids = sp.ids ? strings(input[sp.ids.field]) : [];
  let items = ids.length ? (byIds(s, sp.ids!.kind, ids, region, operation) as T[]) : sp.all(s, region);
  let given = ids.length > 0;
  if (sp.select) {
    const selected = sp.select(s, input, region, items);
    items = selected.items;
    given ||= selected.given;
  }
  items = applyFilters(items, filtersOf(input), sp.filters, sp.tags ?? ((r) => (r as Resource).tags));
  const render = (page: T[]) =>
    page.map((r) => {
      const out = sp.render(s, r, region);
      sp.shown?.(s, r);
      return out;
    });
  if (sp.page === false) return { [sp.listKey]: render(items) };
  const idsGiven = given && !sp.maxResultsWithIds ? sp.ids?.name : undefined;
  const { page, nextToken } = paginate(items, input, operation, { ...sp.page, idsGiven });
  return { ...sp.extra?.(page), [sp.listKey]: render(page), nextToken };
}

/**
 * Describe-by-id: every id must exist, and one created moments ago may still be invisible
 * (eventual consistency), or a `not-found-after-create` fault says so.
 */
function byIds(s: Ec2Store, kind: Kind, ids: string[], region: string, operation: string): Resource[] {
  const out: Resource[] = [];
  for (const id of ids) {
    const r = s.find(kind, id, region);
    if (s.now() < r.visibleAt) throw s.notFound(kind, id);
    out.push(r);
  }
  if (ids.length > 0 && s.ctx.faults.take('not-found-after-create', 'ec2', operation)) {
    throw s.notFound(kind, ids[0]!);
  }
  return out;
}

// ---------- filters ----------

interface Filter {
  name: string;
  values: string[];
}

function filtersOf(input: Record<string, any>): Filter[] {
  return listOf<Record<string, any>>(input.Filter).map((f) => ({
    name: String(f.Name ?? ''),
    values: strings(f.Value),
  }));
}

/** AWS filter values accept `*` and `?` wildcards. */
function wildcard(pattern: string): RegExp {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's');
}

function applyFilters<T>(items: T[], filters: Filter[], table: FilterTable<T>, tags: (r: T) => TagMap): T[] {
  if (filters.length === 0) return items;
  for (const f of filters) {
    const known =
      f.name.startsWith('tag:') ||
      f.name === 'tag-key' ||
      f.name === 'tag-value' ||
      Object.hasOwn(table, f.name);
    if (!known) {
      throw new AwsError('InvalidParameterValue', `The filter '${f.name}' is invalid`);
    }
  }
  const valuesOf = (r: T, name: string): string[] => {
    if (name.startsWith('tag:')) {
      const v = tags(r).get(name.slice(4));
      return v === undefined ? [] : [v];
    }
    if (name === 'tag-key') return [...tags(r).keys()];
    if (name === 'tag-value') return [...tags(r).values()];
    return table[name]!(r)
      .filter((x) => x !== undefined)
      .map(String);
  };
  return items.filter((r) =>
    filters.every((f) => {
      const have = valuesOf(r, f.name);
      return f.values.some((p) => {
        const re = wildcard(p);
        return have.some((h) => re.test(h));
      });
    }),
  );
}

// ---------- pagination ----------

/**
 * MaxResults/NextToken over an already filtered list. The token is an opaque offset, bound to
 * the operation so a token from another call is refused.
 */
function paginate<T>(
  items: T[],
  input: Record<string, any>,
  operation: string,
  opts: { min?: number; max?: number; idsGiven?: string | undefined },
): { page: T[]; nextToken?: string } {
  const min = opts.min ?? 5;
  const max = opts.max ?? 1000;
  const rawMax = str(input.MaxResults);
  let start = 0;
  const rawToken = str(input.NextToken);
  if (rawToken) {
    let decoded: { op?: string; o?: number } | undefined;
    try {
      decoded = JSON.parse(Buffer.from(rawToken, 'base64url').toString('utf8'));
    } catch {
      decoded = undefined;
    }
    if (!decoded || decoded.op !== operation || typeof decoded.o !== 'number') {
      throw new AwsError('InvalidParameterValue', `Invalid value '${rawToken}' for nextToken.`);
    }
    start = decoded.o;
  }
  if (rawMax === undefined) return { page: items.slice(start) };
  if (opts.idsGiven) {
    throw new AwsError(
      'InvalidParameterCombination',
      `The parameter ${opts.idsGiven} cannot be used with the parameter maxResults`,
    );
  }
  const n = Number(rawMax);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value ( ${rawMax} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
  const page = items.slice(start, start + n);
  const next = start + n;
  if (next >= items.length) return { page };
  return { page, nextToken: Buffer.from(JSON.stringify({ op: operation, o: next })).toString('base64url') };
}
