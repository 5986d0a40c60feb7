import { decide } from '../auth/policies.ts';
import type { EmulatorContext } from '../core/context.ts';
import type { Caller } from '../core/identity.ts';
import type { EndpointView, SecurityGroupView, SgRuleView } from '../core/models.ts';
import { type ModelTarget, resolveModelTarget } from './catalog.ts';
import { cidrContainsIp, cidrCovers } from './cidr.ts';
import { EmulatedDns } from './dns.ts';
import { accessDeniedMessage, type PolicyDecision } from './policy.ts';

/**
 * The hop-by-hop story of one call to Bedrock: DNS → route → endpoint → security groups →
 * endpoint policy → identity policy → model → model access. Pure with respect to the emulator's
 * state (it reads, never writes), so tests and the product's evidence can show why a call
 * succeeded, timed out or was refused.
 */

export type HopName =
  | 'dns'
  | 'route'
  | 'endpoint'
  | 'security-groups'
  | 'endpoint-policy'
  | 'identity-policy'
  | 'model'
  | 'model-access';

export interface PathHop {
  hop: HopName;
  ok: boolean;
  detail: string;
}

export type PathOutcome =
  /** The request is answered. */
  | 'allowed'
  /** The name did not resolve: the client fails before connecting (ENOTFOUND). */
  | 'dns-failure'
  /** Packets go nowhere: the client's own timeout ends the call. */
  | 'black-hole'
  /** IAM refused (endpoint or identity policy). */
  | 'access-denied'
  | 'invalid-model'
  | 'model-access-missing';

export interface PathDecision {
  outcome: PathOutcome;
  hops: PathHop[];
  /** The hop that decided the outcome (the last one evaluated). */
  decidedBy: HopName;
  hostname: string;
  addresses: string[];
  /** The address the client connects to. */
  address?: string;
  via: 'endpoint' | 'public' | 'none';
  vpcEndpointId?: string;
  /** The Availability Zone of the endpoint ENI the call went to. */
  zone?: string;
  /** The AWS error the caller receives, for refusals. */
  error?: { code: string; message: string; status: number };
}

export interface PathRequest {
  /** `bedrock-runtime` (data plane) or `bedrock` (control plane). */
  endpointService: 'bedrock-runtime' | 'bedrock';
  action: string;
  /** Every resource the action is authorized against; all must be allowed. */
  resources: string[];
  /**
   * The name the client connected to (the request's Host): the service's regional name by
   * default, or an endpoint-specific (regional or zonal) `vpce-….vpce.amazonaws.com` name.
   */
  hostname?: string;
}

interface NetworkLeg {
  hops: PathHop[];
  hostname: string;
  addresses: string[];
  address?: string;
  via: 'endpoint' | 'public' | 'none';
  endpoint?: EndpointView;
  /** The zone of the endpoint ENI connected to: its policy state is the one enforced. */
  zone?: string;
  /** Set when the network already decided (no DNS answer, black hole). */
  stop?: 'dns-failure' | 'black-hole';
}

function allows443(r: SgRuleView): boolean {
  const proto = r.ipProtocol.toLowerCase();
  if (proto === '-1' || proto === 'all') return true;
  if (proto !== 'tcp' && proto !== '6') return false;
  return (r.fromPort ?? 0) <= 443 && 443 <= (r.toPort ?? 65535);
}

function groups(ctx: EmulatorContext, ids: string[]): SecurityGroupView[] {
  return ids.flatMap((id) => {
    const g = ctx.ec2.securityGroup(id);
    return g ? [g] : [];
  });
}

