import { endpointState, eniAttached, routeState } from './lifecycle.ts';
import type {
  Endpoint,
  Eni,
  InternetGateway,
  NatGateway,
  RouteTable,
  SecurityGroup,
  SgRule,
  Subnet,
  Vpc,
} from './state.ts';
import type { Ec2Store } from './store.ts';
import { cidrSize, formatCidr, formatIpv4, stableHex, tagSet, type Zone } from './util.ts';

/**
 * The wire shapes of EC2's responses: each resource as DescribeX returns it (camelCase members
 * that core/query.ts renders as EC2 XML). Reads state, decides nothing.
 */

export function vpcOut(s: Ec2Store, v: Vpc, state = 'available') {
  return {
    vpcId: v.id,
    ownerId: s.accountId,
    instanceTenancy: 'default',
    cidrBlock: formatCidr(v.cidr),
    cidrBlockAssociationSet: [
      {
        associationId: v.cidrAssociationId,
        cidrBlock: formatCidr(v.cidr),
        cidrBlockState: { state: 'associated' },
      },
    ],
    dhcpOptionsId: s.dhcpOptionsId(v.region),
    state,
    isDefault: v.isDefault,
    tagSet: tagSet(v.tags),
  };
}

export function subnetOut(s: Ec2Store, n: Subnet, state = 'available') {
  return {
    subnetId: n.id,
    subnetArn: s.arn(n.region, 'subnet', n.id),
    state,
    vpcId: n.vpcId,
    cidrBlock: formatCidr(n.cidr),
    availableIpAddressCount: cidrSize(n.cidr) - 5 - n.usedIps.size,
    availabilityZone: n.zone.zoneName,
    availabilityZoneId: n.zone.zoneId,
    defaultForAz: n.defaultForAz,
    mapPublicIpOnLaunch: n.mapPublicIpOnLaunch,
    assignIpv6AddressOnCreation: false,
    ipv6CidrBlockAssociationSet: [],
    ownerId: s.accountId,
    tagSet: tagSet(n.tags),
  };
}

export function sgOut(s: Ec2Store, g: SecurityGroup) {
  return {
    ownerId: s.accountId,
    groupName: g.name,
    groupDescription: g.description,
    groupId: g.id,
    securityGroupArn: s.arn(g.region, 'security-group', g.id),
    vpcId: g.vpcId,
    ipPermissions: permissionsOut(
      s,
      g.rules.filter((r) => !r.egress),
    ),
    ipPermissionsEgress: permissionsOut(
      s,
      g.rules.filter((r) => r.egress),
    ),
    tagSet: tagSet(g.tags),
  };
}

/** Rules grouped back into IpPermissions: one per protocol and port range. */
export function permissionsOut(s: Ec2Store, rules: SgRule[]) {
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
      .map((r) => ({ groupId: r.groupId, userId: s.accountId, description: r.description })),
    ipRanges: rs.filter((r) => r.cidr).map((r) => ({ cidrIp: r.cidr, description: r.description })),
    ipv6Ranges: [],
    prefixListIds: [],
  }));
}

/** What a SecurityGroupRule and a RevokedSecurityGroupRule share. */
function ruleCore(g: SecurityGroup, r: SgRule) {
  return {
    securityGroupRuleId: r.ruleId,
    groupId: g.id,
    isEgress: r.egress,
    ipProtocol: r.ipProtocol,
    fromPort: r.fromPort ?? -1,
    toPort: r.toPort ?? -1,
    cidrIpv4: r.cidr,
    description: r.description,
  };
}

export function ruleOut(s: Ec2Store, g: SecurityGroup, r: SgRule) {
  return {
    ...ruleCore(g, r),
    groupOwnerId: s.accountId,
    referencedGroupInfo: r.groupId ? { groupId: r.groupId, userId: s.accountId } : undefined,
    securityGroupRuleArn: s.arn(g.region, 'security-group-rule', r.ruleId),
    tagSet: [],
  };
}

export function revokedRuleOut(g: SecurityGroup, r: SgRule) {
  return { ...ruleCore(g, r), referencedGroupId: r.groupId };
}

