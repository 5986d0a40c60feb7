/**
 * EC2's request context, as the EC2 authorization model defines it (EC2 User Guide, "Grant
 * permission to tag resources during creation"; Service Authorization Reference, Amazon EC2):
 * - a Create is authorized on the created resource (`vpc/*`) with `aws:RequestTag/*` and
 *   `aws:TagKeys` from its TagSpecifications, and on the resources it is created in (VPC, subnets,
 *   groups) with their `ec2:ResourceTag/*`; when it carries TagSpecifications, `ec2:CreateTags` is
 *   authorized too, with `ec2:CreateAction` naming the Create;
 * - Describe* actions have no resource-level permissions: resource `*`;
 * - every other action is authorized on the ARNs of the ids it names.
 * Reads EC2 state only through the service's inventory (tags by id).
 */

import type { Tags } from '../core/models.ts';
import { listOf } from '../core/query.ts';
import type { Check, RequestContext, RequestView } from './authorize.ts';
import { requestTagContext } from './authorize.ts';

const TYPE_BY_PREFIX: Record<string, string> = {
  vpc: 'vpc',
  subnet: 'subnet',
  sg: 'security-group',
  vpce: 'vpc-endpoint',
  eni: 'network-interface',
  igw: 'internet-gateway',
  rtb: 'route-table',
  nat: 'natgateway',
};

/** Create actions: the resource type they create and where its parents' ids are in the input. */
const CREATES: Record<string, { type: string; parents: Record<string, string> }> = {
  CreateVpc: { type: 'vpc', parents: {} },
  CreateSubnet: { type: 'subnet', parents: { vpc: 'VpcId' } },
  CreateSecurityGroup: { type: 'security-group', parents: { vpc: 'VpcId' } },
  CreateVpcEndpoint: {
    type: 'vpc-endpoint',
    parents: { vpc: 'VpcId', subnet: 'SubnetId', 'security-group': 'SecurityGroupId' },
  },
  CreateInternetGateway: { type: 'internet-gateway', parents: {} },
  CreateRouteTable: { type: 'route-table', parents: { vpc: 'VpcId' } },
  CreateNatGateway: { type: 'natgateway', parents: { subnet: 'SubnetId' } },
};

/** Input members that hold the ids an action is performed on. */
const ID_MEMBERS = [
  'VpcId',
  'SubnetId',
  'GroupId',
  'SecurityGroupId',
  'VpcEndpointId',
  'NetworkInterfaceId',
  'InternetGatewayId',
  'RouteTableId',
  'NatGatewayId',
  'ResourceId',
];

function arnOf(view: RequestView, id: string): [string, string] | undefined {
  const type = TYPE_BY_PREFIX[id.split('-')[0]!];
  if (!type) return undefined;
  return [type, `arn:aws:ec2:${view.call.region}:${view.ctx.accountId}:${type}/${id}`];
}

function idArns(view: RequestView, ids: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of ids) {
    const a = arnOf(view, id);
    if (!a) continue;
    out[a[0]] = [...(out[a[0]] ?? []), a[1]];
  }
  return out;
}

function specTags(input: Record<string, any>): Tags {
  const tags: Tags = {};
  for (const spec of listOf<Record<string, any>>(input.TagSpecification))
    for (const t of listOf<Record<string, any>>(spec.Tag)) tags[String(t.Key)] = String(t.Value ?? '');
  return tags;
}

export function ec2Checks(operation: string, input: Record<string, any>, view: RequestView): Check[] {
  const action = `ec2:${operation}`;
  if (operation.startsWith('Describe')) return [{ action }];
  const create = CREATES[operation];
  if (create) {
    const tags = specTags(input);
    const parents: string[] = Object.values(create.parents).flatMap((m) => listOf(input[m]).map(String));
    const context: RequestContext = { ...requestTagContext(tags) };
    if (operation === 'CreateVpcEndpoint' && input.ServiceName)
      context['ec2:VpceServiceName'] = String(input.ServiceName);
    const checks: Check[] = [{ action, arns: idArns(view, parents), context }];
    if (operation === 'CreateVpcEndpoint' && turnsOnPrivateDns(input, true)) checks.push(PRIVATE_DNS_CHECK);
    if (Object.keys(tags).length) {
      checks.push({
        action: 'ec2:CreateTags',
        arns: {
          [create.type]: [`arn:aws:ec2:${view.call.region}:${view.ctx.accountId}:${create.type}/*`],
        },
        context: { ...requestTagContext(tags), 'ec2:CreateAction': operation },
      });
    }
    return checks;
  }
  const ids = ID_MEMBERS.flatMap((m) => listOf(input[m]).map(String));
  const context: RequestContext = {};
  if (operation === 'CreateTags') {
    const tags: Tags = {};
    for (const t of listOf<Record<string, any>>(input.Tag)) tags[String(t.Key)] = String(t.Value ?? '');
    Object.assign(context, requestTagContext(tags));
  }
  if (operation === 'DeleteTags') {
    const keys = listOf<Record<string, any>>(input.Tag).map((t) => String(t.Key));
    if (keys.length) context['aws:TagKeys'] = keys;
  }
  const checks: Check[] = [{ action, arns: idArns(view, ids), context }];
  if (operation === 'ModifyVpcEndpoint' && turnsOnPrivateDns(input, false)) checks.push(PRIVATE_DNS_CHECK);
  return checks;
}

/**
 * Private DNS on an interface endpoint associates the VPC with a private hosted zone AWS owns, so
 * the caller also needs route53:AssociateVPCWithHostedZone (hasura/ddn-docs#1075: "required to
 * enable Private DNS on VPC endpoints"; the refusal text is IAM's, as quoted in
 * mattclay/aws-terminator#261). The zone is AWS's and unnamed before the call: `hostedzone/*`.
 * CreateVpcEndpoint defaults PrivateDnsEnabled to true for interface endpoints of AWS services
 * (EC2 API reference, CreateVpcEndpoint); gateway endpoints have no private DNS.
 */
const PRIVATE_DNS_CHECK: Check = {
  action: 'route53:AssociateVPCWithHostedZone',
  arns: { hostedzone: ['arn:aws:route53:::hostedzone/*'] },
};

function turnsOnPrivateDns(input: Record<string, any>, creating: boolean): boolean {
  // CreateVpcEndpoint's VpcEndpointType defaults to Gateway; only Modify names an existing endpoint.
  if (creating && String(input.VpcEndpointType ?? 'Gateway') !== 'Interface') return false;
  const v = input.PrivateDnsEnabled;
  if (v === undefined) return creating;
  return String(v).toLowerCase() === 'true';
}
