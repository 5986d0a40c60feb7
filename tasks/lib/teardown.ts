/**
 * Teardown of one run, shared by Cleanup (inside the state machine and for ABORTED / TIMED_OUT /
 * FAILED executions) and the sweeper. Order matters on AWS: probe function (detached from the VPC,
 * then deleted) → its Lambda ENIs (only once detached) → endpoint → security groups → subnets →
 * VPC → probe role last (Lambda uses the function's role to release its ENIs). Resources are found three ways — the ids the execution
 * state recorded, the run tag, and membership of the run's VPCs — and every list call and every
 * delete stands alone: one refusal is recorded against its resource (or as an unanswered list) and
 * never stops the others. NotFound is success.
 */
import {
  DeleteNetworkInterfaceCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type Filter,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  DeleteFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  LEASE_GROUP_NAME,
  type Leftover,
  type ResourceRef,
  type RunState,
} from '../../statemachine/contract.ts';
import { MAX_EXTRA_ROLES } from '../../statemachine/perimeter-spec.ts';
import { client } from './clients.ts';
import type { Logger } from './log.ts';
import { errorCode, isDependencyViolation, isNotFound } from './outcomes.ts';
import { extraRoleName } from './perimeter.ts';
import { isPooled } from './pool.ts';
import { bystanderName, probeName } from './run-state.ts';
import { runIdFilter } from './tags.ts';

type Ec2Type = 'vpc' | 'subnet' | 'security-group' | 'vpc-endpoint';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids the execution state recorded as created: found even when a tag lookup is refused. */
/** What a run is known to have: EC2 ids, and the names of a perimeter's extra roles. */
export type KnownIds = Partial<Record<Ec2Type, string[]>> & { roles?: string[] };

export function knownIdsOf(
  state: (Partial<Pick<RunState, 'network' | 'provisioned'>> & { input?: unknown }) | undefined,
): KnownIds {
  const n = state?.network;
  const e = state?.provisioned?.endpoint;
  const roles = extraRolesOf(state?.input);
  // A leased network is the pool's: of it the run owns only its lease.
  if (n?.lease)
    return {
      'security-group': [n.lease.leaseGroupId],
      'vpc-endpoint': e ? [e.vpcEndpointId] : [],
      ...(roles.length ? { roles } : {}),
    };
  return {
    ...(roles.length ? { roles } : {}),
    vpc: n ? [n.vpcId] : [],
    subnet: n ? [...n.subnetIds] : [],
    'security-group': n ? [n.workloadSecurityGroupId, n.endpointSecurityGroupId] : [],
    'vpc-endpoint': e ? [e.vpcEndpointId] : [],
  };
}

/**
 * The extra roles a run's input may have made (one per `roles:` entry of its perimeter), read
 * leniently: the input of a failed run may not parse, and its roles must still be found.
 */
export function extraRolesOf(input: unknown): string[] {
  const raw = input as { runId?: unknown; perimeter?: { roles?: unknown } } | undefined;
  const n = Array.isArray(raw?.perimeter?.roles) ? raw.perimeter.roles.length : 0;
  if (typeof raw?.runId !== 'string' || !n) return [];
  return Array.from({ length: Math.min(n, MAX_EXTRA_ROLES) }, (_, i) =>
    extraRoleName(raw.runId as string, i),
  );
}

export interface TeardownPass {
  deleted: ResourceRef[];
  /** What is still there after this pass, each with why. */
  remaining: Leftover[];
  /** List calls that did not answer (operation: error): resources they would have found are unknown. */
  unlisted: string[];
  lastError?: string;
  /** Lambda ENIs still attached or not yet deleted: the role must outlive them. */
  lambdaEnisRemain?: boolean;
  /** Lambda ENIs this pass found still attached (`in-use`): Cleanup watches them until they detach. */
  attachedLambdaEnis?: string[];
  /** The run's endpoints a held pool lease waits for (still deleting): Cleanup watches them too. */
  leaseWaitsFor?: string[];
}

const describeError = (err: unknown) => `${errorCode(err)}: ${(err as Error)?.message ?? String(err)}`;

/** A run's EC2 resources of one type: one lister per type, each answering for itself. */
interface Found {
  id: string;
  state?: string;
  vpcId?: string;
  interfaceType?: string;
  status?: string;
  name?: string;
  description?: string;
  /** A pool's resource (tasks/lib/pool.ts): never a run's to delete. */
  pooled?: boolean;
}

