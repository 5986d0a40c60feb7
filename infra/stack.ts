/**
 * The privatelink-verify stack: task functions, the verification state machine (the ASL file with
 * the manifest's substitutions), the safety nets that clean up after runs that cannot clean up
 * themselves, and the role GitHub workflows assume.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ArnFormat,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { REPO_ROOT } from '../tasks/build.ts';
import { SWEEPER_FUNCTION, substitutionName, TASK_ENV, TASKS } from '../tasks/manifest.ts';
import {
  configFromContext,
  type PrivateLinkVerifyConfig,
  type PrivateLinkVerifyConfigInput,
  resolveConfig,
} from './config.ts';
import { GitHubAccess } from './github-access.ts';
import { ProbeBoundary } from './probe-boundary.ts';
import { type TaskCodeMode, TaskFunctions } from './task-functions.ts';
import { TaskRoles } from './task-roles.ts';

export const ASL_PATH = join(REPO_ROOT, 'statemachine', 'verify.asl.json');
/** The safety net's state machine: Cleanup in a loop until nothing is left (see the file's Comment). */
export const SAFETY_NET_ASL_PATH = join(REPO_ROOT, 'statemachine', 'safety-net.asl.json');

/**
 * Step Functions events the safety net answers: executions that ended without running their own
 * Catch → Cleanup (ABORTED, TIMED_OUT), and FAILED, which covers a Lambda Invoke that failed past
 * every Catch (and, harmlessly, runs that did clean up: the safety net then finds nothing).
 */
export const UNCLEAN_END_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'];

/** Variable the Preflight task reads to refuse VPC CIDRs outside the configured pool. */
export const VPC_CIDR_POOL_ENV = TASK_ENV.vpcCidrPool;

export interface PrivateLinkVerifyStackProps extends StackProps {
  /** Explicit configuration; any field left out is read from CDK context, then defaults. */
  config?: PrivateLinkVerifyConfigInput;
  /** `placeholder-for-tests` skips bundling: for template tests only, never for deploying. */
  taskCode?: TaskCodeMode;
}

/** The ASL's `${...}` variables; the manifest must supply exactly these. */
export function aslSubstitutionNames(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))].sort();
}

export class PrivateLinkVerifyStack extends Stack {
  readonly config: PrivateLinkVerifyConfig;
  readonly stateMachine: sfn.StateMachine;
  readonly taskFunctions: TaskFunctions;
  readonly taskRoles: TaskRoles;
  readonly probeBoundary: ProbeBoundary;
  readonly cleanupRule: events.Rule;
  readonly safetyNet: sfn.StateMachine;
  readonly sweepSchedule: events.Rule;
  readonly github: GitHubAccess | undefined;