/** DNS, route, endpoint state and security groups: whether a TLS connection to the service forms at all. */
export function traceNetwork(
  ctx: EmulatorContext,
  caller: Caller,
  region: string,
  endpointService: string,
  requestedHost?: string,
): NetworkLeg {
  const hostname = requestedHost ?? `${endpointService}.${region}.amazonaws.com`;
  const hops: PathHop[] = [];
  const answer = new EmulatedDns(ctx).lookup(hostname, region, caller.network);
  if (answer.kind === 'nxdomain') {
    hops.push({ hop: 'dns', ok: false, detail: `${hostname}: no answer (${answer.reason})` });
    return { hops, hostname, addresses: [], via: 'none', stop: 'dns-failure' };
  }
  const address = answer.addresses[0]!;
  hops.push({
    hop: 'dns',
    ok: true,
    detail: `${hostname} → ${answer.addresses.join(', ')} (${answer.reason})`,
  });
  const leg: NetworkLeg = { hops, hostname, addresses: answer.addresses, address, via: answer.kind };
  const network = caller.network;
  // The call leaves from the ENI in the caller's first subnet: one deterministic source, not a random pick.
  const sourceSubnetId = network?.subnetIds[0];

  if (answer.kind === 'public') {
    if (!network) {
      hops.push({ hop: 'route', ok: true, detail: 'caller is outside any VPC: reaches the public endpoint' });
      return leg;
    }
    if (sourceSubnetId && ctx.ec2.subnetHasInternetPath(sourceSubnetId)) {
      hops.push({
        hop: 'route',
        ok: true,
        detail: `${sourceSubnetId} routes to the internet: the request reaches ${address} without aws:SourceVpce`,
      });
      return leg;
    }
    hops.push({
      hop: 'route',
      ok: false,
      detail: `${sourceSubnetId ?? 'the caller subnet'} has no internet or NAT route: packets to public ${address} are dropped`,
    });
    return { ...leg, stop: 'black-hole' };
  }

  const endpoint = answer.endpoint;
  leg.endpoint = endpoint;
  // The ENI behind the address the client connects to, and so the zone whose state it enforces.
  const zone = endpoint.availabilityZones[endpoint.privateIps.indexOf(address)];
  if (zone) leg.zone = zone;
  if (endpoint.state !== 'available' || !endpoint.usable) {
    const why =
      endpoint.state !== 'available' ? `is ${endpoint.state}` : 'is available but not yet carrying traffic';
    hops.push({
      hop: 'endpoint',
      ok: false,
      detail: `${endpoint.vpcEndpointId} ${why}: connections to ${address} hang`,
    });
    return { ...leg, stop: 'black-hole' };
  }
  hops.push({
    hop: 'endpoint',
    ok: true,
    detail: `${endpoint.vpcEndpointId} is available and carries traffic${zone ? ` (its ENI in ${zone}, ${address})` : ''}`,
  });

  const workloadIds = network?.securityGroupIds ?? [];
  const workload = groups(ctx, workloadIds);
  const endpointGroups = groups(ctx, endpoint.securityGroupIds);
  const egress = workload.find((g) =>
    g.egress.some(
      (r) =>
        allows443(r) &&
        (r.cidrIpv4.some((c) => cidrContainsIp(c, address)) ||
          r.groupIds.some((id) => endpoint.securityGroupIds.includes(id))),
    ),
  );
  if (!egress) {
    hops.push({
      hop: 'security-groups',
      ok: false,
      detail: `no workload security group (${workloadIds.join(', ') || 'none'}) allows egress tcp/443 to ${address} or to the endpoint's groups`,
    });
    return { ...leg, stop: 'black-hole' };
  }
  // A CIDR rule matches the packet's source address (AWS-FACTS: a /32 of the caller's ENI works):
  // a function's own ENI in its subnet; for a caller with no ENI of its own, the whole subnet.
  const subnetCidr = sourceSubnetId ? ctx.ec2.subnet(sourceSubnetId)?.cidrBlock : undefined;
  const sourceIp =
    caller.functionName && sourceSubnetId
      ? ctx.ec2.lambdaEniAddress(caller.functionName, sourceSubnetId)
      : undefined;
  const admitsSource = (c: string) =>
    sourceIp !== undefined
      ? cidrContainsIp(c, sourceIp)
      : subnetCidr !== undefined && cidrCovers(c, subnetCidr);
  const ingress = endpointGroups.find((g) =>
    g.ingress.some(
      (r) =>
        allows443(r) && (r.groupIds.some((id) => workloadIds.includes(id)) || r.cidrIpv4.some(admitsSource)),
    ),
  );
  if (!ingress) {
    hops.push({
      hop: 'security-groups',
      ok: false,
      detail: `no endpoint security group (${endpoint.securityGroupIds.join(', ') || 'none'}) allows ingress tcp/443 from ${workloadIds.join(', ') || 'the workload'} or ${sourceIp ?? subnetCidr ?? 'its subnet'}`,
    });
    return { ...leg, stop: 'black-hole' };
  }
  hops.push({
    hop: 'security-groups',
    ok: true,
    detail: `${egress.groupId} allows egress tcp/443 and ${ingress.groupId} admits it on the endpoint`,
  });
  return leg;
}

