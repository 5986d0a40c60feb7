import type { World } from '../../core/context.ts';
import { AwsError } from '../../core/errors.ts';
import { endpointServices, FULL_ACCESS_POLICY } from './catalog.ts';
import { hasDeny, validateEndpointPolicy } from './endpoint-policy.ts';
import { endpointState } from './lifecycle.ts';
import { endpointOut, shortServiceName } from './responses.ts';
import type { Endpoint, SecurityGroup, Subnet, Vpc } from './state.ts';
import type { Ec2Operations, Ec2Store } from './store.ts';
import { bool, idempotent, isIdOf, str, strings, tagsFromSpecifications } from './util.ts';

/**
 * Interface VPC endpoints: `pending` → `available` → `deleting` → gone, one ENI per subnet,
 * private DNS, and the policy whose changes reach traffic only after propagation.
 */

/** Private DNS needs both VPC DNS attributes, and only one endpoint per service per VPC may hold the name. */
function checkPrivateDns(s: Ec2Store, vpc: Vpc, serviceName: string, region: string, except?: string): void {
  if (!vpc.enableDnsSupport || !vpc.enableDnsHostnames) {
    throw new AwsError(
      'InvalidParameter',
      `Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for ${vpc.id}`,
    );
  }
  const clash = s.inRegion(s.endpoints, region).find(
    (e) =>
      e.id !== except &&
      e.vpcId === vpc.id &&
      e.serviceName === serviceName &&
      e.privateDnsEnabled &&
      // A `deleting` endpoint still owns its private DNS name (AWS-FACTS, wave 2).
      endpointState(s, e) !== 'deleted',
  );
  if (clash) {
    const short = shortServiceName({ serviceName, region });
    throw new AwsError(
      'InvalidParameter',
      `private-dns-enabled cannot be set because there is already a conflicting DNS domain for ${short}.${region}.amazonaws.com in the VPC ${vpc.id}`,
    );
  }
}

function endpointSubnets(
  s: Ec2Store,
  ids: string[],
  vpc: Vpc,
  region: string,
  taken: Subnet[] = [],
): Subnet[] {
  const out: Subnet[] = [];
  for (const id of ids) {
    const sub = s.find<Subnet>('subnet', id, region, 'SubnetId');
    if (sub.vpcId !== vpc.id) {
      throw new AwsError('InvalidParameter', `The subnet ID '${id}' does not belong to the VPC ${vpc.id}`);
    }
    if ([...taken, ...out].some((o) => o.zone.zoneName === sub.zone.zoneName)) {
      throw new AwsError(
        'DuplicateSubnetsInSameZone',
        `Found another VPC endpoint subnet in the availability zone of ${sub.id}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.`,
      );
    }
    out.push(sub);
  }
  return out;
}

function endpointGroups(s: Ec2Store, ids: string[], vpc: Vpc, region: string): string[] {
  for (const id of ids) {
    const g = s.find<SecurityGroup>('sg', id, region, 'SecurityGroupId');
    if (g.vpcId !== vpc.id) {
      throw new AwsError(
        'InvalidParameter',
        `The security group '${id}' does not belong to the VPC ${vpc.id}`,
      );
    }
  }
  return [...new Set(ids)];
}

function addEndpointEni(s: Ec2Store, e: Endpoint, sub: Subnet): void {
  const eni = s.newEni(e.region, sub, 'vpc_endpoint', e.id, `VPC Endpoint Interface ${e.id}`, e.groupIds);
  e.eniBySubnet.set(sub.id, eni.id);
}

