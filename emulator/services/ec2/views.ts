import type {
  EndpointView,
  PolicyDocument,
  SecurityGroupView,
  SgRuleView,
  SubnetView,
  VpcView,
} from '../../core/models.ts';
import { effectivePolicy, endpointState } from './lifecycle.ts';
import type { SgRule } from './state.ts';
import type { Ec2Store } from './store.ts';
import { formatCidr, formatIpv4, tagsRecord } from './util.ts';

/**
 * The read-only views other services and the data-plane model get (core/models.ts): plain
 * objects, so `emulator/network/*` never touches EC2's state or classes.
 */

export function vpcView(s: Ec2Store, vpcId: string): VpcView | undefined {
  const v = s.vpcs.get(vpcId);
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

export function subnetView(s: Ec2Store, subnetId: string): SubnetView | undefined {
  const n = s.subnets.get(subnetId);
  if (!n) return undefined;
  return {
    subnetId: n.id,
    vpcId: n.vpcId,
    region: n.region,
    availabilityZone: n.zone.zoneName,
    cidrBlock: formatCidr(n.cidr),
  };
}

export function securityGroupView(s: Ec2Store, groupId: string): SecurityGroupView | undefined {
  const g = s.groups.get(groupId);
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

export function interfaceEndpointViews(s: Ec2Store, vpcId: string): EndpointView[] {
  s.purge();
  const now = s.now();
  return [...s.endpoints.values()]
    .filter((e) => e.vpcId === vpcId && endpointState(s, e) !== 'deleted')
    .map((e) => {
      const state = endpointState(s, e);
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
        effectivePolicy: JSON.parse(effectivePolicy(s, e)) as PolicyDocument,
        privateIps: e.subnetIds.map((id) => {
          const eni = s.enis.get(e.eniBySubnet.get(id) ?? '');
          return eni ? formatIpv4(eni.privateIp) : '';
        }),
        availabilityZones: e.subnetIds.map((id) => s.subnets.get(id)?.zone.zoneName ?? ''),
        policyByZone: Object.fromEntries(
          e.subnetIds.map((id) => {
            const zone = s.subnets.get(id)?.zone.zoneName ?? '';
            return [zone, JSON.parse(effectivePolicy(s, e, zone)) as PolicyDocument];
          }),
        ),
      };
    });
}

export function lambdaEniAddress(s: Ec2Store, functionName: string, subnetId: string): string | undefined {
  for (const n of s.enis.values()) {
    if (
      n.kind === 'lambda' &&
      n.owner === functionName &&
      n.subnetId === subnetId &&
      n.detachAt === undefined
    ) {
      return formatIpv4(n.privateIp);
    }
  }
  return undefined;
}