export function shortServiceName(e: { serviceName: string; region: string }): string {
  return e.serviceName.slice(`com.amazonaws.${e.region}.`.length);
}

export function endpointOut(s: Ec2Store, e: Endpoint) {
  const short = shortServiceName(e);
  const zone = `${short}.${e.region}.vpce.amazonaws.com`;
  const dns = [
    { dnsName: `${e.id}-${e.dnsSuffix}.${zone}`, hostedZoneId: 'Z7HUB22UULQXV' },
    ...e.subnetIds.map((sid) => ({
      dnsName: `${e.id}-${e.dnsSuffix}-${s.subnets.get(sid)?.zone.zoneName ?? ''}.${zone}`,
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
    state: endpointState(s, e),
    policyDocument: e.policy,
    routeTableIdSet: [],
    subnetIdSet: e.subnetIds,
    groupSet: e.groupIds.map((id) => ({ groupId: id, groupName: s.groups.get(id)?.name })),
    ipAddressType: 'ipv4',
    dnsOptions: { dnsRecordIpType: 'ipv4' },
    privateDnsEnabled: e.privateDnsEnabled,
    requesterManaged: false,
    networkInterfaceIdSet: e.subnetIds.map((id) => e.eniBySubnet.get(id)).filter((x) => x !== undefined),
    dnsEntrySet: dns,
    creationTimestamp: new Date(e.createdAt).toISOString(),
    tagSet: tagSet(e.tags),
    ownerId: s.accountId,
  };
}

export function eniOut(s: Ec2Store, n: Eni) {
  const attached = eniAttached(s, n);
  const ip = formatIpv4(n.privateIp);
  const domain = n.region === 'us-east-1' ? 'ec2.internal' : `${n.region}.compute.internal`;
  const dnsName = `ip-${ip.replaceAll('.', '-')}.${domain}`;
  return {
    networkInterfaceId: n.id,
    subnetId: n.subnetId,
    vpcId: n.vpcId,
    availabilityZone: n.zone.zoneName,
    availabilityZoneId: n.zone.zoneId,
    description: n.description,
    ownerId: s.accountId,
    requesterId: n.requesterId,
    requesterManaged: true,
    status: attached ? 'in-use' : 'available',
    macAddress: n.macAddress,
    privateIpAddress: ip,
    privateDnsName: dnsName,
    sourceDestCheck: true,
    groupSet: n.groupIds.map((id) => ({ groupId: id, groupName: s.groups.get(id)?.name })),
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

export function igwOut(s: Ec2Store, g: InternetGateway) {
  return {
    internetGatewayId: g.id,
    ownerId: s.accountId,
    attachmentSet: g.vpcId ? [{ vpcId: g.vpcId, state: 'available' }] : [],
    tagSet: tagSet(g.tags),
  };
}

export function routeTableOut(s: Ec2Store, t: RouteTable) {
  const association = (id: string, subnetId?: string) => ({
    main: subnetId === undefined,
    routeTableAssociationId: id,
    routeTableId: t.id,
    subnetId,
    associationState: { state: 'associated' },
  });
  const associations = [
    ...(t.main && t.mainAssociationId ? [association(t.mainAssociationId)] : []),
    ...[...t.associations].map(([id, subnetId]) => association(id, subnetId)),
  ];
  return {
    routeTableId: t.id,
    vpcId: t.vpcId,
    ownerId: s.accountId,
    associationSet: associations,
    propagatingVgwSet: [],
    routeSet: t.routes.map((r) => ({
      destinationCidrBlock: r.destination,
      gatewayId: r.gatewayId,
      natGatewayId: r.natGatewayId,
      origin: r.origin,
      state: routeState(s, t, r),
    })),
    tagSet: tagSet(t.tags),
  };
}

export function natOut(n: NatGateway) {
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

export function zoneOut(region: string, z: Zone) {
  return {
    zoneName: z.zoneName,
    zoneId: z.zoneId,
    zoneState: 'available',
    regionName: region,
    optInStatus: 'opt-in-not-required',
    groupName: region,
    networkBorderGroup: region,
    zoneType: 'availability-zone',
    messageSet: [],
  };
}
