import { AwsError } from '../../core/errors.ts';
import { igwOut, natOut, routeTableOut } from './responses.ts';
import type { InternetGateway, NatGateway, RouteTable, Subnet, Vpc } from './state.ts';
import { dependencyViolation, type Ec2Operations, type Ec2Store } from './store.ts';
import {
  cidrParam,
  formatCidr,
  formatIpv4,
  idempotent,
  isIdOf,
  str,
  tagsFromSpecifications,
} from './util.ts';

/**
 * Internet gateways, route tables and NAT gateways: just enough to say whether a subnet can reach
 * the internet (the product proves it cannot).
 */

export function explicitTableOf(s: Ec2Store, subnetId: string): RouteTable | undefined {
  for (const t of s.routeTables.values()) {
    for (const sub of t.associations.values()) if (sub === subnetId) return t;
  }
  return undefined;
}

/** A route to an internet gateway, or to a public NAT gateway in a subnet that has one. */
export function subnetHasInternetPath(s: Ec2Store, subnetId: string, seen = new Set<string>()): boolean {
  const sub = s.subnets.get(subnetId);
  if (!sub || seen.has(subnetId)) return false;
  seen.add(subnetId);
  const vpc = s.vpcs.get(sub.vpcId);
  if (!vpc) return false;
  const table = explicitTableOf(s, sub.id) ?? s.routeTables.get(vpc.mainRouteTableId);
  const route = table?.routes.find((r) => r.destination === '0.0.0.0/0');
  if (!route) return false;
  if (route.gatewayId) return s.igws.get(route.gatewayId)?.vpcId === sub.vpcId;
  if (!route.natGatewayId) return false;
  const nat = s.nats.get(route.natGatewayId);
  return (
    nat !== undefined &&
    nat.state === 'available' &&
    nat.connectivityType === 'public' &&
    subnetHasInternetPath(s, nat.subnetId, seen)
  );
}

function differentNetworks(a: string, b: string): AwsError {
  return new AwsError('InvalidParameterValue', `route table ${a} and ${b} belong to different networks`);
}