const LISTERS: Record<
  Ec2Type | 'network-interface',
  { op: string; list: (ec2: EC2Client, filters: Filter[], ids?: string[]) => Promise<Found[]> }
> = {
  vpc: {
    op: 'DescribeVpcs',
    list: async (ec2, Filters, VpcIds) =>
      ((await ec2.send(new DescribeVpcsCommand(VpcIds ? { VpcIds } : { Filters }))).Vpcs ?? []).map((v) => ({
        id: v.VpcId!,
        state: v.State,
        pooled: isPooled(v.Tags),
      })),
  },
  subnet: {
    op: 'DescribeSubnets',
    list: async (ec2, Filters, SubnetIds) =>
      (
        (await ec2.send(new DescribeSubnetsCommand(SubnetIds ? { SubnetIds } : { Filters }))).Subnets ?? []
      ).map((s) => ({ id: s.SubnetId!, vpcId: s.VpcId, pooled: isPooled(s.Tags) })),
  },
  'security-group': {
    op: 'DescribeSecurityGroups',
    list: async (ec2, Filters, GroupIds) =>
      (
        (await ec2.send(new DescribeSecurityGroupsCommand(GroupIds ? { GroupIds } : { Filters })))
          .SecurityGroups ?? []
      ).map((g) => ({ id: g.GroupId!, vpcId: g.VpcId, name: g.GroupName, pooled: isPooled(g.Tags) })),
  },
  'vpc-endpoint': {
    op: 'DescribeVpcEndpoints',
    list: async (ec2, Filters, VpcEndpointIds) =>
      (
        (await ec2.send(new DescribeVpcEndpointsCommand(VpcEndpointIds ? { VpcEndpointIds } : { Filters })))
          .VpcEndpoints ?? []
      )
        .map((e) => ({ id: e.VpcEndpointId!, state: String(e.State ?? '').toLowerCase(), vpcId: e.VpcId }))
        .filter((e) => e.state !== 'deleted'),
  },
  'network-interface': {
    op: 'DescribeNetworkInterfaces',
    list: async (ec2, Filters) =>
      ((await ec2.send(new DescribeNetworkInterfacesCommand({ Filters }))).NetworkInterfaces ?? []).map(
        (n) => ({
          id: n.NetworkInterfaceId!,
          interfaceType: n.InterfaceType,
          status: n.Status,
          vpcId: n.VpcId,
          description: n.Description,
        }),
      ),
  },
};

/**
 * Everything of one run that EC2 still shows, by tag, by the run's VPCs and by recorded id. A list
 * that fails is noted in `unlisted`; recorded ids of that type are then looked up one by one, and
 * any that cannot be looked up are kept (we cannot prove them gone).
 */
