/**
 * The fault matrix: every AWS operation the tasks call × {throttle ×3, 5xx ×3, permanent refusal,
 * NotFound after create, DependencyViolation ×5}, a hung task at each task state, a stop at each
 * state (one during a slow create), and a run that times out. Throttling and 5xx codes per service
 * are the emulator's (emulator/core/faults.ts); refusals use each service's AccessDenied spelling.
 */
import type { FaultRule } from '../../emulator/core/faults.ts';
import type { ServiceName } from '../../emulator/core/service.ts';
import type { FaultCase } from './harness.ts';

/** Operation → service, for every call in tasks/ (the probe's InvokeModel and Lambda's Invoke included). */
export const OPERATIONS: Record<string, ServiceName> = {
  DescribeVpcEndpointServices: 'ec2',
  DescribeAvailabilityZones: 'ec2',
  GetCallerIdentity: 'sts',
  GetFoundationModel: 'bedrock',
  GetInferenceProfile: 'bedrock',
  DescribeVpcs: 'ec2',
  CreateVpc: 'ec2',
  ModifyVpcAttribute: 'ec2',
  DescribeSubnets: 'ec2',
  CreateSubnet: 'ec2',
  DescribeSecurityGroups: 'ec2',
  CreateSecurityGroup: 'ec2',
  RevokeSecurityGroupEgress: 'ec2',
  AuthorizeSecurityGroupEgress: 'ec2',
  AuthorizeSecurityGroupIngress: 'ec2',
  CreateVpcEndpoint: 'ec2',
  DescribeVpcEndpoints: 'ec2',
  ModifyVpcEndpoint: 'ec2',
  DescribeRouteTables: 'ec2',
  CreateRole: 'iam',
  GetRole: 'iam',
  PutRolePolicy: 'iam',
  AttachRolePolicy: 'iam',
  GetRolePolicy: 'iam',
  AssumeRole: 'sts',
  CreateFunction: 'lambda',
  GetFunctionConfiguration: 'lambda',
  UpdateFunctionConfiguration: 'lambda',
  Invoke: 'lambda',
  InvokeModel: 'bedrock',
  DeleteFunction: 'lambda',
  DeleteVpcEndpoints: 'ec2',
  DescribeNetworkInterfaces: 'ec2',
  DeleteNetworkInterface: 'ec2',
  RevokeSecurityGroupIngress: 'ec2',
  DeleteSecurityGroup: 'ec2',
  DeleteSubnet: 'ec2',
  DeleteVpc: 'ec2',
  ListRolePolicies: 'iam',
  DeleteRolePolicy: 'iam',
  ListAttachedRolePolicies: 'iam',
  DetachRolePolicy: 'iam',
  DeleteRole: 'iam',
};

/**
 * Operations only teardown calls: refusing them cannot change the verdict, only the leftovers.
 * DescribeNetworkInterfaces, ListRolePolicies and ListAttachedRolePolicies are not here: the
 * verify tasks read the endpoint's ENIs and the probe role back with them, so refusing them leaves
 * an obligation unobserved (verdict `error`).
 */
export const TEARDOWN_ONLY = new Set([
  'DeleteFunction',
  'DeleteVpcEndpoints',
  'DeleteNetworkInterface',
  'DeleteSecurityGroup',
  'DeleteSubnet',
  'DeleteVpc',
  'DeleteRolePolicy',
  'DetachRolePolicy',
  'DeleteRole',
]);

/**
 * Lookups whose refusal the product rides out on purpose: Preflight's model lookup is advisory (a
 * refused GetFoundationModel cannot tell a typo from a missing permission; the run goes on and the
 * allow check shows model access as it is). Teardown's detach of the probe from the VPC
 * (UpdateFunctionConfiguration) is best effort: the DeleteFunction after it releases the ENIs too.
 * Revoking the endpoint group's ingress reference is best effort as well: once the workload
 * group's egress reference is gone, the endpoint group can be deleted first and the workload
 * group after it, so a refused RevokeSecurityGroupIngress leaves nothing behind.
 */
export const ADVISORY = new Set([
  'GetFoundationModel',
  'UpdateFunctionConfiguration',
  'RevokeSecurityGroupIngress',
]);

const REFUSAL: Record<ServiceName, [string, number]> = {
  ec2: ['UnauthorizedOperation', 403],
  iam: ['AccessDenied', 403],
  sts: ['AccessDenied', 403],
  lambda: ['AccessDeniedException', 403],
  bedrock: ['AccessDeniedException', 403],
  states: ['AccessDeniedException', 400],
  'access-analyzer': ['AccessDeniedException', 403],
};

