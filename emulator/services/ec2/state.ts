import type { Cidr, TagMap, Zone } from './util.ts';

/** The EC2 resources the emulator keeps, in its own terms; ec2.ts renders them in AWS's XML shapes. */

export interface Resource {
  id: string;
  region: string;
  tags: TagMap;
  /** Virtual epoch ms. */
  createdAt: number;
  /** Describe-by-id answers NotFound before this (eventual consistency after Create*). */
  visibleAt: number;
  /** Made by AWS for you (default VPC and its parts, main route tables, default groups). */
  builtIn: boolean;
}

export interface Vpc extends Resource {
  cidr: Cidr;
  cidrAssociationId: string;
  isDefault: boolean;
  enableDnsSupport: boolean;
  enableDnsHostnames: boolean;
  enableNetworkAddressUsageMetrics: boolean;
  mainRouteTableId: string;
  defaultGroupId: string;
}

export interface Subnet extends Resource {
  vpcId: string;
  zone: Zone;
  cidr: Cidr;
  defaultForAz: boolean;
  mapPublicIpOnLaunch: boolean;
  /** Host addresses handed out to ENIs. */
  usedIps: Set<number>;
}

export interface SgRule {
  ruleId: string;
  egress: boolean;
  /** '-1', 'tcp', 'udp', 'icmp' or a protocol number. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidr?: string;
  groupId?: string;
  description?: string;
}

export interface SecurityGroup extends Resource {
  vpcId: string;
  name: string;
  description: string;
  isDefault: boolean;
  rules: SgRule[];
}

export interface PolicyVersion {
  document: string;
  /** Virtual ms from which traffic sees it; Infinity when the world never applies it. */
  effectiveAt: number;
  /** Availability Zones whose endpoint ENIs enforce this version (absent: every zone). */
  zones?: string[];
  /** Extra propagation per Availability Zone, ms after effectiveAt (absent: none). */
  zoneLagMs?: Record<string, number>;
}

export interface Endpoint extends Resource {
  vpcId: string;
  serviceName: string;
  subnetIds: string[];
  groupIds: string[];
  privateDnsEnabled: boolean;
  /** What DescribeVpcEndpoints shows: the last document set. */
  policy: string;
  versions: PolicyVersion[];
  availableAt: number;
  usableAt: number;
  /** DeleteVpcEndpoints: `deleting` until goneAt. */
  deleteRequestedAt?: number;
  goneAt?: number;
  /** A client has been shown `pending` / `deleting` (see LatencyProfile.showsEveryState). */
  shownPending?: boolean;
  shownDeleting?: boolean;
  clientToken?: string;
  requestFingerprint: string;
  dnsSuffix: string;
  /** subnet id → ENI id. */
  eniBySubnet: Map<string, string>;
}

export type EniKind = 'vpc_endpoint' | 'lambda' | 'nat_gateway';

export interface Eni extends Resource {
  kind: EniKind;
  /** Endpoint id, NAT gateway id, or function name. */
  owner: string;
  subnetId: string;
  vpcId: string;
  zone: Zone;
  privateIp: number;
  description: string;
  groupIds: string[];
  macAddress: string;
  attachmentId: string;
  requesterId: string;
  /** Lambda ENIs after release: in-use until detachAt, then available until Lambda deletes them at deleteAt. */
  detachAt?: number;
  deleteAt?: number;
  /** After release, a client has been shown the ENI still `in-use`. */
  shownInUseAfterRelease?: boolean;
}

export interface InternetGateway extends Resource {
  vpcId?: string;
}

export interface Route {
  destination: string;
  gatewayId?: string;
  natGatewayId?: string;
  origin: 'CreateRouteTable' | 'CreateRoute';
}

export interface RouteTable extends Resource {
  vpcId: string;
  main: boolean;
  mainAssociationId?: string;
  routes: Route[];
  /** association id → subnet id. */
  associations: Map<string, string>;
}

export interface NatGateway extends Resource {
  vpcId: string;
  subnetId: string;
  connectivityType: 'public' | 'private';
  state: 'pending' | 'available' | 'failed' | 'deleting' | 'deleted';
  privateIp: string;
  publicIp?: string;
  eniId?: string;
  allocationId?: string;
  failureCode?: string;
  failureMessage?: string;
  deletedAt?: number;
  clientToken?: string;
  requestFingerprint: string;
}
