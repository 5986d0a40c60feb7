/**
 * What the services know of each other. Each service implements its part; the others use only
 * these views, so a service can be rewritten without touching its neighbours.
 */

export type Tags = Record<string, string>;

export interface SgRuleView {
  /** '-1' for all, or 'tcp' / 'udp' / 'icmp'. */
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIpv4: string[];
  /** Source (ingress) or destination (egress) security groups. */
  groupIds: string[];
}

export interface VpcView {
  vpcId: string;
  region: string;
  cidrBlock: string;
  isDefault: boolean;
  enableDnsSupport: boolean;
  enableDnsHostnames: boolean;
  tags: Tags;
}

export interface SubnetView {
  subnetId: string;
  vpcId: string;
  region: string;
  availabilityZone: string;
  cidrBlock: string;
}

export interface SecurityGroupView {
  groupId: string;
  vpcId: string;
  ingress: SgRuleView[];
  egress: SgRuleView[];
}

export interface EndpointView {
  vpcEndpointId: string;
  vpcId: string;
  region: string;
  serviceName: string;
  /** Computed from virtual time: pendingAcceptance | pending | available | deleting | deleted | failed. */
  state: string;
  /** `available` and past the settling time after it: traffic actually flows. */
  usable: boolean;
  privateDnsEnabled: boolean;
  subnetIds: string[];
  securityGroupIds: string[];
  /** The policy document in force for traffic right now (propagation applied), parsed. */
  effectivePolicy: PolicyDocument;
  /** Private IPs of the endpoint ENIs, one per subnet. */
  privateIps: string[];
  /** The Availability Zone of each subnet (same order as subnetIds and privateIps). */
  availabilityZones: string[];
  /** The policy each zone's ENI enforces for traffic right now: zones propagate on their own. */
  policyByZone: Record<string, PolicyDocument>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface Ec2Model {
  vpc(vpcId: string): VpcView | undefined;
  subnet(subnetId: string): SubnetView | undefined;
  securityGroup(groupId: string): SecurityGroupView | undefined;
  /** Interface endpoints (any state but deleted) in a VPC. */
  interfaceEndpointsInVpc(vpcId: string): EndpointView[];
  /** A route to an internet gateway, or to a NAT gateway that has one. */
  subnetHasInternetPath(subnetId: string): boolean;
  /** Hyperplane ENIs for a function's VpcConfig (one per subnet), requester-managed by Lambda. */
  attachLambdaEnis(fn: {
    functionName: string;
    region: string;
    subnetIds: string[];
    securityGroupIds: string[];
  }): string[];
  /** After DeleteFunction (or a VpcConfig change): ENIs stay in use, then detach, then Lambda deletes them. */
  releaseLambdaEnis(functionName: string): void;
  /** The private IP of a function's hyperplane ENI in a subnet: the source address of its calls. */
  lambdaEniAddress(functionName: string, subnetId: string): string | undefined;
}

export interface RoleView {
  roleName: string;
  roleId: string;
  arn: string;
  path: string;
  /** Virtual epoch ms. */
  createdAt: number;
  assumeRolePolicyDocument: PolicyDocument;
  tags: Tags;
  /** ARN of the role's permissions boundary, if it has one (`iam:PermissionsBoundary`). */
  permissionsBoundaryArn?: string;
}

export interface IamModel {
  /** By name or ARN. */
  role(nameOrArn: string): RoleView | undefined;
  /** Inline and attached managed policies of a role, parsed. */
  identityPolicies(roleName: string): PolicyDocument[];
  /** The role's permissions boundary document, if it has one. */
  permissionsBoundary(roleName: string): PolicyDocument | undefined;
  /** Virtual epoch ms from which Lambda can assume the role (the "cannot be assumed" window). */
  assumableByLambdaAt(roleName: string): number;
}

export interface LambdaInvokeResult {
  statusCode: number;
  /** `Unhandled` when the handler threw. */
  functionError?: string;
  payload: Buffer;
}

export interface LambdaModel {
  invoke(functionNameOrArn: string, payload: Buffer, region: string): Promise<LambdaInvokeResult>;
}

/** The emulated network as seen from a caller: DNS answers and whether a TCP path exists. */
export interface NetworkModel {
  /**
   * What a DNS lookup of `hostname` returns for a caller (inside a VPC or outside).
   * Private DNS of an interface endpoint answers with the endpoint ENIs' private IPs; otherwise
   * AWS public names answer with public addresses. Unknown names: [] (NXDOMAIN).
   */
  resolve(hostname: string, region: string, network?: import('./identity.ts').CallerNetwork): string[];
}