function createVpcEndpoint(s: Ec2Store, input: Record<string, any>, region: string) {
  const { clientToken, fingerprint, prior } = idempotent(s.inRegion(s.endpoints, region), input);
  if (prior) return { vpcEndpoint: endpointOut(s, prior), clientToken };
  const vpc = s.find<Vpc>('vpc', str(input.VpcId), region, 'VpcId');
  const serviceName = str(input.ServiceName);
  if (!serviceName)
    throw new AwsError('MissingParameter', 'The request must contain the parameter ServiceName');
  if (!endpointServices(s.ctx, region).some((d) => d.serviceName === serviceName)) {
    throw new AwsError('InvalidServiceName', `The Vpc Endpoint Service '${serviceName}' does not exist`);
  }
  // The API's default type is Gateway; Bedrock only offers Interface.
  const type = str(input.VpcEndpointType) ?? 'Gateway';
  if (type !== 'Interface') {
    throw new AwsError(
      'InvalidParameter',
      `Endpoint type (${type}) does not match available service types ([Interface]).`,
    );
  }
  if (strings(input.RouteTableId).length) {
    throw new AwsError(
      'InvalidParameter',
      'Route table IDs are only supported for Gateway type VPC Endpoint.',
    );
  }
  const subnets = endpointSubnets(s, strings(input.SubnetId), vpc, region);
  const groupIdsIn = strings(input.SecurityGroupId);
  const groupIds = groupIdsIn.length ? endpointGroups(s, groupIdsIn, vpc, region) : [vpc.defaultGroupId];
  const privateDnsEnabled = bool(input.PrivateDnsEnabled) ?? true;
  if (privateDnsEnabled) checkPrivateDns(s, vpc, serviceName, region);
  const policy = str(input.PolicyDocument) ?? FULL_ACCESS_POLICY;
  validateEndpointPolicy(policy, s.ctx.quotas.endpointPolicyMaxChars);
  const tags = tagsFromSpecifications(input, 'vpc-endpoint');
  const live = s.inRegion(s.endpoints, region).filter((e) => e.vpcId === vpc.id && e.goneAt === undefined);
  if (live.length >= s.ctx.quotas.interfaceEndpointsPerVpc) {
    throw new AwsError('VpcEndpointLimitExceeded', 'The maximum number of VPC endpoints has been reached.');
  }
  const b = s.base(region, tags);
  const availableAt = b.createdAt + s.ctx.delay('endpointAvailable');
  const e: Endpoint = {
    ...b,
    id: s.newId('vpce'),
    vpcId: vpc.id,
    serviceName,
    subnetIds: subnets.map((x) => x.id),
    groupIds,
    privateDnsEnabled,
    policy,
    versions: [{ document: enforcedAllow(s.ctx.world, policy), effectiveAt: b.createdAt }],
    availableAt,
    usableAt: availableAt + s.ctx.delay('endpointUsable'),
    clientToken,
    requestFingerprint: fingerprint,
    dnsSuffix: s.ctx.rng.hex(8),
    eniBySubnet: new Map(),
  };
  s.endpoints.set(e.id, e);
  for (const sub of subnets) addEndpointEni(s, e, sub);
  return { vpcEndpoint: endpointOut(s, e), clientToken };
}

