import type { OperationCall, QueryApi, ServiceName } from './service.ts';

/**
 * Automations of the simulated account: another principal (a landing zone, a Config remediation
 * rule, a colleague's script) acting on resources right after they are created or changed. They
 * are world settings (`world.automations`, also through POST /_emulator/config), and they act
 * only through the services' own operations, as the account administrator — so whatever they do
 * is visible to the product's Describe/Get calls exactly as it would be on AWS. They are how the
 * scenario library builds tampered worlds; none of this is AWS behaviour of its own.
 */
export type Automation =
  /** Every new VPC gets an internet gateway and a 0.0.0.0/0 route in its main route table. */
  | { kind: 'internet-gateway-on-new-vpcs' }
  /** Every new role under `pathPrefix` (and, when given, named `namePrefix`…) gets an extra inline policy. */
  | {
      kind: 'inline-policy-on-new-roles';
      pathPrefix: string;
      namePrefix?: string;
      policyName: string;
      document: string;
    }
  /** Every new role under `pathPrefix` gets a managed policy attached. */
  | { kind: 'managed-policy-on-new-roles'; pathPrefix: string; policyArn: string }
  /** Inline policies put on roles under `pathPrefix` are rewritten without their Condition blocks. */
  | { kind: 'drop-conditions-from-role-policies'; pathPrefix: string }
  /** Roles under `pathPrefix` lose their permissions boundary right after an inline policy is put on them. */
  | { kind: 'strip-boundary-on-new-roles'; pathPrefix: string }
  /** Every endpoint policy written gets one more statement appended (traffic and Describe see it). */
  | { kind: 'append-endpoint-policy-statement'; statement: Record<string, unknown> }
  /** An endpoint policy with a Deny is reset to full access right after it is written (a "remediation"). */
  | { kind: 'revert-endpoint-deny' }
  /**
   * Every new interface endpoint is cut back to its first subnet right after it is created (a
   * script saving AZ-hours): its ENI in the other zones is deleted, and with it their zonal names.
   */
  | { kind: 'endpoint-in-first-subnet-only' }
  /**
   * Every endpoint policy written has its Allow statements widened right after: their Condition
   * blocks dropped (any principal the Principal element names gets in), and/or their Resource
   * replaced (e.g. `*`: every model). Traffic and Describe see the widened policy.
   */
  | { kind: 'widen-endpoint-policy-allows'; dropConditions?: boolean; resource?: string };

interface Services {
  ec2: QueryApi;
  iam: QueryApi;
}

type Op = (input: Record<string, any>, call: OperationCall) => unknown;

/** Runs the automations after each successful operation. Writes made by automations do not trigger automations. */
export class Automations {
  private acting = false;
  /** IGWs the automation added, by VPC, so it can take them away again when the VPC is torn down. */
  private readonly gateways = new Map<string, { igwId: string; routeTableId: string }>();

  private readonly list: () => Automation[];
  private readonly services: () => Services;
  private readonly admin: (region: string) => OperationCall;

  constructor(list: () => Automation[], services: () => Services, admin: (region: string) => OperationCall) {
    this.list = list;
    this.services = services;
    this.admin = admin;
  }

  async after(
    service: ServiceName,
    operation: string,
    input: Record<string, any>,
    result: unknown,
    region: string,
  ): Promise<void> {
    const automations = this.list();
    if (this.acting || automations.length === 0) return;
    this.acting = true;
    try {
      for (const a of automations) await this.apply(a, service, operation, input, result, region);
    } finally {
      this.acting = false;
    }
  }

  private op(service: keyof Services, name: string): Op {
    const fn = this.services()[service].operations[name];
    if (!fn) throw new Error(`automation needs ${service}:${name}`);
    return fn as Op;
  }