export async function inventory(
  ec2: EC2Client,
  runId: string,
  known: KnownIds,
  unlisted: string[],
): Promise<Record<Ec2Type | 'network-interface' | 'lease', Map<string, Found>>> {
  const out = {
    lease: new Map<string, Found>(),
    vpc: new Map<string, Found>(),
    subnet: new Map<string, Found>(),
    'security-group': new Map<string, Found>(),
    'vpc-endpoint': new Map<string, Found>(),
    'network-interface': new Map<string, Found>(),
  };
  const add = (type: keyof typeof LISTERS, items: Found[]) => {
    for (const f of items) out[type].set(f.id, { ...out[type].get(f.id), ...f });
  };
  const tryList = async (type: keyof typeof LISTERS, filters: Filter[], ids?: string[]): Promise<boolean> => {
    try {
      add(type, await LISTERS[type].list(ec2, filters, ids));
      return true;
    } catch (err) {
      if (ids && isNotFound(err)) return true;
      const what = `${LISTERS[type].op}: ${describeError(err)}`;
      if (!unlisted.includes(what)) unlisted.push(what);
      return false;
    }
  };
  const types: Ec2Type[] = ['vpc', 'vpc-endpoint', 'subnet', 'security-group'];
  for (const type of types) await tryList(type, [runIdFilter(runId)]);
  // Recorded ids, one call each so a deleted one (NotFound) does not hide the others.
  for (const type of types) {
    for (const id of known[type] ?? []) {
      if (out[type].has(id)) continue;
      const ok = await tryList(type, [], [id]);
      if (!ok) out[type].set(id, { id, state: 'unknown' });
    }
  }
  // Members of the run's VPCs that carry no tag of ours (Lambda's ENIs, the endpoint's ENIs).
  for (const [vpcId, v] of out.vpc) {
    if (v.pooled) continue;
    const byVpc = [{ Name: 'vpc-id', Values: [vpcId] }];
    await tryList('vpc-endpoint', byVpc);
    await tryList('network-interface', byVpc);
    await tryList('security-group', byVpc);
    await tryList('subnet', byVpc);
  }
  // The probe's own ENIs wherever they are (a leased VPC holds other runs' too): Lambda names the
  // function in each ENI's description (AWS-FACTS: "AWS Lambda VPC ENI-…"); the exact tail keeps
  // run "a" from claiming run "a-1"'s.
  const probeEniDescription = `AWS Lambda VPC ENI-${probeName(runId)}-`;
  await tryList('network-interface', [{ Name: 'description', Values: [`${probeEniDescription}*`] }]);
  for (const [id, n] of out['network-interface']) {
    const inRunVpc = n.vpcId !== undefined && out.vpc.has(n.vpcId) && !out.vpc.get(n.vpcId)?.pooled;
    const probes =
      n.description?.startsWith(probeEniDescription) &&
      UUID.test(n.description.slice(probeEniDescription.length));
    if (!inRunVpc && !probes) out['network-interface'].delete(id);
  }
  for (const [id, g] of out['security-group']) {
    if (g.name === 'default') out['security-group'].delete(id);
    // The run's lease of a pooled network: released last, once nothing of the run needs it.
    if (g.name === LEASE_GROUP_NAME) {
      out.lease.set(id, g);
      out['security-group'].delete(id);
    }
  }
  // Never a pool's own VPC, subnets or groups, whatever led here.
  for (const type of ['vpc', 'subnet', 'security-group'] as const)
    for (const [id, f] of out[type]) if (f.pooled) out[type].delete(id);
  return out;
}

/** Run a delete; NotFound is success, anything else is recorded against the resource. */
async function del(ref: ResourceRef, pass: TeardownPass, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    pass.deleted.push(ref);
    return true;
  } catch (err) {
    if (isNotFound(err)) return true;
    const reason = isDependencyViolation(err)
      ? `still in use (${describeError(err)})`
      : `delete refused: ${describeError(err)}`;
    pass.remaining.push({ ...ref, reason });
    if (!isDependencyViolation(err)) pass.lastError = `${ref.type} ${ref.id}: ${describeError(err)}`;
    return false;
  }
}

async function revokeGroupReferences(ec2Api: EC2Client, groupId: string, log: Logger): Promise<void> {
  try {
    const r = await ec2Api.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    const g = r.SecurityGroups?.[0];
    if (!g) return;
    // The workload and endpoint groups reference each other: drop the references or neither can go.
    const ingress = (g.IpPermissions ?? []).filter((p) => p.UserIdGroupPairs?.length);
    const egress = (g.IpPermissionsEgress ?? []).filter((p) => p.UserIdGroupPairs?.length);
    if (ingress.length)
      await ec2Api.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ingress }));
    if (egress.length)
      await ec2Api.send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: egress }));
  } catch (err) {
    // The delete that follows records why the group stays, if it does.
    if (!isNotFound(err)) log.warn('revoking group references failed', { groupId, error: errorCode(err) });
  }
}

