import type { EmulatorContext } from '../../core/context.ts';
import { AwsError } from '../../core/errors.ts';
import type { Ec2Model, EndpointView, SecurityGroupView, SubnetView, VpcView } from '../../core/models.ts';
import type { EmulatedService, InventoryItem, QueryApi, QueryOperation } from '../../core/service.ts';
import { describeOperations } from './describe.ts';
import { endpointOperations } from './endpoints.ts';
import { gatewayOperations, subnetHasInternetPath } from './gateways.ts';
import { endpointState, eniAttached } from './lifecycle.ts';
import { attachLambdaEnis, networkInterfaceOperations, releaseLambdaEnis } from './network-interfaces.ts';
import { securityGroupOperations } from './security-groups.ts';
import type { Resource } from './state.ts';
import { Ec2Store, type Kind } from './store.ts';
import { subnetOperations } from './subnets.ts';
import { tagOperations } from './tags.ts';
import { bool, tagsRecord } from './util.ts';
import { interfaceEndpointViews, lambdaEniAddress, securityGroupView, subnetView, vpcView } from './views.ts';
import { createDefaultVpc, vpcOperations } from './vpcs.ts';

const INVENTORY_TYPE: Record<Kind, string> = {
  vpc: 'vpc',
  subnet: 'subnet',
  sg: 'security-group',
  vpce: 'vpc-endpoint',
  eni: 'network-interface',
  igw: 'internet-gateway',
  rtb: 'route-table',
  nat: 'nat-gateway',
};

/**
 * EC2 as far as the product touches it: VPCs, subnets, security groups, interface endpoints and
 * their ENIs, Lambda's hyperplane ENIs, and enough gateways and routes to say whether a subnet
 * can reach the internet. This class only assembles the families' operations (one file each)
 * and the views the other services read; states are computed from virtual time when asked.
 */
export class Ec2Service implements EmulatedService, Ec2Model {
  readonly name = 'ec2' as const;
  readonly api: QueryApi;
  private readonly store: Ec2Store;
  private regionsWithDefaultVpc = new Set<string>();

  constructor(ctx: EmulatorContext) {
    const s = new Ec2Store(ctx);
    this.store = s;
    const families = {
      ...vpcOperations(s),
      ...subnetOperations(s),
      ...securityGroupOperations(s),
      ...endpointOperations(s),
      ...networkInterfaceOperations(s),
      ...gatewayOperations(s),
      ...tagOperations(s),
      ...describeOperations(s),
    };
    const operations: Record<string, QueryOperation> = {};
    for (const [name, fn] of Object.entries(families)) {
      operations[name] = (input, call) => {
        this.settle(call.region);
        if (bool(input.DryRun)) {
          throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
        }
        return fn(input, call.region);
      };
    }
    this.api = { protocol: 'ec2', operations };
  }

  /** Runs before every call: the region's default VPC exists, and resources whose time is up are gone. */
  private settle(region: string): void {
    this.store.purge();
    if (!this.regionsWithDefaultVpc.has(region)) {
      this.regionsWithDefaultVpc.add(region);
      createDefaultVpc(this.store, region);
    }
  }

  // Ec2Model: views for the other services and the data-plane model.

  vpc(vpcId: string): VpcView | undefined {
    return vpcView(this.store, vpcId);
  }

  subnet(subnetId: string): SubnetView | undefined {
    return subnetView(this.store, subnetId);
  }

  securityGroup(groupId: string): SecurityGroupView | undefined {
    return securityGroupView(this.store, groupId);
  }

  interfaceEndpointsInVpc(vpcId: string): EndpointView[] {
    return interfaceEndpointViews(this.store, vpcId);
  }

  subnetHasInternetPath(subnetId: string): boolean {
    return subnetHasInternetPath(this.store, subnetId);
  }

  attachLambdaEnis(fn: {
    functionName: string;
    region: string;
    subnetIds: string[];
    securityGroupIds: string[];
  }) {
    return attachLambdaEnis(this.store, fn);
  }

  releaseLambdaEnis(functionName: string): void {
    releaseLambdaEnis(this.store, functionName);
  }

  lambdaEniAddress(functionName: string, subnetId: string): string | undefined {
    return lambdaEniAddress(this.store, functionName, subnetId);
  }

  // EmulatedService

  inventory(): InventoryItem[] {
    const s = this.store;
    s.purge();
    const item = (kind: Kind, r: Resource, state: string): InventoryItem => ({
      service: 'ec2',
      type: INVENTORY_TYPE[kind],
      id: r.id,
      region: r.region,
      state,
      tags: tagsRecord(r.tags),
      builtIn: r.builtIn,
    });
    return [
      ...[...s.vpcs.values()].map((v) => item('vpc', v, 'available')),
      ...[...s.subnets.values()].map((n) => item('subnet', n, 'available')),
      ...[...s.groups.values()].map((g) => item('sg', g, 'available')),
      ...[...s.endpoints.values()]
        .filter((e) => endpointState(s, e) !== 'deleted')
        .map((e) => item('vpce', e, endpointState(s, e))),
      ...[...s.enis.values()].map((n) => item('eni', n, eniAttached(s, n) ? 'in-use' : 'available')),
      ...[...s.igws.values()].map((g) => item('igw', g, g.vpcId ? 'attached' : 'detached')),
      ...[...s.routeTables.values()].map((t) => item('rtb', t, 'available')),
      ...[...s.nats.values()]
        .filter((n) => n.state !== 'deleted' && n.state !== 'failed')
        .map((n) => item('nat', n, n.state)),
    ];
  }

  reset(): void {
    this.store.clear();
    this.regionsWithDefaultVpc.clear();
  }
}