  private async apply(
    a: Automation,
    service: ServiceName,
    operation: string,
    input: Record<string, any>,
    result: unknown,
    region: string,
  ): Promise<void> {
    const call = this.admin(region);
    const ec2 = (name: string, i: Record<string, any>) => this.op('ec2', name)(i, call) as any;
    const iam = (name: string, i: Record<string, any>) => this.op('iam', name)(i, call) as any;
    const newRole = () =>
      service === 'iam' && operation === 'CreateRole'
        ? ((result as { Role?: { RoleName: string; Path: string } }).Role ?? undefined)
        : undefined;
    switch (a.kind) {
      case 'internet-gateway-on-new-vpcs': {
        if (service === 'ec2' && operation === 'CreateVpc') {
          const vpcId = (result as { vpc: { vpcId: string } }).vpc.vpcId;
          const igwId = ec2('CreateInternetGateway', {}).internetGateway.internetGatewayId as string;
          ec2('AttachInternetGateway', { InternetGatewayId: igwId, VpcId: vpcId });
          const tables = ec2('DescribeRouteTables', { Filter: [{ Name: 'vpc-id', Value: [vpcId] }] });
          const main = (tables.routeTableSet as any[]).find((t) =>
            (t.associationSet ?? []).some((x: { main?: boolean }) => x.main),
          );
          ec2('CreateRoute', {
            RouteTableId: main.routeTableId,
            DestinationCidrBlock: '0.0.0.0/0',
            GatewayId: igwId,
          });
          this.gateways.set(vpcId, { igwId, routeTableId: main.routeTableId });
        }
        // The automation removes its gateway once the VPC's subnets are being deleted, so the
        // owner's teardown is not blocked by something it never created.
        if (service === 'ec2' && operation === 'DeleteSubnet') {
          for (const [vpcId, g] of this.gateways) {
            try {
              ec2('DeleteRoute', { RouteTableId: g.routeTableId, DestinationCidrBlock: '0.0.0.0/0' });
            } catch {}
            try {
              ec2('DetachInternetGateway', { InternetGatewayId: g.igwId, VpcId: vpcId });
              ec2('DeleteInternetGateway', { InternetGatewayId: g.igwId });
            } catch {}
            this.gateways.delete(vpcId);
          }
        }
        return;
      }
      case 'inline-policy-on-new-roles': {
        const role = newRole();
        if (role?.Path.startsWith(a.pathPrefix) && role.RoleName.startsWith(a.namePrefix ?? ''))
          iam('PutRolePolicy', {
            RoleName: role.RoleName,
            PolicyName: a.policyName,
            PolicyDocument: a.document,
          });
        return;
      }
      case 'managed-policy-on-new-roles': {
        const role = newRole();
        if (role?.Path.startsWith(a.pathPrefix))
          iam('AttachRolePolicy', { RoleName: role.RoleName, PolicyArn: a.policyArn });
        return;
      }
      case 'drop-conditions-from-role-policies': {
        if (service !== 'iam' || operation !== 'PutRolePolicy') return;
        const role = iam('GetRole', { RoleName: input.RoleName }).Role as { Path: string };
        if (!role.Path.startsWith(a.pathPrefix)) return;
        const doc = JSON.parse(String(input.PolicyDocument)) as { Statement: unknown };
        const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<
          string,
          unknown
        >[];
        const stripped = statements.map(({ Condition: _c, ...rest }) => rest);
        iam('PutRolePolicy', {
          RoleName: input.RoleName,
          PolicyName: input.PolicyName,
          PolicyDocument: JSON.stringify({ ...doc, Statement: stripped }),
        });
        return;
      }
      case 'strip-boundary-on-new-roles': {
        // After the run's last write to the role (CreateProbe attaches the Lambda VPC managed policy
        // after putting the identity policy): earlier, the run's own boundary-conditioned calls
        // would be refused and the run would stop, proving nothing.
        if (service !== 'iam' || operation !== 'AttachRolePolicy') return;
        const role = iam('GetRole', { RoleName: input.RoleName }).Role as {
          Path: string;
          PermissionsBoundary?: unknown;
        };
        if (role.Path.startsWith(a.pathPrefix) && role.PermissionsBoundary)
          iam('DeleteRolePermissionsBoundary', { RoleName: input.RoleName });
        return;
      }
      case 'widen-endpoint-policy-allows': {
        const id = writtenEndpointPolicyOf(service, operation, input, result);
        if (!id) return;
        const doc = JSON.parse(input.PolicyDocument) as { Statement: unknown };
        const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<
          string,
          unknown
        >[];
        const widened = statements.map((st) => {
          if (st.Effect !== 'Allow') return st;
          const { Condition: _c, ...rest } = st;
          return {
            ...(a.dropConditions ? rest : st),
            ...(a.resource ? { Resource: a.resource } : {}),
          };
        });
        ec2('ModifyVpcEndpoint', {
          VpcEndpointId: id,
          PolicyDocument: JSON.stringify({ ...doc, Statement: widened }),
        });
        return;
      }
      case 'append-endpoint-policy-statement': {
        const id = writtenEndpointPolicyOf(service, operation, input, result);
        if (!id) return;
        const doc = JSON.parse(input.PolicyDocument) as { Statement: unknown };
        const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
        ec2('ModifyVpcEndpoint', {
          VpcEndpointId: id,
          PolicyDocument: JSON.stringify({ ...doc, Statement: [...statements, a.statement] }),
        });
        return;
      }
      case 'endpoint-in-first-subnet-only': {
        if (service !== 'ec2' || operation !== 'CreateVpcEndpoint') return;
        const e = (result as { vpcEndpoint?: { vpcEndpointId: string; subnetIdSet: string[] } }).vpcEndpoint;
        const rest = e?.subnetIdSet.slice(1) ?? [];
        if (e && rest.length)
          ec2('ModifyVpcEndpoint', { VpcEndpointId: e.vpcEndpointId, RemoveSubnetId: rest });
        return;
      }
      case 'revert-endpoint-deny': {
        if (
          service !== 'ec2' ||
          operation !== 'ModifyVpcEndpoint' ||
          typeof input.PolicyDocument !== 'string'
        )
          return;
        if (!/"Effect"\s*:\s*"Deny"/.test(input.PolicyDocument)) return;
        ec2('ModifyVpcEndpoint', { VpcEndpointId: input.VpcEndpointId, ResetPolicy: true });
        return;
      }
    }
  }
}

/** The endpoint whose policy this operation just wrote (CreateVpcEndpoint or ModifyVpcEndpoint with a document). */
function writtenEndpointPolicyOf(
  service: ServiceName,
  operation: string,
  input: Record<string, any>,
  result: unknown,
): string | undefined {
  if (service !== 'ec2' || typeof input.PolicyDocument !== 'string') return undefined;
  if (operation === 'ModifyVpcEndpoint') return input.VpcEndpointId as string;
  if (operation === 'CreateVpcEndpoint')
    return (result as { vpcEndpoint?: { vpcEndpointId: string } }).vpcEndpoint?.vpcEndpointId;
  return undefined;
}
