/**
 * Observations toward the proof obligations, from what the verify tasks read back and what the
 * probe saw. Each function names what it compared and why it passed or failed; none of them may
 * pass on an absence ("nothing found" is only a pass where the read itself answered).
 */
import type { Observation, ProbeResult } from '../../statemachine/contract.ts';
import { IDENTITY_POLICY_NAME, LAMBDA_VPC_MANAGED_POLICY } from './policies.ts';
import { comparePolicies } from './policy-compare.ts';
import type { EgressRoute, EndpointEni, EndpointReading, RoleReading } from './readback.ts';

export const eniLines = (enis: EndpointEni[]) =>
  enis.map((n) => `${n.networkInterfaceId} in ${n.availabilityZone} (${n.subnetId}): ${n.privateIp}`);

/** The endpoint policy read back at one moment, against the policy the run wrote for that moment. */
export function policyReadback(when: string, reading: EndpointReading, written: string): Observation {
  const d = comparePolicies(reading.policyDocument, written);
  return {
    obligation: 'policy-in-force-is-policy-written',
    result: d.same ? 'passed' : 'failed',
    observed: d.same
      ? `${when}: the policy of ${reading.vpcEndpointId} read back is the one the run wrote`
      : `${when}: the policy of ${reading.vpcEndpointId} is not the one the run wrote (${d.differences.length} difference(s))`,
    evidence: [
      ...d.differences.map((x) => `${when}: ${x}`),
      `${when}: read back ${reading.policyDocument ?? '(none)'}`,
    ],
  };
}

/**
 * The addresses a probe call resolved to, against this run's endpoint ENIs. "Private" is not
 * evidence: a VPC in 100.64.0.0/10 is private and another endpoint's ENIs are private too.
 */
export function throughTheseEnis(phase: string, r: ProbeResult, reading: EndpointReading): Observation {
  const own = new Set(reading.enis.map((n) => n.privateIp));
  const foreign = r.resolvedAddresses.filter((a) => !own.has(a));
  const zones = reading.enis
    .filter((n) => r.resolvedAddresses.includes(n.privateIp))
    .map((n) => n.availabilityZone);
  const evidence = [
    `${phase}: ${r.hostname} resolved to ${r.resolvedAddresses.join(', ') || 'nothing'}`,
    ...eniLines(reading.enis).map((l) => `${reading.vpcEndpointId} ENI ${l}`),
    ...(reading.dnsNames.length ? [`DnsEntries: ${reading.dnsNames.join(', ')}`] : []),
  ];
  if (reading.enis.length === 0)
    return {
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      observed: `${phase}: ${reading.vpcEndpointId} has no network interfaces, so the call cannot have gone through it`,
      evidence,
    };
  if (r.resolvedAddresses.length === 0 || foreign.length > 0)
    return {
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      observed: `${phase}: the probe's call went to ${foreign.join(', ') || 'no address'}, which is not an address of ${reading.vpcEndpointId}'s network interfaces`,
      evidence,
    };
  return {
    obligation: 'reached-through-this-endpoint',
    result: 'passed',
    // Which zone's ENI carried this call is the resolver's and client's pick: lib/zones.ts calls every zone by name.
    observed: `${phase}: the call went only to ${reading.vpcEndpointId}'s own ENI addresses (DNS answered with its ENIs in ${[...new Set(zones)].join(', ')})`,
    evidence,
  };
}

export function noEgressRoutes(vpcId: string, routeTableIds: string[], egress: EgressRoute[]): Observation {
  const evidence = [
    `route tables of ${vpcId}: ${routeTableIds.join(', ') || 'none'}`,
    ...egress.map((e) => `${e.routeTableId}: ${e.destination} → ${e.target}`),
  ];
  if (routeTableIds.length === 0)
    return {
      obligation: 'no-other-way-out',
      result: 'could-not-verify',
      observed: `DescribeRouteTables returned no route table for ${vpcId}`,
      evidence,
    };
  if (egress.length > 0)
    return {
      obligation: 'no-other-way-out',
      result: 'failed',
      observed: `${egress.length} route(s) leave ${vpcId}: ${egress.map((e) => `${e.destination} → ${e.target}`).join(', ')}`,
      evidence,
    };
  return {
    obligation: 'no-other-way-out',
    result: 'passed',
    observed: `no route in ${routeTableIds.length} route table(s) of ${vpcId} leaves the VPC (local routes only)`,
    evidence,
  };
}

export interface RoleAsWritten {
  identityPolicy: string;
  /** The boundary the run set (the stack's), or undefined when the deployment sets none. */
  boundaryArn?: string;
}