function internetGatewayOperations(s: Ec2Store): Ec2Operations {
  const igwAndVpc = (input: Record<string, any>, region: string) => ({
    g: s.find<InternetGateway>('igw', str(input.InternetGatewayId), region, 'InternetGatewayId'),
    vpc: s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId'),
  });
  return {
    CreateInternetGateway(input, region) {
      const tags = tagsFromSpecifications(input, 'internet-gateway');
      const g: InternetGateway = { ...s.base(region, tags), id: s.newId('igw') };
      s.igws.set(g.id, g);
      return { internetGateway: igwOut(s, g) };
    },
    AttachInternetGateway(input, region) {
      const { g, vpc } = igwAndVpc(input, region);
      if (g.vpcId) {
        throw new AwsError(
          'Resource.AlreadyAssociated',
          `resource ${g.id} is already attached to network ${g.vpcId}`,
        );
      }
      if (s.inRegion(s.igws, region).some((x) => x.vpcId === vpc.id)) {
        throw new AwsError(
          'Resource.AlreadyAssociated',
          `resource ${vpc.id} already has an internet gateway attached`,
        );
      }
      g.vpcId = vpc.id;
      return {};
    },
    DetachInternetGateway(input, region) {
      const { g, vpc } = igwAndVpc(input, region);
      if (g.vpcId !== vpc.id)
        throw new AwsError('Gateway.NotAttached', `resource ${g.id} is not attached to network ${vpc.id}`);
      const mapped = s
        .inRegion(s.nats, region)
        .some((n) => n.vpcId === vpc.id && n.connectivityType === 'public' && n.state === 'available');
      if (mapped) {
        throw new AwsError(
          'DependencyViolation',
          `Network ${vpc.id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
        );
      }
      g.vpcId = undefined;
      return {};
    },
    DeleteInternetGateway(input, region) {
      const g = s.find<InternetGateway>('igw', str(input.InternetGatewayId), region, 'InternetGatewayId');
      if (g.vpcId || s.ctx.faults.take('dependency-violation', 'ec2', 'DeleteInternetGateway')) {
        throw dependencyViolation('internetGateway', g.id);
      }
      s.igws.delete(g.id);
      return {};
    },
  };
}

function routeTableOperations(s: Ec2Store): Ec2Operations {
  const table = (input: Record<string, any>, region: string) =>
    s.find<RouteTable>('rtb', str(input.RouteTableId), region, 'RouteTableId');
  return {
    CreateRouteTable(input, region) {
      const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
      const tags = tagsFromSpecifications(input, 'route-table');
      const t: RouteTable = {
        ...s.base(region, tags),
        id: s.newId('rtb'),
        vpcId: vpc.id,
        main: false,
        routes: [{ destination: formatCidr(vpc.cidr), gatewayId: 'local', origin: 'CreateRouteTable' }],
        associations: new Map(),
      };
      s.routeTables.set(t.id, t);
      return { routeTable: routeTableOut(s, t), clientToken: str(input.ClientToken) };
    },
    CreateRoute(input, region) {
      const t = table(input, region);
      const destination = formatCidr(cidrParam(input, 'DestinationCidrBlock', 'destinationCidrBlock'));
      if (t.routes.some((r) => r.destination === destination)) {
        throw new AwsError('RouteAlreadyExists', `The route identified by ${destination} already exists.`);
      }
      const gatewayId = str(input.GatewayId);
      const natGatewayId = str(input.NatGatewayId);
      if (gatewayId) {
        const g = isIdOf('igw', gatewayId) ? s.igws.get(gatewayId) : undefined;
        if (!g || g.region !== region)
          throw new AwsError('InvalidGatewayID.NotFound', `The gateway ID '${gatewayId}' does not exist`);
        if (g.vpcId !== t.vpcId) throw differentNetworks(t.id, `network gateway ${g.id}`);
        t.routes.push({ destination, gatewayId, origin: 'CreateRoute' });
      } else if (natGatewayId) {
        const n = s.find<NatGateway>('nat', natGatewayId, region, 'NatGatewayId');
        if (n.vpcId !== t.vpcId) throw differentNetworks(t.id, `NAT gateway ${n.id}`);
        t.routes.push({ destination, natGatewayId, origin: 'CreateRoute' });
      } else {
        throw new AwsError(
          'InvalidParameterCombination',
          'The request must contain exactly one of gatewayId, natGatewayId',
        );
      }
      return { return: true };
    },
    AssociateRouteTable(input, region) {
      const t = table(input, region);
      const sub = s.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
      if (sub.vpcId !== t.vpcId) {
        throw new AwsError(
          'InvalidParameterValue',
          `Route table ${t.id} and subnet ${sub.id} belong to different networks`,
        );
      }
      const existing = explicitTableOf(s, sub.id);
      if (existing) {
        throw new AwsError(
          'Resource.AlreadyAssociated',
          `the specified association for route table ${existing.id} conflicts with an existing association`,
        );
      }
      const associationId = s.newId('rtbassoc');
      t.associations.set(associationId, sub.id);
      return { associationId, associationState: { state: 'associated' } };
    },
    DisassociateRouteTable(input, region) {
      const associationId = str(input.AssociationId);
      if (!associationId)
        throw new AwsError('MissingParameter', 'The request must contain the parameter associationId');
      for (const t of s.inRegion(s.routeTables, region)) {
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
    },
    DeleteRouteTable(input, region) {
      const t = table(input, region);
      if (t.main || t.associations.size > 0) throw dependencyViolation('routeTable', t.id);
      s.routeTables.delete(t.id);
      return {};
    },
  };
}

function natGatewayOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateNatGateway(input, region) {
      const { clientToken, fingerprint, prior } = idempotent(s.inRegion(s.nats, region), input);
      if (prior) return { natGateway: natOut(prior), clientToken };
      const sub = s.find<Subnet>('subnet', str(input.SubnetId), region, 'SubnetId');
      const connectivityType = (str(input.ConnectivityType) ?? 'public') as NatGateway['connectivityType'];
      if (connectivityType !== 'public' && connectivityType !== 'private') {
        throw new AwsError(
          'InvalidParameterValue',
          `Value (${connectivityType}) for parameter connectivityType is invalid.`,
        );
      }
      const tags = tagsFromSpecifications(input, 'natgateway');
      const n: NatGateway = {
        ...s.base(region, tags),
        id: s.newId('nat'),
        vpcId: sub.vpcId,
        subnetId: sub.id,
        connectivityType,
        state: 'available',
        privateIp: '',
        allocationId: str(input.AllocationId),
        clientToken,
        requestFingerprint: fingerprint,
      };
      // A public NAT gateway in a VPC without an internet gateway fails, as on AWS.
      if (connectivityType === 'public' && !s.inRegion(s.igws, region).some((g) => g.vpcId === sub.vpcId)) {
        n.state = 'failed';
        n.failureCode = 'Gateway.NotAttached';
        n.failureMessage = `Network ${sub.vpcId} has no Internet gateway attached`;
      } else {
        const eni = s.newEni(region, sub, 'nat_gateway', n.id, `Interface for NAT Gateway ${n.id}`, []);
        n.eniId = eni.id;
        n.privateIp = formatIpv4(eni.privateIp);
        const ip = eni.privateIp;
        if (connectivityType === 'public')
          n.publicIp = `3.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
      }
      s.nats.set(n.id, n);
      return { natGateway: natOut(n), clientToken };
    },
    DeleteNatGateway(input, region) {
      const n = s.find<NatGateway>('nat', str(input.NatGatewayId), region, 'NatGatewayId');
      if (n.state !== 'deleted') {
        n.state = 'deleted';
        n.deletedAt = s.now();
        s.deleteEni(n.eniId);
      }
      return { natGatewayId: n.id };
    },
  };
}

export function gatewayOperations(s: Ec2Store): Ec2Operations {
  return { ...internetGatewayOperations(s), ...routeTableOperations(s), ...natGatewayOperations(s) };
}