function modifyVpcEndpoint(s: Ec2Store, input: Record<string, any>, region: string) {
  const e = s.find<Endpoint>('vpce', str(input.VpcEndpointId), region, 'VpcEndpointId');
  const vpc = s.vpcs.get(e.vpcId)!;
  if (e.goneAt !== undefined) {
    throw new AwsError(
      'IncorrectState',
      `The Vpc Endpoint ${e.id} is in state deleting and cannot be modified.`,
    );
  }
  const reset = bool(input.ResetPolicy) ?? false;
  const newPolicy = str(input.PolicyDocument);
  if (reset && newPolicy !== undefined) {
    throw new AwsError('InvalidParameter', 'PolicyDocument and ResetPolicy cannot both be specified.');
  }
  if (newPolicy !== undefined) validateEndpointPolicy(newPolicy, s.ctx.quotas.endpointPolicyMaxChars);
  const addGroups = strings(input.AddSecurityGroupId);
  const removeGroups = strings(input.RemoveSecurityGroupId);
  endpointGroups(s, addGroups, vpc, region);
  const notAssociated = (what: string, id: string) =>
    new AwsError('InvalidParameter', `The ${what} '${id}' is not associated with the VPC endpoint ${e.id}`);
  for (const id of removeGroups) if (!e.groupIds.includes(id)) throw notAssociated('security group', id);
  const current = e.subnetIds.map((id) => s.subnets.get(id)!).filter(Boolean);
  const addSubnets = endpointSubnets(s, strings(input.AddSubnetId), vpc, region, current);
  const removeSubnets = strings(input.RemoveSubnetId);
  for (const id of removeSubnets) if (!e.subnetIds.includes(id)) throw notAssociated('subnet', id);
  const dns = bool(input.PrivateDnsEnabled);
  if (dns === true && !e.privateDnsEnabled) checkPrivateDns(s, vpc, e.serviceName, region, e.id);
  const groupIds = [...new Set([...e.groupIds.filter((g) => !removeGroups.includes(g)), ...addGroups])];
  if (groupIds.length === 0) {
    throw new AwsError('InvalidParameter', 'An interface endpoint must have at least one security group.');
  }

  // All checks passed: apply.
  if (newPolicy !== undefined || reset) {
    const doc = newPolicy ?? FULL_ACCESS_POLICY;
    e.policy = doc;
    // DescribeVpcEndpoints shows what was set at once; traffic sees it only after propagation,
    // and never in a world where policy updates (or just those with a Deny) do not apply.
    const applies =
      s.ctx.world.endpointPolicyUpdatesApply && !(s.ctx.world.ignoreDenyPolicyUpdates && hasDeny(doc));
    const w = s.ctx.world;
    const propagation =
      w.endpointPolicyPropagationSeconds !== undefined
        ? w.endpointPolicyPropagationSeconds * 1000
        : s.ctx.delay('endpointPolicyPropagation');
    const effectiveAt = applies ? s.now() + propagation : Number.POSITIVE_INFINITY;
    const previous = e.versions[e.versions.length - 1]?.document ?? FULL_ACCESS_POLICY;
    // Fault worlds (context.ts World): what traffic enforces may differ from what Describe shows.
    const enforced =
      hasDeny(doc) && w.denyEnforcedAs === 'no-allow' ? NO_STATEMENTS_POLICY : enforcedAllow(w, doc);
    // Each zone's ENI enforces on its own: a lag per zone shifts the whole change there, and the
    // fault worlds restrict a Deny (or its lapse) to some zones.
    const zoneLagMs = w.zonePolicyLagSeconds
      ? Object.fromEntries(Object.entries(w.zonePolicyLagSeconds).map(([z, sec]) => [z, sec * 1000]))
      : undefined;
    const perZone = (zones: string[] | undefined) => ({
      ...(zones ? { zones: zones.slice() } : {}),
      ...(zoneLagMs ? { zoneLagMs } : {}),
    });
    const denyZones = hasDeny(doc) ? w.denyOnlyInZones : undefined;
    e.versions.push({ document: enforced, effectiveAt, ...perZone(denyZones) });
    if (applies && hasDeny(doc) && w.denyLapse) {
      const lapseAt = effectiveAt + w.denyLapse.afterSeconds * 1000;
      const lapseZones = w.denyLapse.zones ?? denyZones;
      e.versions.push({ document: previous, effectiveAt: lapseAt, ...perZone(lapseZones) });
      if (w.denyLapse.forSeconds !== undefined)
        e.versions.push({
          document: enforced,
          effectiveAt: lapseAt + w.denyLapse.forSeconds * 1000,
          ...perZone(lapseZones),
        });
    }
  }
  e.groupIds = groupIds;
  for (const eniId of e.eniBySubnet.values()) {
    const eni = s.enis.get(eniId);
    if (eni) eni.groupIds = e.groupIds.slice();
  }
  for (const id of removeSubnets) {
    s.deleteEni(e.eniBySubnet.get(id));
    e.eniBySubnet.delete(id);
  }
  e.subnetIds = e.subnetIds.filter((x) => !removeSubnets.includes(x));
  for (const sub of addSubnets) {
    e.subnetIds.push(sub.id);
    addEndpointEni(s, e, sub);
  }
  if (dns !== undefined) e.privateDnsEnabled = dns;
  return { return: true };
}

/** What traffic enforces for a policy without a Deny: the policy, or full access in an `allowEnforcedAs: full-access` world. */
function enforcedAllow(w: World, doc: string): string {
  return w.allowEnforcedAs === 'full-access' && !hasDeny(doc) ? FULL_ACCESS_POLICY : doc;
}

/** What traffic sees in a `denyEnforcedAs: no-allow` world: a policy that allows nothing, denies nothing. */
const NO_STATEMENTS_POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [] });

function deleteVpcEndpoints(s: Ec2Store, input: Record<string, any>, region: string) {
  const ids = strings(input.VpcEndpointId);
  if (ids.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter VpcEndpointId');
  const unsuccessful: unknown[] = [];
  const fail = (resourceId: string, code: string, message: string) =>
    unsuccessful.push({ resourceId, error: { code, message } });
  for (const id of ids) {
    const e = s.endpoints.get(id);
    if (!isIdOf('vpce', id)) {
      fail(id, 'InvalidVpcEndpointId.Malformed', `Invalid Id: '${id}'`);
    } else if (!e || e.region !== region || endpointState(s, e) === 'deleted') {
      fail(id, 'InvalidVpcEndpoint.NotFound', `The Vpc Endpoint Id '${id}' does not exist`);
    } else if (e.goneAt === undefined) {
      e.deleteRequestedAt = s.now();
      e.goneAt = s.now() + s.ctx.delay('endpointDelete');
    }
  }
  s.purge();
  return { unsuccessful };
}

export function endpointOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateVpcEndpoint: (input, region) => createVpcEndpoint(s, input, region),
    ModifyVpcEndpoint: (input, region) => modifyVpcEndpoint(s, input, region),
    DeleteVpcEndpoints: (input, region) => deleteVpcEndpoints(s, input, region),
  };
}
