import { AwsError } from '../../core/errors.ts';
import { eniAttached, showEni } from './lifecycle.ts';
import type { Eni } from './state.ts';
import type { Ec2Operations, Ec2Store } from './store.ts';
import { str } from './util.ts';

/**
 * Network interfaces. Endpoint and NAT ENIs belong to their service; Lambda's hyperplane ENIs are
 * `in-use` while the function holds them, then detach, then Lambda deletes them.
 */

export function networkInterfaceOperations(s: Ec2Store): Ec2Operations {
  return {
    DeleteNetworkInterface(input, region) {
      const n = s.find<Eni>('eni', str(input.NetworkInterfaceId), region, 'NetworkInterfaceId');
      if (n.kind !== 'lambda') {
        // Endpoint and NAT gateway interfaces belong to their service: they go with it.
        throw new AwsError('InvalidParameterValue', `Network interface '${n.id}' is currently in use.`);
      }
      if (eniAttached(s, n)) {
        showEni(s, n);
        throw new AwsError('InvalidNetworkInterface.InUse', `Interface: [${n.id}] in use.`);
      }
      s.deleteEni(n.id);
      return {};
    },
  };
}

/** Hyperplane ENIs for a function's VpcConfig, one per subnet, requester-managed by Lambda. */
export function attachLambdaEnis(
  s: Ec2Store,
  fn: { functionName: string; region: string; subnetIds: string[]; securityGroupIds: string[] },
): string[] {
  s.purge();
  const ids: string[] = [];
  for (const subnetId of fn.subnetIds) {
    const sub = s.subnets.get(subnetId);
    if (!sub || sub.region !== fn.region) continue;
    const h = s.ctx.rng.hex(32);
    const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    const description = `AWS Lambda VPC ENI-${fn.functionName}-${uuid}`;
    ids.push(s.newEni(fn.region, sub, 'lambda', fn.functionName, description, fn.securityGroupIds).id);
  }
  return ids;
}

/**
 * After DeleteFunction or a VpcConfig change (an empty one detaches the function): ENIs stay in
 * use, then detach, then Lambda deletes them. Both paths behave alike: "When you update a function
 * to remove its VPC configuration, Lambda requires up to 20 minutes to delete the attached
 * Hyperplane ENI" (Lambda developer guide, "Deleting ENIs"); detached after ~4 min in the field
 * (AWS-FACTS). Not modelled: sharing one ENI between functions with the same subnet and groups
 * (Lambda deletes it only once no function uses it).
 */
export function releaseLambdaEnis(s: Ec2Store, functionName: string): void {
  const now = s.now();
  for (const n of s.enis.values()) {
    if (n.kind !== 'lambda' || n.owner !== functionName || n.detachAt !== undefined) continue;
    n.detachAt = now + s.ctx.delay('eniDetach');
    n.deleteAt = n.detachAt + s.ctx.delay('eniLambdaDelete');
  }
}
