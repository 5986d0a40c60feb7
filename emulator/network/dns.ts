import type { EmulatorContext } from '../core/context.ts';
import type { CallerNetwork } from '../core/identity.ts';
import type { EndpointView, NetworkModel } from '../core/models.ts';

/** How a name resolved for a caller, with the endpoint whose private DNS answered, if any. */
export type DnsAnswer =
  | { kind: 'nxdomain'; addresses: []; reason: string }
  | { kind: 'public'; addresses: string[]; reason: string }
  | { kind: 'endpoint'; addresses: string[]; endpoint: EndpointView; reason: string };

/** Endpoint states in which the private hosted zone of an endpoint no longer answers. */
const DNS_GONE = new Set(['deleting', 'deleted', 'failed', 'rejected']);

/** Services with a public regional name in every Bedrock region (others: every region). */
const BEDROCK_SERVICES = new Set(['bedrock', 'bedrock-runtime', 'bedrock-agent', 'bedrock-agent-runtime']);

/** A fixed set of public addresses per name, so repeated lookups agree (as with real DNS, mostly). */
export function publicAddresses(hostname: string): string[] {
  let h = 2166136261;
  for (let i = 0; i < hostname.length; i++) h = Math.imul(h ^ hostname.charCodeAt(i), 16777619) >>> 0;
  const firstOctets = [52, 3, 54];
  return firstOctets.map((o, i) => {
    const v = (h >>> (i * 8)) & 0xffff;
    return `${o}.${(v >>> 8) & 0xff}.${v & 0xff}.${(i * 37 + (h & 0x7f)) % 254 || 10}`;
  });
}

/** `<service>.<region>.amazonaws.com` → its parts; anything else is not an AWS regional name. */
export function parseAwsHostname(hostname: string): { service: string; region: string } | undefined {
  const m = /^([a-z0-9-]+)\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com\.?$/.exec(hostname.toLowerCase());
  if (!m) return undefined;
  return { service: m[1]!, region: m[2]! };
}

/**
 * The emulated Route 53 Resolver. Inside a VPC with DNS support and DNS hostnames on, an
 * interface endpoint with private DNS answers for its service's regional name with its ENIs'
 * private IPs; otherwise AWS names answer with public addresses. DNS support off: no resolver.
 */
export class EmulatedDns implements NetworkModel {
  private readonly ctx: EmulatorContext;

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
  }

  resolve(hostname: string, region: string, network?: CallerNetwork): string[] {
    return this.lookup(hostname, region, network).addresses;
  }

  lookup(hostname: string, _region: string, network?: CallerNetwork): DnsAnswer {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    if (network) {
      const vpc = this.ctx.ec2.vpc(network.vpcId);
      if (!vpc) return { kind: 'nxdomain', addresses: [], reason: `VPC ${network.vpcId} does not exist` };
      if (!vpc.enableDnsSupport) {
        return {
          kind: 'nxdomain',
          addresses: [],
          reason: `${vpc.vpcId} has enableDnsSupport off: no Amazon DNS server`,
        };
      }
      const specific = this.endpointSpecificName(name, network.vpcId);
      if (specific) return specific;
    }
    const aws = parseAwsHostname(name);
    if (!aws)
      return { kind: 'nxdomain', addresses: [], reason: `${name} is not a name the emulated DNS knows` };
    if (BEDROCK_SERVICES.has(aws.service) && !this.ctx.isBedrockRegion(aws.region)) {
      return { kind: 'nxdomain', addresses: [], reason: `Bedrock is not offered in ${aws.region}` };
    }
    if (network) {
      const vpc = this.ctx.ec2.vpc(network.vpcId)!;
      const serviceName = `com.amazonaws.${aws.region}.${aws.service}`;
      const endpoint = this.ctx.ec2
        .interfaceEndpointsInVpc(vpc.vpcId)
        .find((e) => e.serviceName === serviceName && e.privateDnsEnabled && !DNS_GONE.has(e.state));
      if (endpoint && vpc.enableDnsHostnames && endpoint.privateIps.some(Boolean)) {
        return {
          kind: 'endpoint',
          addresses: orderForCaller(this.ctx, endpoint, network),
          endpoint,
          reason: `private DNS of ${endpoint.vpcEndpointId} (${endpoint.state}) answers for ${name}`,
        };
      }
      const why = !endpoint
        ? `no interface endpoint for ${serviceName} with private DNS in ${vpc.vpcId}`
        : !vpc.enableDnsHostnames
          ? `${vpc.vpcId} has enableDnsHostnames off, so the private DNS of ${endpoint.vpcEndpointId} does not apply`
          : `${endpoint.vpcEndpointId} has no network interfaces yet`;
      return { kind: 'public', addresses: publicAddresses(name), reason: `${why}: public addresses` };
    }
    return { kind: 'public', addresses: publicAddresses(name), reason: 'outside any VPC: public addresses' };
  }

  /**
   * `vpce-<id>-<suffix>.<service>.<region>.vpce.amazonaws.com` resolves to that endpoint's IPs,
   * private DNS or not; the zonal form `vpce-<id>-<suffix>-<az>...` to the IP in that zone.
   */
  private endpointSpecificName(name: string, vpcId: string): DnsAnswer | undefined {
    const m =
      /^(vpce-[0-9a-f]+)-[a-z0-9]+(?:-([a-z]{2}-[a-z]+-\d[a-z]))?\.[a-z0-9-]+\.[a-z0-9-]+\.vpce\.amazonaws\.com$/.exec(
        name,
      );
    if (!m) return undefined;
    const endpoint = this.ctx.ec2.interfaceEndpointsInVpc(vpcId).find((e) => e.vpcEndpointId === m[1]);
    if (!endpoint || DNS_GONE.has(endpoint.state)) {
      return { kind: 'nxdomain', addresses: [], reason: `no endpoint ${m[1]} answers for ${name}` };
    }
    const zone = m[2];
    let addresses = zone
      ? endpoint.privateIps.filter(
          (_ip, i) => this.ctx.ec2.subnet(endpoint.subnetIds[i] ?? '')?.availabilityZone === zone,
        )
      : endpoint.privateIps.slice();
    addresses = addresses.filter(Boolean);
    if (!addresses.length)
      return { kind: 'nxdomain', addresses: [], reason: `${endpoint.vpcEndpointId} has no ENI in ${zone}` };
    return {
      kind: 'endpoint',
      addresses,
      endpoint,
      reason: `endpoint-specific name of ${endpoint.vpcEndpointId}`,
    };
  }
}

/** Endpoint IPs with the one in the caller's own subnet (or else its AZ) first: the address a client tries. */
function orderForCaller(ctx: EmulatorContext, endpoint: EndpointView, network: CallerNetwork): string[] {
  const ips = endpoint.privateIps.slice();
  const source = network.subnetIds[0];
  if (!source) return ips;
  let idx = endpoint.subnetIds.indexOf(source);
  if (idx < 0) {
    const az = ctx.ec2.subnet(source)?.availabilityZone;
    idx = endpoint.subnetIds.findIndex((s) => az !== undefined && ctx.ec2.subnet(s)?.availabilityZone === az);
  }
  if (idx > 0 && idx < ips.length) {
    const [ip] = ips.splice(idx, 1);
    ips.unshift(ip!);
  }
  // An ENI still being made has no address yet.
  return ips.filter(Boolean);
}
