import { AwsError } from '../../core/errors.ts';
import { subnetOut } from './responses.ts';
import type { Subnet, Vpc } from './state.ts';
import { dependencyViolation, type Ec2Operations, type Ec2Store } from './store.ts';
import {
  type Cidr,
  cidrContains,
  cidrParam,
  cidrsOverlap,
  str,
  type TagMap,
  tagsFromSpecifications,
  type Zone,
} from './util.ts';

/** Subnets: one zone, a CIDR inside the VPC's, addresses handed to ENIs. */

export function newSubnet(
  s: Ec2Store,
  region: string,
  vpc: Vpc,
  zone: Zone,
  cidr: Cidr,
  tags: TagMap,
  builtIn: boolean,
): Subnet {
  const sub: Subnet = {
    ...s.base(region, tags, builtIn),
    id: s.newId('subnet'),
    vpcId: vpc.id,
    zone,
    cidr,
    defaultForAz: false,
    mapPublicIpOnLaunch: false,
    usedIps: new Set(),
  };
  s.subnets.set(sub.id, sub);
  return sub;
}

export function subnetOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateSubnet(input, region) {
      const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
      const cidr = cidrParam(input, 'CidrBlock', 'cidrBlock');
      const text = str(input.CidrBlock);
      if (cidr.prefix < 16 || cidr.prefix > 28 || !cidrContains(vpc.cidr, cidr)) {
        throw new AwsError('InvalidSubnet.Range', `The CIDR '${text}' is invalid.`);
      }
      if (s.inRegion(s.subnets, region).some((x) => x.vpcId === vpc.id && cidrsOverlap(x.cidr, cidr))) {
        throw new AwsError('InvalidSubnet.Conflict', `The CIDR '${text}' conflicts with another subnet`);
      }
      const zone = s.zoneOf(region, str(input.AvailabilityZone), str(input.AvailabilityZoneId));
      const tags = tagsFromSpecifications(input, 'subnet');
      return { subnet: subnetOut(s, newSubnet(s, region, vpc, zone, cidr, tags, false), 'pending') };
    },

    DeleteSubnet(input, region) {
      const sub = s.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
      const blocked = [...s.enis.values()].some((n) => n.subnetId === sub.id);
      if (blocked || s.ctx.faults.take('dependency-violation', 'ec2', 'DeleteSubnet')) {
        throw dependencyViolation('subnet', sub.id);
      }
      for (const t of s.routeTables.values()) {
        for (const [assoc, subnetId] of t.associations) if (subnetId === sub.id) t.associations.delete(assoc);
      }
      s.subnets.delete(sub.id);
      return {};
    },
  };
}
