/**
 * One Lambda function per manifest task (and the sweeper), bundled by esbuild on this machine
 * with the same settings the local deployer uses (tasks/build.ts): no Docker, ESM, minified,
 * source maps, the AWS SDK left to the runtime, arm64 on the newest Node.js runtime.
 */
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  ESBUILD_TARGET,
  ESM_REQUIRE_BANNER,
  EXTERNAL_MODULES,
  LAMBDA_RUNTIME,
  MAIN_FIELDS,
  PROBE_EMBEDDING_TASK,
  REPO_ROOT,
  writeProbeInject,
} from '../tasks/build.ts';
import type { TaskDefinition, TaskPermissionSet } from '../tasks/manifest.ts';

/**
 * How task code gets into the template. `esbuild` is the only mode for deploying;
 * `placeholder-for-tests` puts inline stubs in place of bundles so template tests can run
 * before (or without) bundling the task entries. A placeholder template must never be deployed.
 */
export type TaskCodeMode = 'esbuild' | 'placeholder-for-tests';

export const TASK_RUNTIME = lambda.Runtime.NODEJS_24_X;
if (TASK_RUNTIME.name !== LAMBDA_RUNTIME) {
  throw new Error(
    `infra uses ${TASK_RUNTIME.name} but tasks/build.ts targets ${LAMBDA_RUNTIME}: keep them the same`,
  );
}

/** The CreateProbe task reads the probe's code from this identifier (tasks/create-probe.ts). */

export interface TaskFunctionsProps {
  tasks: readonly TaskDefinition[];
  roles: Record<TaskPermissionSet, iam.IRole>;
  environment: Record<string, string>;
  /** Extra variables for single tasks, by task name. */
  taskEnvironment?: Record<string, Record<string, string>>;
  logRetention: logs.RetentionDays;
  codeMode: TaskCodeMode;
}

export class TaskFunctions extends Construct {
  readonly functions: Record<string, lambda.Function> = {};
  readonly logGroups: Record<string, logs.LogGroup> = {};

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    let probeInject: string | undefined;
    for (const task of props.tasks) {
      const role = props.roles[task.permissions];
      const logGroup = new logs.LogGroup(this, `${task.name}Logs`, {
        retention: props.logRetention,
        // `cdk destroy` must leave nothing behind; retention bounds what the logs cost meanwhile.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      logGroup.grantWrite(role);
      const common: lambda.FunctionOptions = {
        description: `privatelink-verify: ${task.description}`,
        architecture: lambda.Architecture.ARM_64,
        timeout: Duration.seconds(task.timeoutSeconds),
        memorySize: task.memoryMb,
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        environment: {
          ...props.environment,
          ...props.taskEnvironment?.[task.name],
          // Stack traces in the logs point into the TypeScript sources, not the minified bundle.
          ...(props.codeMode === 'esbuild' ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        },
      };
      let fn: lambda.Function;
      if (props.codeMode === 'placeholder-for-tests') {
        fn = new lambda.Function(this, task.name, {
          ...common,
          runtime: TASK_RUNTIME,
          handler: 'index.handler',
          code: lambda.Code.fromInline(
            'exports.handler = async () => { throw new Error("placeholder synthesized for template tests: never deploy"); };',
          ),
        });
      } else {
        if (task.name === PROBE_EMBEDDING_TASK)
          probeInject ??= writeProbeInject(join(REPO_ROOT, '.build', 'infra'));
        fn = new NodejsFunction(this, task.name, {
          ...common,
          runtime: TASK_RUNTIME,
          entry: join(REPO_ROOT, task.entry),
          handler: 'handler',
          projectRoot: REPO_ROOT,
          depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
          bundling: {
            forceDockerBundling: false,
            format: OutputFormat.ESM,
            target: ESBUILD_TARGET,
            minify: true,
            sourceMap: true,
            sourceMapMode: SourceMapMode.EXTERNAL,
            sourcesContent: false,
            externalModules: [...EXTERNAL_MODULES],
            mainFields: [...MAIN_FIELDS],
            banner: ESM_REQUIRE_BANNER,
            ...(task.name === PROBE_EMBEDDING_TASK && probeInject ? { inject: [probeInject] } : {}),
          },
        });
      }
      this.functions[task.name] = fn;
      this.logGroups[task.name] = logGroup;
    }
  }
}
