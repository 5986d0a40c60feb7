import type { Endpoint, Eni, PolicyVersion, Route, RouteTable } from './state.ts';
import type { Ec2Store } from './store.ts';

/**
 * States computed from virtual time, one function per resource that has a lifecycle. The
 * families set the timestamps; Describe, the inventory and the data-plane views read them here.
 */

export function endpointState(s: Ec2Store, e: Endpoint): string {
  const now = s.now();
  if (e.goneAt !== undefined) return now >= e.goneAt ? 'deleted' : 'deleting';
  return now < e.availableAt ? 'pending' : 'available';
}

/** The policy traffic sees now: the latest version whose propagation has finished. */
export function effectivePolicy(s: Ec2Store, e: Endpoint): string {
  const now = s.now();
  let current: PolicyVersion = e.versions[0]!;
  for (const v of e.versions) if (v.effectiveAt <= now) current = v;
  return current.document;
}

/** Lambda ENIs detach some minutes after release; until then they are `in-use` and typed `lambda`. */
export function eniAttached(s: Ec2Store, n: Eni): boolean {
  if (n.kind !== 'lambda') return true;
  return n.detachAt === undefined || s.now() < n.detachAt;
}

export function routeState(s: Ec2Store, t: RouteTable, r: Route): string {
  if (r.gatewayId === 'local') return 'active';
  if (r.gatewayId) return s.igws.get(r.gatewayId)?.vpcId === t.vpcId ? 'active' : 'blackhole';
  if (r.natGatewayId) {
    const n = s.nats.get(r.natGatewayId);
    return n && (n.state === 'available' || n.state === 'pending') ? 'active' : 'blackhole';
  }
  return 'blackhole';
}