async function teardownEc2(
  ec2Api: EC2Client,
  runId: string,
  known: KnownIds,
  pass: TeardownPass,
  log: Logger,
): Promise<void> {
  const inv = await inventory(ec2Api, runId, known, pass.unlisted);

  for (const e of inv['vpc-endpoint'].values()) {
    const ref: ResourceRef = { type: 'vpc-endpoint', id: e.id };
    if (e.state === 'deleting') {
      pass.remaining.push({ ...ref, reason: 'deleting (AWS takes a few minutes)' });
      continue;
    }
    await del(ref, pass, async () => {
      const r = await ec2Api.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [e.id] }));
      const failed = r.Unsuccessful?.find((u) => u.Error?.Code && !u.Error.Code.endsWith('NotFound'));
      if (failed)
        throw Object.assign(new Error(failed.Error?.Message ?? 'delete failed'), {
          name: failed.Error?.Code,
        });
    });
  }

  // Lambda's hyperplane ENIs detach minutes after the function is gone; delete them once detached.
  for (const n of inv['network-interface'].values()) {
    const ref: ResourceRef = { type: 'network-interface', id: n.id };
    if (n.interfaceType === 'vpc_endpoint') {
      pass.remaining.push({ ...ref, reason: 'endpoint network interface: goes with its endpoint' });
      continue;
    }
    if (n.status !== 'available') {
      pass.remaining.push({ ...ref, reason: `Lambda network interface still ${n.status ?? 'attached'}` });
      pass.lambdaEnisRemain = true;
      pass.attachedLambdaEnis = [...(pass.attachedLambdaEnis ?? []), n.id];
      continue;
    }
    const gone = await del(ref, pass, () =>
      ec2Api.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: n.id })),
    );
    if (!gone) pass.lambdaEnisRemain = true;
  }

  const groups = [...inv['security-group'].keys()];
  for (const id of groups) await revokeGroupReferences(ec2Api, id, log);
  for (const id of groups)
    await del({ type: 'security-group', id }, pass, () =>
      ec2Api.send(new DeleteSecurityGroupCommand({ GroupId: id })),
    );
  for (const id of inv.subnet.keys())
    await del({ type: 'subnet', id }, pass, () => ec2Api.send(new DeleteSubnetCommand({ SubnetId: id })));
  for (const id of inv.vpc.keys())
    await del({ type: 'vpc', id }, pass, () => ec2Api.send(new DeleteVpcCommand({ VpcId: id })));
  await releaseLeases(ec2Api, inv, pass, log);
}

/**
 * Release the run's pool leases last: once the run's endpoint in that VPC is gone (a `deleting`
 * private-DNS endpoint still owns the DNS name, so the next run's endpoint would be refused) and
 * the probe function is deleted. The probe's Lambda ENIs need not be gone: they hold nothing the
 * next run needs, Cleanup goes on deleting them by their description, and the role stays until
 * they are gone.
 */
async function releaseLeases(
  ec2Api: EC2Client,
  inv: Awaited<ReturnType<typeof inventory>>,
  pass: TeardownPass,
  log: Logger,
): Promise<void> {
  const probeRemains = pass.remaining.some((r) => r.type === 'lambda-function');
  for (const lease of inv.lease.values()) {
    const ref: ResourceRef = { type: 'security-group', id: lease.id };
    const endpoints = [...inv['vpc-endpoint'].values()].filter((e) => e.vpcId === lease.vpcId);
    if (endpoints.length || probeRemains) {
      pass.remaining.push({
        ...ref,
        reason: `lease of ${lease.vpcId}: released once the run's ${endpoints.length ? `endpoint ${endpoints.map((e) => e.id).join(', ')} is gone` : 'probe function is deleted'}`,
      });
      if (endpoints.length)
        pass.leaseWaitsFor = [...(pass.leaseWaitsFor ?? []), ...endpoints.map((e) => e.id)];
      continue;
    }
    const released = await del(ref, pass, () =>
      ec2Api.send(new DeleteSecurityGroupCommand({ GroupId: lease.id })),
    );
    if (released) log.info('pool lease released', { vpcId: lease.vpcId, leaseGroupId: lease.id });
  }
}

async function teardownRole(region: string, roleName: string, pass: TeardownPass): Promise<void> {
  const iamApi = client(IAMClient, region);
  const ref: ResourceRef = { type: 'iam-role', id: roleName };
  await del(ref, pass, async () => {
    // A role with policies cannot be deleted: remove them first (NotFound anywhere means gone).
    const inline = (await iamApi.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
    for (const p of inline)
      await iamApi
        .send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: p }))
        .catch(ignoreNotFound);
    const attached =
      (await iamApi.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
    for (const p of attached)
      await iamApi
        .send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn! }))
        .catch(ignoreNotFound);
    await iamApi.send(new DeleteRoleCommand({ RoleName: roleName }));
  });
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/**
 * Disconnect the probe from the run's VPC before deleting it: an UpdateFunctionConfiguration with
 * empty subnet and security-group lists is how Lambda detaches a function (Lambda developer guide,
 * "Configuring a Lambda function to access resources in a VPC"). Lambda then releases the
 * hyperplane ENIs itself, "up to 20 minutes" later and with the function's execution role (same
 * guide, "Deleting ENIs"): we delete each one ourselves as soon as it shows `available`, and keep
 * the role until they are gone. Best effort: the function may be gone, still Pending or updating
 * (ResourceConflictException), or the call refused; the DeleteFunction that follows releases the
 * ENIs as well.
 */
