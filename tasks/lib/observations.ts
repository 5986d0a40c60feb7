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

export function roleAsWritten(roleName: string, reading: RoleReading, written: RoleAsWritten): Observation {
  const findings: string[] = [];
  const inlineNames = reading.inline.map((p) => p.name);
  for (const p of reading.inline) {
    if (p.name !== IDENTITY_POLICY_NAME) {
      findings.push(`inline policy ${p.name} was not written by the run: ${p.document}`);
      continue;
    }
    const d = comparePolicies(p.document, written.identityPolicy);
    for (const x of d.differences) findings.push(`inline policy ${p.name}: ${x}`);
  }
  if (!inlineNames.includes(IDENTITY_POLICY_NAME))
    findings.push(`the run's inline policy ${IDENTITY_POLICY_NAME} is missing`);
  for (const arn of reading.attached)
    if (arn !== LAMBDA_VPC_MANAGED_POLICY) findings.push(`managed policy ${arn} was not attached by the run`);
  if (!reading.attached.includes(LAMBDA_VPC_MANAGED_POLICY))
    findings.push(`the managed policy ${LAMBDA_VPC_MANAGED_POLICY} the run attached is missing`);
  if (reading.permissionsBoundaryArn !== written.boundaryArn)
    findings.push(
      `permissions boundary is ${reading.permissionsBoundaryArn ?? 'none'}, the run set ${written.boundaryArn ?? 'none'}`,
    );
  const evidence = [
    `${roleName}: inline ${inlineNames.join(', ') || 'none'}; attached ${reading.attached.join(', ') || 'none'}; boundary ${reading.permissionsBoundaryArn ?? 'none'}`,
    ...findings,
  ];
  return {
    obligation: 'probe-role-as-written',
    result: findings.length ? 'failed' : 'passed',
    observed: findings.length
      ? `${roleName} has what the run did not give it: ${findings[0]}${findings.length > 1 ? ` (and ${findings.length - 1} more)` : ''}`
      : `${roleName} has exactly the run's inline policy, the Lambda VPC managed policy and the boundary ${written.boundaryArn ?? '(none set)'}`,
    evidence,
  };
}
