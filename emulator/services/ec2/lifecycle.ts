import type { Endpoint, Eni, PolicyVersion, Route, RouteTable } from './state.ts';
import type { Ec2Store } from './store.ts';

/**
 * States computed from virtual time, one function per resource that has a lifecycle. The
 * families set the timestamps; Describe, the inventory and the data-plane views read them here.
 */

/** True while a state must still be shown: its time has not come, or (instant) no client has seen it yet. */
function holds(s: Ec2Store, until: number, shown: boolean | undefined): boolean {
  return s.now() < until || (s.ctx.profile.showsEveryState && !shown);
}

export function endpointState(s: Ec2Store, e: Endpoint): string {
  if (e.goneAt !== undefined) return holds(s, e.goneAt, e.shownDeleting) ? 'deleting' : 'deleted';
  return holds(s, e.availableAt, e.shownPending) ? 'pending' : 'available';
}

/**
 * The policy traffic sees now: the latest version whose propagation has finished. With a zone, the
 * policy that zone's endpoint ENI enforces: each ENI has its own propagation (a version may reach
 * one zone later, or never), so a call through one zone can see another policy than the next.
 */
export function effectivePolicy(s: Ec2Store, e: Endpoint, zone?: string): string {
  const now = s.now();
  let current: PolicyVersion = e.versions[0]!;
  for (const v of e.versions) {
    if (zone !== undefined && v.zones && !v.zones.includes(zone)) continue;
    const at = v.effectiveAt + (zone !== undefined ? (v.zoneLagMs?.[zone] ?? 0) : 0);
    if (at <= now) current = v;
  }
  return current.document;
}

/** Lambda ENIs detach some minutes after release; until then they are `in-use` and typed `lambda`. */
export function eniAttached(s: Ec2Store, n: Eni): boolean {
  if (n.kind !== 'lambda') return true;
  return n.detachAt === undefined || holds(s, n.detachAt, n.shownInUseAfterRelease);
}

/** A client was answered with these resources' current states: the intermediate ones have been shown. */
export function showEndpoint(s: Ec2Store, e: Endpoint): void {
  const state = endpointState(s, e);
  if (state === 'pending') e.shownPending = true;
  if (state === 'deleting') e.shownDeleting = true;
}

export function showEni(s: Ec2Store, n: Eni): void {
  if (n.detachAt !== undefined && eniAttached(s, n)) n.shownInUseAfterRelease = true;
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