/** Network, then both policies, for any action of Bedrock. */
export async function explainPath(
  ctx: EmulatorContext,
  caller: Caller,
  region: string,
  req: PathRequest,
): Promise<PathDecision> {
  const leg = traceNetwork(ctx, caller, region, req.endpointService, req.hostname);
  const base = {
    hops: leg.hops,
    hostname: leg.hostname,
    addresses: leg.addresses,
    via: leg.via,
    ...(leg.address ? { address: leg.address } : {}),
    ...(leg.endpoint ? { vpcEndpointId: leg.endpoint.vpcEndpointId } : {}),
    ...(leg.zone ? { zone: leg.zone } : {}),
  };
  // The policy the ENI that carries the call enforces now (each zone propagates on its own).
  const endpointPolicy = leg.endpoint
    ? ((leg.zone ? leg.endpoint.policyByZone[leg.zone] : undefined) ?? leg.endpoint.effectivePolicy)
    : undefined;
  const last = () => leg.hops[leg.hops.length - 1]!.hop;
  if (leg.stop) return { ...base, outcome: leg.stop, decidedBy: last() };

  const context: Record<string, string | string[]> = {
    'aws:PrincipalArn': caller.principalArn,
    'aws:PrincipalAccount': ctx.accountId,
    'aws:RequestedRegion': region,
  };
  if (leg.endpoint) {
    // Only requests that crossed an endpoint carry these keys (AWS-FACTS).
    context['aws:SourceVpce'] = leg.endpoint.vpcEndpointId;
    context['aws:SourceVpc'] = leg.endpoint.vpcId;
  }
  for (const resourceArn of req.resources) {
    // Identity policies, permissions boundary and SCPs, gathered where every other call's are.
    const decision: PolicyDecision = await decide(ctx, caller, {
      action: req.action,
      resourceArn,
      context,
      endpointPolicy,
    });
    if (decision.allowed) continue;
    const hop: HopName = decision.kind === 'vpc-endpoint' ? 'endpoint-policy' : 'identity-policy';
    if (hop === 'identity-policy' && leg.endpoint) {
      leg.hops.push({
        hop: 'endpoint-policy',
        ok: true,
        detail: `the policy of ${leg.endpoint.vpcEndpointId} allows ${req.action}`,
      });
    }
    const message = accessDeniedMessage(caller.sessionArn, req.action, resourceArn, decision);
    const which = decision.explicit
      ? `explicit deny${decision.statement ? ` (${decision.statement})` : ''}`
      : 'no allow';
    leg.hops.push({ hop, ok: false, detail: `${which} for ${req.action} on ${resourceArn}` });
    return {
      ...base,
      outcome: 'access-denied',
      decidedBy: hop,
      error: { code: 'AccessDeniedException', message, status: 403 },
    };
  }
  if (leg.endpoint) {
    leg.hops.push({
      hop: 'endpoint-policy',
      ok: true,
      detail: `the policy of ${leg.endpoint.vpcEndpointId}${leg.zone ? ` in force in ${leg.zone}` : ''} allows ${req.action} on ${req.resources.join(', ')}`,
    });
  }
  leg.hops.push({
    hop: 'identity-policy',
    ok: true,
    detail: caller.isAdmin
      ? 'account administrator: implicit allow'
      : `identity policies of ${caller.roleName ?? caller.principalArn} allow ${req.action}`,
  });
  return { ...base, outcome: 'allowed', decidedBy: 'identity-policy' };
}

/**
 * The whole path of a runtime call for a model id, profile id or ARN, authorized as `action`:
 * bedrock:InvokeModel (InvokeModel, Converse) by default; the streaming calls and CountTokens
 * pass their own action, so a policy allowing only InvokeModel refuses them on the same hops.
 */
export async function explainBedrockPath(
  ctx: EmulatorContext,
  caller: Caller,
  region: string,
  modelId: string,
  hostname?: string,
  action = 'bedrock:InvokeModel',
): Promise<PathDecision & { target: ModelTarget }> {
  const target = resolveModelTarget(modelId, region, ctx.accountId, ctx.isBedrockRegion(region));
  const decision = await explainPath(ctx, caller, region, {
    endpointService: 'bedrock-runtime',
    action,
    resources: target.resourceArns,
    ...(hostname ? { hostname } : {}),
  });
  if (decision.outcome !== 'allowed') return { ...decision, target };
  const known = target.kind === 'foundation-model' ? target.model : target.profile;
  if (!known) {
    decision.hops.push({
      hop: 'model',
      ok: false,
      detail: `${modelId} is not a model or inference profile offered in ${region}`,
    });
    return {
      ...decision,
      target,
      outcome: 'invalid-model',
      decidedBy: 'model',
      error: {
        code: 'ValidationException',
        message: 'The provided model identifier is invalid.',
        status: 400,
      },
    };
  }
  decision.hops.push({ hop: 'model', ok: true, detail: `${target.id} is offered in ${region}` });
  const underlying = target.kind === 'foundation-model' ? target.id : target.profile!.modelId;
  const noAccess = ctx.world.modelsWithoutAccess.find((m) => m === target.id || m === underlying);
  if (noAccess) {
    decision.hops.push({
      hop: 'model-access',
      ok: false,
      detail: `model access to ${noAccess} is not granted in the account`,
    });
    return {
      ...decision,
      target,
      outcome: 'model-access-missing',
      decidedBy: 'model-access',
      error: {
        code: 'AccessDeniedException',
        message: "You don't have access to the model with the specified model ID.",
        status: 403,
      },
    };
  }
  decision.hops.push({ hop: 'model-access', ok: true, detail: `model access to ${underlying} is granted` });
  return { ...decision, target, decidedBy: 'model-access' };
}