  constructor(scope: Construct, id: string, props: PrivateLinkVerifyStackProps = {}) {
    const config = resolveConfig(configFromContext((k) => scope.node.tryGetContext(k), props.config));
    super(scope, id, {
      description:
        'privatelink-verify: proves Bedrock is reached only through a PrivateLink endpoint whose policy decides',
      ...props,
      env: { account: props.env?.account ?? process.env.CDK_DEFAULT_ACCOUNT, region: config.region },
    });
    if (props.env?.region && props.env.region !== config.region) {
      throw new Error(
        `stack env region ${props.env.region} differs from the configured region ${config.region}`,
      );
    }
    this.config = config;

    const asl = readFileSync(ASL_PATH, 'utf8');
    const aslDoc = JSON.parse(asl) as { TimeoutSeconds?: number };
    const wanted = aslSubstitutionNames(asl);
    const supplied = TASKS.map(substitutionName).sort();
    const missing = wanted.filter((n) => !supplied.includes(n));
    const unused = supplied.filter((n) => !wanted.includes(n));
    if (missing.length || unused.length) {
      throw new Error(
        `statemachine/verify.asl.json and tasks/manifest.ts disagree: ${missing.length ? `no task for ${missing.join(', ')}` : ''}${missing.length && unused.length ? '; ' : ''}${unused.length ? `tasks never referenced: ${unused.join(', ')}` : ''}`,
      );
    }
    const executionTimeoutSeconds = aslDoc.TimeoutSeconds;
    if (!executionTimeoutSeconds) {
      throw new Error(
        'statemachine/verify.asl.json must set TimeoutSeconds: a run must never outlive its budget',
      );
    }

    const logRetention = config.logRetentionDays as logs.RetentionDays;
    this.probeBoundary = new ProbeBoundary(this, 'ProbeBoundary', { allowedModels: config.allowedModels });
    this.taskRoles = new TaskRoles(this, 'TaskRoles', {
      tagKey: config.tagKey,
      probeBoundary: this.probeBoundary.policy,
    });
    this.taskFunctions = new TaskFunctions(this, 'Tasks', {
      tasks: [...TASKS, SWEEPER_FUNCTION],
      roles: this.taskRoles.roles,
      environment: { [TASK_ENV.probePermissionsBoundaryArn]: this.probeBoundary.policy.managedPolicyArn },
      taskEnvironment: {
        Preflight: { [VPC_CIDR_POOL_ENV]: config.vpcCidrPool.join(',') },
        // The outside caller of obligation 2: the probe role trusts the verify role.
        // It also may assume the bystander; a second allowed model is the unlisted model (obligation 3).
        CreateProbe: {
          [TASK_ENV.outsideCallerRoleArn]: this.taskRoles.roles.verify.roleArn,
          [TASK_ENV.allowedModels]: config.allowedModels.join(','),
        },
      },
      logRetention,
      codeMode: props.taskCode ?? 'esbuild',
    });
    const fn = this.taskFunctions.functions;

    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // The vendedlogs prefix keeps the CloudWatch Logs resource policy from growing per log group.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-verify`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Verify', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'privatelink-verify verification run',
      definitionBody: sfn.DefinitionBody.fromString(asl),
      definitionSubstitutions: Object.fromEntries(
        TASKS.map((t) => [substitutionName(t), fn[t.name]!.functionArn]),
      ),
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    // The ASL names unqualified function ARNs: no version wildcard is needed.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTasks',
        actions: ['lambda:InvokeFunction'],
        resources: TASKS.map((t) => fn[t.name]!.functionArn),
      }),
    );
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for logging level ALL and X-Ray: CloudWatch Logs delivery actions and xray:PutTraceSegments/GetSampling* authorize no resource type.',
    });

    // StopExecution and timeouts skip Catch, and a task in flight at the stop keeps running: a
    // small state machine runs Cleanup until it has outlived every such task and nothing is left.
    // A state machine rather than the Lambda as target: one invocation (at most 15 min) cannot wait
    // out a 15-min task and then clean up, and EventBridge retries only failed deliveries.
    this.safetyNet = new sfn.StateMachine(this, 'SafetyNet', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment:
        'privatelink-verify safety net: Cleanup after executions that ended ABORTED, TIMED_OUT or FAILED',
      definitionBody: sfn.DefinitionBody.fromString(readFileSync(SAFETY_NET_ASL_PATH, 'utf8')),
      definitionSubstitutions: { CleanupFunctionArn: fn.Cleanup!.functionArn },
      logs: {
        destination: new logs.LogGroup(this, 'SafetyNetLogs', {
          logGroupName: `/aws/vendedlogs/states/${this.stackName}-safety-net`,
          retention: logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
      tracingEnabled: true,
    });
    this.safetyNet.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeCleanup',
        actions: ['lambda:InvokeFunction'],
        resources: [fn.Cleanup!.functionArn],
      }),
    );
    Validations.of(this.safetyNet.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for logging level ALL and X-Ray: CloudWatch Logs delivery actions and xray:PutTraceSegments/GetSampling* authorize no resource type.',
    });
    this.cleanupRule = new events.Rule(this, 'CleanupAfterAbortOrTimeout', {
      description:
        'Start the safety net for privatelink-verify executions that end ABORTED, TIMED_OUT or FAILED',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: UNCLEAN_END_STATUSES, stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [
        new targets.SfnStateMachine(this.safetyNet, { retryAttempts: 8, maxEventAge: Duration.hours(6) }),
      ],
    });
    this.sweepSchedule = new events.Rule(this, 'HourlySweep', {
      description: 'Delete expired privatelink-verify resources that no cleanup removed',
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [
        new targets.LambdaFunction(fn[SWEEPER_FUNCTION.name]!, {
          retryAttempts: 2,
          // The sweeper asks whether a run's execution still runs: never free a live run's pool
          // lease, free an ended one's before its expiry (tasks/sweep.ts).
          event: events.RuleTargetInput.fromObject({ stateMachineArn: this.stateMachine.stateMachineArn }),
        }),
      ],
    });
    // A policy of its own, not the role's default one: the functions (Cleanup among them, which the
    // state machine names) do not wait for it, so naming the state machine here makes no cycle.
    const readsExecutions = new iam.Policy(this, 'SweeperReadsExecutions', {
      roles: [this.taskRoles.roles[SWEEPER_FUNCTION.permissions]],
      statements: [
        new iam.PolicyStatement({
          sid: 'IsTheRunStillRunning',
          actions: ['states:DescribeExecution'],
          resources: [
            Stack.of(this).formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${this.stateMachine.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      ],
    });
    const machineId = Stack.of(this).getLogicalId(this.stateMachine.node.defaultChild as CfnElement);
    Validations.of(readsExecutions).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${Stack.of(this).region}:<AWS::AccountId>:execution:<${machineId}.Name>:*]`,
      reason:
        'Executions are named per run: the sweeper may only describe executions of this one state machine, read-only.',
    });

    if (config.repository) {
      this.github = new GitHubAccess(this, 'GitHub', {
        repository: config.repository,
        branches: config.branches,
        environments: config.environments,
        allowPullRequests: config.allowPullRequests,
        existingOidcProviderArn: config.existingOidcProviderArn,
        stateMachine: this.stateMachine,
        maxSessionDuration: Duration.hours(
          Math.min(12, Math.max(1, Math.ceil(executionTimeoutSeconds / 3600))),
        ),
      });
      new CfnOutput(this, 'GitHubRoleArn', {
        value: this.github.role.roleArn,
        description: 'role-to-assume for aws-actions/configure-aws-credentials',
      });
    } else {
      Validations.of(this).addWarning(
        'privatelink-verify:no-github-role',
        'No repository configured: the GitHub role is not created. Set -c privatelink-verify:repository=owner/name to create it.',
      );
    }
    new CfnOutput(this, 'StateMachineArn', {
      value: this.stateMachine.stateMachineArn,
      description: 'state-machine-arn for the verify workflow',
    });
    new CfnOutput(this, 'Region', { value: this.region, description: 'Region every run uses' });
  }
}
