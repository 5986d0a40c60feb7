/**
 * Reading the run's own resources back from AWS: the endpoint (its policy, ENIs and DNS names),
 * the route tables of the run's VPC, and the probe role's policies. Each proof obligation compares
 * what was read with what the run wrote; a read that AWS does not answer (throttled, 5xx, timed
 * out) is "could not verify", never a pass or a perimeter failure.
 */
import {
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  type ListAttachedRolePoliciesCommandOutput,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import type { ObligationId, Observation } from '../../statemachine/contract.ts';
import { client } from './clients.ts';
import { errorCode, isNotFound, isTransient } from './outcomes.ts';
import { waitUntil } from './waiter.ts';

/**
 * Read one of the run's own resources, believing a NotFound only when it persists: IAM and EC2
 * are eventually consistent, so a role or endpoint this run created may be briefly invisible to a
 * read (IAM User Guide, "Troubleshoot IAM: changes that I make are not always immediately
 * visible"; EC2 API reference, "Eventual consistency in the Amazon EC2 API"). A NotFound that lasts
 * past the short window is the answer and is thrown to the caller.
 */
async function readOwn<T>(what: string, read: () => Promise<T>): Promise<T> {
  const r = await waitUntil({
    what,
    poll: read,
    done: () => true,
    timeoutMs: 15_000,
    minDelayMs: 1_000,
    maxDelayMs: 5_000,
    retryOn: isNotFound,
  });
  if (!r.satisfied) throw r.lastError;
  return r.value as T;
}

export interface EndpointEni {
  networkInterfaceId: string;
  availabilityZone: string;
  subnetId: string;
  privateIp: string;
}

export interface EndpointReading {
  vpcEndpointId: string;
  state: string;
  policyDocument?: string;
  enis: EndpointEni[];
  /** DnsEntries: the regional name first, then one zonal name per AZ. */
  dnsNames: string[];
}

export async function readEndpoint(region: string, vpcEndpointId: string): Promise<EndpointReading> {
  const ec2 = client(EC2Client, region);
  const r = await readOwn(`endpoint ${vpcEndpointId}`, () =>
    ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [vpcEndpointId] })),
  );
  const e = r.VpcEndpoints?.[0];
  if (!e)
    throw Object.assign(new Error(`${vpcEndpointId} was not returned`), { name: 'EndpointNotReturned' });
  const eniIds = e.NetworkInterfaceIds ?? [];
  const enis: EndpointEni[] = [];
  if (eniIds.length > 0) {
    const n = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: eniIds }));
    for (const ni of n.NetworkInterfaces ?? []) {
      enis.push({
        networkInterfaceId: ni.NetworkInterfaceId ?? '',
        availabilityZone: ni.AvailabilityZone ?? '',
        subnetId: ni.SubnetId ?? '',
        privateIp: ni.PrivateIpAddress ?? '',
      });
    }
  }
  enis.sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone));
  return {
    vpcEndpointId,
    state: e.State ?? 'unknown',
    ...(e.PolicyDocument !== undefined ? { policyDocument: e.PolicyDocument } : {}),
    enis,
    dnsNames: (e.DnsEntries ?? []).map((d) => d.DnsName ?? '').filter(Boolean),
  };
}

/** A route that leaves the VPC, in words: anything but `local` (and gateway endpoints' prefix lists). */
export interface EgressRoute {
  routeTableId: string;
  destination: string;
  target: string;
}

export async function readEgressRoutes(
  region: string,
  vpcId: string,
): Promise<{ routeTableIds: string[]; egress: EgressRoute[] }> {
  const r = await client(EC2Client, region).send(
    new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  const egress: EgressRoute[] = [];
  const routeTableIds: string[] = [];
  for (const t of r.RouteTables ?? []) {
    routeTableIds.push(t.RouteTableId ?? '');
    for (const route of t.Routes ?? []) {
      // Targets that carry packets out of the VPC (EC2 API reference, Route): internet, NAT,
      // transit and virtual private gateways, peering, egress-only IGW, appliances and carriers.
      const target =
        (route.GatewayId && route.GatewayId !== 'local' && !route.GatewayId.startsWith('vpce-')
          ? route.GatewayId
          : undefined) ??
        route.NatGatewayId ??
        route.TransitGatewayId ??
        route.VpcPeeringConnectionId ??
        route.EgressOnlyInternetGatewayId ??
        route.InstanceId ??
        route.NetworkInterfaceId ??
        route.CarrierGatewayId ??
        route.LocalGatewayId ??
        route.CoreNetworkArn;
      if (!target) continue;
      egress.push({
        routeTableId: t.RouteTableId ?? '',
        destination:
          route.DestinationCidrBlock ??
          route.DestinationIpv6CidrBlock ??
          route.DestinationPrefixListId ??
          '?',
        target,
      });
    }
  }
  return { routeTableIds, egress };
}

export interface RoleReading {
  roleArn: string;
  permissionsBoundaryArn?: string;
  inline: { name: string; document: string }[];
  attached: string[];
}

export async function readRole(region: string, roleName: string): Promise<RoleReading> {
  const iam = client(IAMClient, region);
  const role = (await readOwn(`role ${roleName}`, () => iam.send(new GetRoleCommand({ RoleName: roleName }))))
    .Role;
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    names.push(...(page.PolicyNames ?? []));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  const inline: RoleReading['inline'] = [];
  for (const name of names) {
    const p = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
    // IAM returns the document URL-encoded (GetRolePolicy API reference).
    inline.push({ name, document: decodeURIComponent(p.PolicyDocument ?? '') });
  }
  const attached: string[] = [];
  marker = undefined;
  do {
    const page: ListAttachedRolePoliciesCommandOutput = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }),
    );
    attached.push(...(page.AttachedPolicies ?? []).map((a) => a.PolicyArn ?? ''));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return {
    roleArn: role?.Arn ?? '',
    ...(role?.PermissionsBoundary?.PermissionsBoundaryArn
      ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn }
      : {}),
    inline,
    attached: attached.sort(),
  };
}

/**
 * Run a read-back; when AWS does not answer (throttled, 5xx, timeout, after the SDK's retries),
 * say which obligation could not be observed and why instead of failing the task.
 */
export async function readOr<T>(
  obligation: ObligationId,
  what: string,
  read: () => Promise<T>,
): Promise<{ value: T } | { unobserved: Observation }> {
  try {
    return { value: await read() };
  } catch (err) {
    const why = `${errorCode(err)}: ${(err as Error).message}`;
    return {
      unobserved: {
        obligation,
        result: 'could-not-verify',
        observed: `${what} could not be read${isTransient(err) ? ' (AWS did not answer)' : ''}`,
        evidence: [why],
      },
    };
  }
}
