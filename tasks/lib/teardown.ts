/**
 * Teardown of one run, shared by Cleanup (inside the state machine and for ABORTED / TIMED_OUT
 * executions) and the sweeper. Order matters on AWS: probe function → its Lambda ENIs (only once
 * detached) → endpoint → security groups → subnets → VPC → probe role last (Lambda uses the
 * function's role to release its ENIs). Every delete treats NotFound as success; everything is
 * found by tag or by the run's names, so it works from any partial state.
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
import { DeleteFunctionCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { ResourceRef } from '../../statemachine/contract.ts';
import { client } from './clients.ts';
import type { Logger } from './log.ts';
import { errorCode, isDependencyViolation, isNotFound } from './outcomes.ts';
import { probeName } from './run-state.ts';
import { runIdFilter } from './tags.ts';

export interface TeardownPass {
  deleted: ResourceRef[];
  remaining: ResourceRef[];
  lastError?: string;
  /** Lambda ENIs still attached or not yet deleted: the role must outlive them. */
  lambdaEnisRemain?: boolean;
}

/** Run a delete; NotFound is success, DependencyViolation means "later". */
async function del(ref: ResourceRef, pass: TeardownPass, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    pass.deleted.push(ref);
    return true;
  } catch (err) {
    if (isNotFound(err)) return true;
    pass.remaining.push(ref);
    if (!isDependencyViolation(err))
      pass.lastError = `${ref.type} ${ref.id}: ${errorCode(err)}: ${(err as Error).message}`;
    return false;
  }
}

async function revokeGroupReferences(ec2Api: EC2Client, groupId: string, log: Logger): Promise<void> {
  const r = await ec2Api.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  const g = r?.SecurityGroups?.[0];
  if (!g) return;
  // The workload and endpoint groups reference each other: drop the references or neither can go.
  const ingress = (g.IpPermissions ?? []).filter((p) => p.UserIdGroupPairs?.length);
  const egress = (g.IpPermissionsEgress ?? []).filter((p) => p.UserIdGroupPairs?.length);
  if (ingress.length) {
    await ec2Api
      .send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ingress }))
      .catch((err) => {
        log.warn('revoke ingress failed', { groupId, error: errorCode(err) });
      });
  }
  if (egress.length) {
    await ec2Api
      .send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: egress }))
      .catch((err) => {
        log.warn('revoke egress failed', { groupId, error: errorCode(err) });
      });
  }
}

async function teardownVpc(ec2Api: EC2Client, vpcId: string, pass: TeardownPass, log: Logger): Promise<void> {
  const vpcFilter = [{ Name: 'vpc-id', Values: [vpcId] }];

  const endpoints =
    (await ec2Api.send(new DescribeVpcEndpointsCommand({ Filters: vpcFilter }))).VpcEndpoints ?? [];
  for (const e of endpoints) {
    const state = String(e.State ?? '').toLowerCase();
    if (state === 'deleted') continue;
    const ref: ResourceRef = { type: 'vpc-endpoint', id: e.VpcEndpointId! };
    if (state === 'deleting') {
      pass.remaining.push(ref);
      continue;
    }
    await del(ref, pass, async () => {
      const r = await ec2Api.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [e.VpcEndpointId!] }));
      const failed = r.Unsuccessful?.find((u) => u.Error?.Code && !u.Error.Code.endsWith('NotFound'));
      if (failed)
        throw Object.assign(new Error(failed.Error?.Message ?? 'delete failed'), {
          name: failed.Error?.Code,
        });
    });
  }

  // Lambda's hyperplane ENIs detach minutes after the function is gone; delete them once detached.
  const enis =
    (await ec2Api.send(new DescribeNetworkInterfacesCommand({ Filters: vpcFilter }))).NetworkInterfaces ?? [];
  for (const n of enis) {
    const ref: ResourceRef = { type: 'network-interface', id: n.NetworkInterfaceId! };
    if (n.InterfaceType === 'vpc_endpoint') {
      pass.remaining.push(ref); // goes with its endpoint
      continue;
    }
    if (n.Status !== 'available') {
      pass.remaining.push(ref);
      pass.lambdaEnisRemain = true;
      continue;
    }
    const gone = await del(ref, pass, () =>
      ec2Api.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: n.NetworkInterfaceId! })),
    );
    if (!gone) pass.lambdaEnisRemain = true;
  }

  const groups = (
    (await ec2Api.send(new DescribeSecurityGroupsCommand({ Filters: vpcFilter }))).SecurityGroups ?? []
  ).filter((g) => g.GroupName !== 'default');
  for (const g of groups) await revokeGroupReferences(ec2Api, g.GroupId!, log);
  for (const g of groups) {
    await del({ type: 'security-group', id: g.GroupId! }, pass, () =>
      ec2Api.send(new DeleteSecurityGroupCommand({ GroupId: g.GroupId! })),
    );
  }

  const subnets = (await ec2Api.send(new DescribeSubnetsCommand({ Filters: vpcFilter }))).Subnets ?? [];
  for (const s of subnets) {
    await del({ type: 'subnet', id: s.SubnetId! }, pass, () =>
      ec2Api.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId! })),
    );
  }

  await del({ type: 'vpc', id: vpcId }, pass, () => ec2Api.send(new DeleteVpcCommand({ VpcId: vpcId })));
}