/** What the probe role read back holds beside what the run wrote, sorted by what it can mean. */
export interface RoleFindings {
  roleName: string;
  /** The run's own grants changed or missing (its inline policy, the Lambda VPC policy, the boundary). */
  changed: string[];
  /** Anything the run did not attach (inline or managed policies): each names the policy. */
  extras: string[];
  evidence: string[];
}

export function roleFindings(roleName: string, reading: RoleReading, written: RoleAsWritten): RoleFindings {
  const changed: string[] = [];
  const extras: string[] = [];
  const documents: string[] = [];
  const inlineNames = reading.inline.map((p) => p.name);
  for (const p of reading.inline) {
    if (p.name !== IDENTITY_POLICY_NAME) {
      extras.push(`inline policy ${p.name} was not written by the run`);
      documents.push(`inline policy ${p.name}: ${p.document}`);
      continue;
    }
    const d = comparePolicies(p.document, written.identityPolicy);
    for (const x of d.differences) changed.push(`inline policy ${p.name}: ${x}`);
  }
  if (!inlineNames.includes(IDENTITY_POLICY_NAME))
    changed.push(`the run's inline policy ${IDENTITY_POLICY_NAME} is missing`);
  for (const arn of reading.attached)
    if (arn !== LAMBDA_VPC_MANAGED_POLICY) extras.push(`managed policy ${arn} was not attached by the run`);
  if (!reading.attached.includes(LAMBDA_VPC_MANAGED_POLICY))
    changed.push(`the managed policy ${LAMBDA_VPC_MANAGED_POLICY} the run attached is missing`);
  if (reading.permissionsBoundaryArn !== written.boundaryArn)
    changed.push(
      `permissions boundary is ${reading.permissionsBoundaryArn ?? 'none'}, the run set ${written.boundaryArn ?? 'none'}`,
    );
  return {
    roleName,
    changed,
    extras,
    evidence: [
      `${roleName}: inline ${inlineNames.join(', ') || 'none'}; attached ${reading.attached.join(', ') || 'none'}; boundary ${reading.permissionsBoundaryArn ?? 'none'}`,
      ...changed,
      ...extras,
      ...documents,
    ],
  };
}

/**
 * Obligation 5, weighed against obligation 2's outside call. The rule:
 * - the run's own grants changed or missing (its identity policy, the Lambda VPC policy, the
 *   boundary) fail obligation 5: the role is not the one the run built;
 * - anything the run did not attach fails obligation 2's claim (and 5's) unless the outside call,
 *   made with the role's own credentials, was refused anyway by the identity policy: then each is
 *   a warning naming the policy, and neither row fails on it.
 * `outside` is obligation 2's outside-call observation (absent when it was not made).
 */
export function roleAsWritten(f: RoleFindings, written: RoleAsWritten, outside?: Observation): Observation[] {
  const refusedOutside = outside?.obligation === 'no-other-way-out' && outside.result === 'passed';
  const out: Observation[] = [];
  const failing = [...f.changed, ...(refusedOutside ? [] : f.extras)];
  if (failing.length)
    out.push({
      obligation: 'probe-role-as-written',
      result: 'failed',
      observed: `${f.roleName} has what the run did not give it: ${failing[0]}${failing.length > 1 ? ` (and ${failing.length - 1} more)` : ''}`,
      evidence: f.evidence,
    });
  else
    out.push({
      obligation: 'probe-role-as-written',
      result: 'passed',
      observed: f.extras.length
        ? `${f.roleName} has the run's inline policy, the Lambda VPC managed policy and the boundary ${written.boundaryArn ?? '(none set)'}; what else it has did not let it reach Bedrock from outside the VPC (see warnings)`
        : `${f.roleName} has exactly the run's inline policy, the Lambda VPC managed policy and the boundary ${written.boundaryArn ?? '(none set)'}`,
      evidence: f.evidence,
    });
  for (const extra of f.extras) {
    if (refusedOutside)
      out.push({
        obligation: 'probe-role-as-written',
        result: 'passed',
        warning: true,
        observed: `${f.roleName}: ${extra}; the role's credentials were refused from outside the VPC anyway`,
        evidence: [],
      });
    else
      out.push({
        obligation: 'no-other-way-out',
        result: 'failed',
        observed: `${f.roleName} carries what the run did not attach (${extra}), and the outside call was ${outside ? (outside.result === 'failed' ? 'not refused' : 'not observed') : 'not made'}: nothing shows the endpoint is the only way in`,
        evidence: [extra],
      });
  }
  return out;
}
