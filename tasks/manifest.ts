/**
 * The one list of task functions. The CDK stack and the local deployer both read it, and the ASL
 * refers to each task only as `${<name>FunctionArn}`, so one definition runs on AWS and locally.
 */
export type TaskPermissionSet = 'read' | 'network' | 'endpoint' | 'probe' | 'verify' | 'cleanup' | 'none';

export interface TaskDefinition {
  /** PascalCase name: the ASL substitution is `${<name>FunctionArn}`. */
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** What the task's role may do (infra/ turns this into least-privilege statements). */
  permissions: TaskPermissionSet;
  description: string;
}

export const TASKS: readonly TaskDefinition[] = [
  {
    name: 'Preflight',
    entry: 'tasks/preflight.ts',
    timeoutSeconds: 60,
    memoryMb: 256,
    permissions: 'read',
    description: 'Validate input; check the bedrock-runtime endpoint service and its AZs',
  },
  {
    name: 'CreateNetwork',
    entry: 'tasks/create-network.ts',
    timeoutSeconds: 300,
    memoryMb: 256,
    permissions: 'network',
    description: 'VPC with DNS on, two private subnets, workload and endpoint security groups',
  },
  {
    name: 'CreateEndpoint',
    entry: 'tasks/create-endpoint.ts',
    timeoutSeconds: 120,
    memoryMb: 256,
    permissions: 'endpoint',
    description:
      'Interface endpoint for bedrock-runtime with private DNS, created with the allow policy under test',
  },
  {
    name: 'WaitForEndpoint',
    entry: 'tasks/wait-endpoint.ts',
    timeoutSeconds: 900,
    memoryMb: 256,
    permissions: 'read',
    description: 'Poll the endpoint until it is available',
  },
  {
    name: 'CreateProbe',
    entry: 'tasks/create-probe.ts',
    timeoutSeconds: 300,
    memoryMb: 256,
    permissions: 'probe',
    description: 'Probe role with its aws:SourceVpce identity policy, and the probe function inside the VPC',
  },
  {
    name: 'WaitForProbe',
    entry: 'tasks/wait-probe.ts',
    timeoutSeconds: 900,
    memoryMb: 256,
    permissions: 'read',
    description: 'Poll the probe function until it is Active',
  },
  {
    name: 'VerifyAllow',
    entry: 'tasks/verify-allow.ts',
    timeoutSeconds: 900,
    memoryMb: 256,
    permissions: 'verify',
    description: 'Invoke the probe until InvokeModel succeeds through the endpoint, or a deadline',
  },
  {
    name: 'FlipEndpointPolicyToDeny',
    entry: 'tasks/flip-to-deny.ts',
    timeoutSeconds: 120,
    memoryMb: 256,
    permissions: 'endpoint',
    description: 'Replace the endpoint policy with an explicit Deny',
  },
  {
    name: 'VerifyDeny',
    entry: 'tasks/verify-deny.ts',
    timeoutSeconds: 900,
    memoryMb: 256,
    permissions: 'verify',
    description: 'Invoke the probe until the endpoint policy refuses it, or a deadline; measure propagation',
  },
  {
    name: 'BuildReport',
    entry: 'tasks/build-report.ts',
    timeoutSeconds: 60,
    memoryMb: 256,
    permissions: 'none',
    description: 'The verdict report (before and after cleanup)',
  },
  {
    name: 'Cleanup',
    entry: 'tasks/cleanup.ts',
    timeoutSeconds: 900,
    memoryMb: 256,
    permissions: 'cleanup',
    description: 'Delete everything the run created, in dependency order; report leftovers',
  },
];

/**
 * The longest a task that creates something can still be running after its execution stopped
 * (Step Functions does not cancel a Lambda invocation in flight): the safety net waits this out.
 */
export const LONGEST_TASK_TIMEOUT_SECONDS = Math.max(
  ...TASKS.filter((t) => t.name !== 'Cleanup' && t.name !== 'BuildReport').map((t) => t.timeoutSeconds),
);

/** The in-VPC probe: created at run time by CreateProbe, so it is not a task state. */
export const PROBE_FUNCTION = { entry: 'tasks/probe/handler.ts', timeoutSeconds: 60, memoryMb: 256 } as const;

export function substitutionName(task: TaskDefinition): string {
  return `${task.name}FunctionArn`;
}

/**
 * Deletes resources whose expiry tag has passed (runs on a schedule on AWS, `privatelink-verify
 * sweep` locally). The EventBridge rule for ABORTED / TIMED_OUT executions targets Cleanup, which
 * accepts that event shape too.
 */
export const SWEEPER_FUNCTION: TaskDefinition = {
  name: 'Sweeper',
  entry: 'tasks/sweep.ts',
  timeoutSeconds: 900,
  memoryMb: 256,
  permissions: 'cleanup',
  description: 'Delete expired privatelink-verify resources left by runs that could not clean up',
};

/** Environment variables the tasks read (set by CDK; optional locally). */
export const TASK_ENV = {
  /** ARN of the managed policy used as the probe role's permissions boundary. */
  probePermissionsBoundaryArn: 'PROBE_PERMISSIONS_BOUNDARY_ARN',
  /** Comma-separated CIDR blocks a run's VPC must fall inside (the stack's configured pool). */
  vpcCidrPool: 'PRIVATELINK_VERIFY_VPC_CIDR_POOL',
  /**
   * ARN of the verify tasks' role: the probe role trusts it too, so the verify task can call
   * Bedrock with the probe role's credentials from outside the VPC and show it is refused.
   */
  outsideCallerRoleArn: 'PRIVATELINK_VERIFY_OUTSIDE_CALLER_ROLE_ARN',
  /**
   * Comma-separated model ids the probe boundary allows (the stack's allowedModels): CreateProbe
   * picks from them a model the endpoint policy does not name, for the unlisted-model call.
   */
  allowedModels: 'PRIVATELINK_VERIFY_ALLOWED_MODELS',
} as const;