async function teardownRole(region: string, roleName: string, pass: TeardownPass): Promise<void> {
  const iamApi = client(IAMClient, region);
  const ref: ResourceRef = { type: 'iam-role', id: roleName };
  try {
    const inline = (await iamApi.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
    for (const p of inline)
      await iamApi
        .send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: p }))
        .catch(ignoreNotFound);
    const attached =
      (await iamApi.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
    for (const p of attached) {
      await iamApi
        .send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn! }))
        .catch(ignoreNotFound);
    }
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await del(ref, pass, () => iamApi.send(new DeleteRoleCommand({ RoleName: roleName })));
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}

/** One pass over everything the run may have created. Safe to repeat. */
export async function teardownPass(runId: string, region: string, log: Logger): Promise<TeardownPass> {
  const pass: TeardownPass = { deleted: [], remaining: [] };
  const name = probeName(runId);

  await del({ type: 'lambda-function', id: name }, pass, () =>
    client(LambdaClient, region).send(new DeleteFunctionCommand({ FunctionName: name })),
  );

  const ec2Api = client(EC2Client, region);
  const vpcs = (await ec2Api.send(new DescribeVpcsCommand({ Filters: [runIdFilter(runId)] }))).Vpcs ?? [];
  for (const v of vpcs) await teardownVpc(ec2Api, v.VpcId!, pass, log);

  if (pass.lambdaEnisRemain) {
    pass.remaining.push({ type: 'iam-role', id: name });
  } else {
    await teardownRole(region, name, pass);
  }
  return pass;
}

/** What still exists for a run, found by tag and by name: the "nothing left" proof. */
export async function listLeftovers(runId: string, region: string): Promise<ResourceRef[]> {
  const ec2Api = client(EC2Client, region);
  const left: ResourceRef[] = [];
  const byTag = [runIdFilter(runId)];
  for (const v of (await ec2Api.send(new DescribeVpcsCommand({ Filters: byTag }))).Vpcs ?? [])
    left.push({ type: 'vpc', id: v.VpcId! });
  for (const s of (await ec2Api.send(new DescribeSubnetsCommand({ Filters: byTag }))).Subnets ?? [])
    left.push({ type: 'subnet', id: s.SubnetId! });
  for (const g of (await ec2Api.send(new DescribeSecurityGroupsCommand({ Filters: byTag }))).SecurityGroups ??
    []) {
    left.push({ type: 'security-group', id: g.GroupId! });
  }
  for (const e of (await ec2Api.send(new DescribeVpcEndpointsCommand({ Filters: byTag }))).VpcEndpoints ??
    []) {
    if (String(e.State).toLowerCase() !== 'deleted')
      left.push({ type: 'vpc-endpoint', id: e.VpcEndpointId! });
  }
  const name = probeName(runId);
  try {
    await client(LambdaClient, region).send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    left.push({ type: 'lambda-function', id: name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await client(IAMClient, region).send(new GetRoleCommand({ RoleName: name }));
    left.push({ type: 'iam-role', id: name });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return left;
}