async function detachFromVpc(lambdaApi: LambdaClient, name: string, log: Logger): Promise<void> {
  try {
    // No lookup first: on a function that is not in a VPC the update changes nothing, and the
    // release starts one round trip sooner.
    await lambdaApi.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: name,
        VpcConfig: { SubnetIds: [], SecurityGroupIds: [] },
      }),
    );
    log.info('probe detached from the VPC', { functionName: name });
  } catch (err) {
    // Gone already, or still Pending / updating (ResourceConflictException): DeleteFunction follows.
    if (!isNotFound(err) && errorCode(err) !== 'ResourceConflictException')
      log.warn('detaching the probe from the VPC failed', { error: errorCode(err) });
  }
}

/** One pass over everything the run may have created. Safe to repeat; never throws. */
export async function teardownPass(
  runId: string,
  region: string,
  log: Logger,
  known: KnownIds = {},
): Promise<TeardownPass> {
  const pass: TeardownPass = { deleted: [], remaining: [], unlisted: [] };
  const name = probeName(runId);

  const lambdaApi = client(LambdaClient, region);
  await detachFromVpc(lambdaApi, name, log);
  await del({ type: 'lambda-function', id: name }, pass, () =>
    lambdaApi.send(new DeleteFunctionCommand({ FunctionName: name })),
  );
  await teardownEc2(client(EC2Client, region), runId, known, pass, log);
  // The bystander runs no code and owns no ENIs: it goes whenever teardown runs (NotFound is success).
  await teardownRole(region, bystanderName(runId), pass);
  for (const role of known.roles ?? []) await teardownRole(region, role, pass);
  if (pass.lambdaEnisRemain) {
    pass.remaining.push({
      type: 'iam-role',
      id: name,
      reason: 'kept until the Lambda network interfaces are gone (Lambda releases them with this role)',
    });
  } else {
    await teardownRole(region, name, pass);
  }
  return pass;
}

/**
 * The final inventory: what still exists for a run, by tag, by recorded id and by name, each with
 * the reason the last pass gave (or why it cannot be proven gone). Never throws.
 */
export async function listLeftovers(
  runId: string,
  region: string,
  known: KnownIds = {},
  lastPass?: TeardownPass,
): Promise<{ leftovers: Leftover[]; unlisted: string[] }> {
  const unlisted: string[] = [];
  const reasons = new Map((lastPass?.remaining ?? []).map((l) => [`${l.type} ${l.id}`, l.reason]));
  const leftovers: Leftover[] = [];
  const push = (type: ResourceRef['type'], id: string, fallback: string) =>
    leftovers.push({ type, id, reason: reasons.get(`${type} ${id}`) ?? fallback });

  const inv = await inventory(client(EC2Client, region), runId, known, unlisted);
  for (const type of ['vpc-endpoint', 'network-interface', 'security-group', 'subnet', 'vpc'] as const) {
    for (const f of inv[type].values()) {
      push(type, f.id, f.state === 'unknown' ? 'could not be looked up (see unlisted)' : 'still present');
    }
  }
  for (const l of inv.lease.values()) push('security-group', l.id, `lease of pooled ${l.vpcId} still held`);
  const name = probeName(runId);
  const bystander = bystanderName(runId);
  const getRole = (RoleName: string) => () =>
    client(IAMClient, region).send(new GetRoleCommand({ RoleName }));
  const probes: [ResourceRef['type'], string, string, () => Promise<unknown>][] = [
    [
      'lambda-function',
      name,
      'GetFunctionConfiguration',
      () => client(LambdaClient, region).send(new GetFunctionConfigurationCommand({ FunctionName: name })),
    ],
    ['iam-role', name, 'GetRole', getRole(name)],
    ['iam-role', bystander, 'GetRole', getRole(bystander)],
    ...(known.roles ?? []).map(
      (r) =>
        ['iam-role', r, 'GetRole', getRole(r)] as [
          ResourceRef['type'],
          string,
          string,
          () => Promise<unknown>,
        ],
    ),
  ];
  for (const [type, id, op, call] of probes) {
    try {
      await call();
      push(type, id, 'still present');
    } catch (err) {
      if (isNotFound(err)) continue;
      unlisted.push(`${op} ${id}: ${describeError(err)}`);
      push(type, id, `could not be looked up (${errorCode(err)})`);
    }
  }
  return { leftovers, unlisted };
}