/** Where the emulator consults `not-found-after-create` (EC2 lookups by id, IAM GetRole) and `dependency-violation`. */
const NOT_FOUND_OPS = [
  'DescribeVpcs',
  'DescribeSubnets',
  'DescribeSecurityGroups',
  'DescribeVpcEndpoints',
  'ModifyVpcAttribute',
  'AuthorizeSecurityGroupIngress',
  'GetRole',
];
const DEPENDENCY_OPS = ['DeleteVpc', 'DeleteSubnet', 'DeleteSecurityGroup'];

export type FaultKind =
  | 'throttle'
  | 'server-error'
  | 'refuse'
  | 'not-found-after-create'
  | 'dependency-violation';

export function operationCases(): (FaultCase & { kind: FaultKind; operation: string })[] {
  const out: (FaultCase & { kind: FaultKind; operation: string })[] = [];
  for (const [operation, service] of Object.entries(OPERATIONS)) {
    const on = { service, operation };
    const [code, status] = REFUSAL[service];
    const cases: [FaultKind, FaultRule][] = [
      ['throttle', { kind: 'throttle', ...on, times: 3 }],
      ['server-error', { kind: 'server-error', ...on, times: 3 }],
      [
        'refuse',
        { kind: 'error', ...on, code, status, message: `refused by the fault matrix: ${operation}` },
      ],
    ];
    if (NOT_FOUND_OPS.includes(operation))
      cases.push(['not-found-after-create', { kind: 'not-found-after-create', ...on, times: 1 }]);
    if (DEPENDENCY_OPS.includes(operation))
      cases.push(['dependency-violation', { kind: 'dependency-violation', ...on, times: 5 }]);
    for (const [kind, rule] of cases)
      out.push({
        name: `${operation}-${kind}`,
        kind,
        operation,
        faults: [rule],
        // Five DependencyViolations with cleanup's backoff (5–30 s, full jitter) and the ENI watch
        // can outlast the harness's 60 s cleanup deadline: give the survivable case the time a
        // real run has (its default is 3600 s), so the case tests surviving, not the deadline.
        ...(kind === 'dependency-violation' ? { deadlines: { cleanupSeconds: 900 } } : {}),
      });
  }
  return out;
}

/**
 * A task that hangs past its timeout (the sandbox is killed: States.Timeout), on a call only that
 * task makes: Lambda's Invoke would first hang Step Functions' invoke of Preflight, so VerifyAllow
 * hangs on its route-table read-back instead.
 */
export const HUNG_TASKS: { task: string; operation: string; service: ServiceName; delayMs: number }[] = [
  { task: 'Preflight', operation: 'DescribeVpcEndpointServices', service: 'ec2', delayMs: 70_000 },
  { task: 'CreateNetwork', operation: 'CreateVpc', service: 'ec2', delayMs: 310_000 },
  { task: 'CreateEndpoint', operation: 'CreateVpcEndpoint', service: 'ec2', delayMs: 130_000 },
  { task: 'CreateProbe', operation: 'CreateRole', service: 'iam', delayMs: 310_000 },
  { task: 'VerifyAllow', operation: 'DescribeRouteTables', service: 'ec2', delayMs: 910_000 },
  { task: 'Cleanup', operation: 'DeleteFunction', service: 'lambda', delayMs: 910_000 },
];

export function hungTaskCases(): (FaultCase & { task: string })[] {
  return HUNG_TASKS.map((h) => ({
    name: `hung-${h.task}`,
    task: h.task,
    faults: [{ kind: 'delay', service: h.service, operation: h.operation, delayMs: h.delayMs, times: 1 }],
  }));
}

export const STOP_STATES = [
  'Preflight',
  'CreateNetwork',
  'CreateEndpoint',
  'ProvisionEndpointAndProbe',
  'WaitForEndpoint',
  'WaitForProbe',
  'VerifyAllow',
  'FlipEndpointPolicyToDeny',
  'VerifyDeny',
  'VerdictKnown',
  'Cleanup',
  'Report',
];

export function stopCases(): FaultCase[] {
  return [
    ...STOP_STATES.map((s) => ({ name: `stop-${s}`, faults: [], stopAt: s })),
    // The stop lands while CreateVpc is still on its way: the VPC appears after the stop.
    {
      name: 'stop-during-slow-CreateVpc',
      faults: [
        { kind: 'delay', service: 'ec2', operation: 'CreateVpc', delayMs: 200_000, times: 1 } as FaultRule,
      ],
      stopAt: 'CreateNetwork',
    },
  ];
}
