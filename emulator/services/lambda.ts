import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { unzipSync } from 'fflate';
import { baseContext, decide } from '../auth/policies.ts';
import { trustAllows } from '../auth/trust.ts';
import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type { Caller, CallerNetwork } from '../core/identity.ts';
import type { LambdaInvokeResult, LambdaModel, NetworkModel } from '../core/models.ts';
import type {
  EmulatedService,
  InventoryItem,
  OperationCall,
  RestJsonApi,
  RestRequest,
  RestResult,
} from '../core/service.ts';
import { storePackage } from './lambda/code-store.ts';
import { FunctionRuntime, IDLE_RECLAIM_REAL_MS, type InvocationOutcome } from './lambda/runtime.ts';

const SUPPORTED_RUNTIMES = ['nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x'];
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ROLE_ARN = /^arn:aws[a-zA-Z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-/]+$/;
/** Environment keys Lambda sets itself and refuses to let a function override. */
const RESERVED_ENV = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
];
/**
 * The Node.js Lambda runtimes ship AWS SDK v3 (with its `@smithy/*` packages) and bundles leave
 * them external, so function code finds the emulator's own copies, as it would find the
 * runtime's on AWS.
 */
function runtimeScopeDir(probePackage: string): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve(`${probePackage}/package.json`);
    return dirname(dirname(pkg));
  } catch {
    return undefined;
  }
}
const RUNTIME_SCOPES: [string, string | undefined][] = [
  ['@aws-sdk', runtimeScopeDir('@aws-sdk/client-sts')],
  ['@smithy', runtimeScopeDir('@smithy/node-http-handler')],
];
/** Synchronous invocation request and response limit (6 MB). */
const MAX_SYNC_PAYLOAD = 6_291_556;
/** Updates that touch no network settle in seconds; VPC work takes the profile's `functionUpdate`. */
const QUICK_UPDATE_MAX_MS = 3_000;
const QUICK_ACTIVE_MAX_MS = 1_000;

interface VpcSetting {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds: string[];
}

interface CodePackage {
  /** The package's directory in the machine's code store (shared, never deleted here). */
  root: string;
  /** The unzipped package (LAMBDA_TASK_ROOT). */
  dir: string;
  sha256: string;
  size: number;
}

/** Everything an update can change; invocations run against one of these. */
interface FunctionSettings {
  runtime: string;
  handler: string;
  role: string;
  timeout: number;
  memorySize: number;
  description: string;
  environment: Record<string, string>;
  vpc?: VpcSetting;
  architectures: string[];
  code: CodePackage;
  revisionId: string;
  lastModified: number;
}

interface LambdaFunction {
  name: string;
  region: string;
  arn: string;
  tags: Record<string, string>;
  /** Virtual ms when the function leaves `Pending`. */
  activeAt: number;
  /** What invocations use: the previous settings while an update is in progress. */
  live: FunctionSettings;
  /** What the API shows: the newest settings. */
  latest: FunctionSettings;
  /** Virtual ms when `latest` takes over from `live`. */
  updateDoneAt: number;
  /**
   * On a profile that shows every state (LatencyProfile.showsEveryState), a VPC function stays
   * `Pending`, and a network update `InProgress`, until a client has been shown that state.
   */
  mustShowPending: boolean;
  shownPending?: boolean;
  mustShowUpdate?: boolean;
  shownUpdate?: boolean;
  runtime?: FunctionRuntime;
}

function lambdaError(code: string, message: string, status = 400, type = 'User'): AwsError {
  return new AwsError(code, message, status, { Type: type });
}

function validation(field: string, value: unknown, constraint: string): AwsError {
  return lambdaError(
    'ValidationException',
    `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

function invalidParameter(message: string): AwsError {
  return lambdaError('InvalidParameterValueException', message);
}

/** AWS's LastModified format: 2024-05-01T10:00:00.000+0000. */
function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function parseJsonBody(body: Buffer): Record<string, any> {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw lambdaError('InvalidRequestContentException', 'Could not parse request body into json');
  }
}

function _asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * Lambda: functions from zipped esbuild bundles, run in worker threads with their own
 * environment, credentials, virtual clock and VPC view; states and update windows as on AWS.
 */
export class LambdaService implements EmulatedService, LambdaModel {
  readonly name = 'lambda' as const;
  readonly api: RestJsonApi;
  /**
   * Real milliseconds (at least; never below the function's Timeout in real seconds) a handler may
   * compute without once waiting before it is stopped as a runaway. Virtual time stands still
   * while a handler computes, so its Timeout, counted in virtual time, stops only waits.
   */
  minRealTimeoutMs = 5_000;
  /**
   * Real milliseconds an idle sandbox is kept for its next invocation before it is reclaimed
   * (warm or cold is decided on the virtual clock either way, see lambda/runtime.ts). A test that
   * runs many executions in one emulator keeps them longer, so later runs find them loaded.
   */
  sandboxIdleMs = IDLE_RECLAIM_REAL_MS;
  /**
   * A run that starts a new sandbox reclaims those it left idle (memory only: warmth is virtual).
   * Off for tests that keep sandboxes loaded for the runs after it.
   */
  reclaimOnNextStep = true;
  private readonly ctx: EmulatorContext;
  /** Keyed by `region/name`. */
  private readonly functions = new Map<string, LambdaFunction>();
  private readonly background = new Set<Promise<unknown>>();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    const fn = '/2015-03-31/functions/{FunctionName}';
    const route = (
      method: RestJsonApi['routes'][number]['method'],
      path: string,
      operation: string,
      handler: (req: RestRequest, call: OperationCall) => Promise<RestResult> | RestResult,
    ) => ({ method, path, operation, handler });
    this.api = {
      protocol: 'rest-json',
      routes: [
        route('POST', '/2015-03-31/functions', 'CreateFunction', (req, call) =>
          this.createFunction(req, call),
        ),
        route('GET', '/2015-03-31/functions', 'ListFunctions', (req, call) => this.listFunctions(req, call)),
        route('GET', '/2015-03-31/functions/', 'ListFunctions', (req, call) => this.listFunctions(req, call)),
        route('GET', fn, 'GetFunction', (req, call) => this.getFunction(req, call)),
        route('GET', `${fn}/configuration`, 'GetFunctionConfiguration', (req, call) => ({
          json: this.configuration(this.shown(this.lookup(req, call))),
        })),
        route('PUT', `${fn}/configuration`, 'UpdateFunctionConfiguration', (req, call) =>
          this.updateConfiguration(req, call),
        ),
        route('PUT', `${fn}/code`, 'UpdateFunctionCode', (req, call) => this.updateCode(req, call)),
        route('DELETE', fn, 'DeleteFunction', (req, call) => this.deleteFunction(req, call)),
        route('POST', `${fn}/invocations`, 'Invoke', (req, call) => this.invokeRoute(req, call)),
        route('GET', '/2017-03-31/tags/{Resource+}', 'ListTags', (req, call) => ({
          json: { Tags: this.byArn(req.params.Resource!, call).tags },
        })),
        route('POST', '/2017-03-31/tags/{Resource+}', 'TagResource', (req, call) => {
          const f = this.byArn(req.params.Resource!, call);
          Object.assign(f.tags, parseJsonBody(req.body).Tags ?? {});
          return { status: 204 };
        }),
        route('DELETE', '/2017-03-31/tags/{Resource+}', 'UntagResource', (req, call) => {
          const f = this.byArn(req.params.Resource!, call);
          for (const key of req.query.getAll('tagKeys')) delete f.tags[key];
          return { status: 204 };
        }),
      ],
    };
  }

  // ---- LambdaModel: Step Functions invokes in-process. ----

  async invoke(functionNameOrArn: string, payload: Buffer, region: string): Promise<LambdaInvokeResult> {
    const delay = this.ctx.faults.beforeOperation('lambda', 'Invoke');
    if (delay > 0) await this.ctx.clock.sleep(delay);
    const f = this.resolve(functionNameOrArn, region);
    const outcome = await this.runInvocation(f, payload);
    return {
      statusCode: 200,
      payload: Buffer.from(outcome.payload),
      ...(outcome.error ? { functionError: 'Unhandled' } : {}),
    };
  }

  // ---- Lookup. ----

  /** FunctionName may be a name, a partial ARN (`123456789012:function:name`) or a full ARN, with an optional qualifier. */
  private resolve(ref: string, callRegion: string, qualifier?: string | null): LambdaFunction {
    let region = callRegion;
    let rest = ref;
    const full = /^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:(.+)$/.exec(ref);
    const partial = /^(\d{12}):function:(.+)$/.exec(ref);
    if (full) {
      region = full[1]!;
      rest = full[3]!;
    } else if (partial) {
      rest = partial[2]!;
    }
    const [name, refQualifier] = rest.split(':') as [string, string | undefined];
    const q = qualifier || refQualifier;
    const arn = `arn:aws:lambda:${region}:${this.ctx.accountId}:function:${name}`;
    const f = this.functions.get(`${region}/${name}`);
    if (!f || (q && q !== '$LATEST')) {
      throw lambdaError('ResourceNotFoundException', `Function not found: ${q ? `${arn}:${q}` : arn}`, 404);
    }
    this.settle(f);
    return f;
  }

  private lookup(req: RestRequest, call: OperationCall): LambdaFunction {
    return this.resolve(req.params.FunctionName!, call.region, req.query.get('Qualifier'));
  }

  private byArn(arn: string, call: OperationCall): LambdaFunction {
    if (!arn.startsWith('arn:'))
      throw validation(
        'resource',
        arn,
        'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:.*',
      );
    return this.resolve(arn, call.region);
  }

  /** Once an update's time has come, its settings take over and the old sandboxes retire. */
  private settle(f: LambdaFunction): void {
    if (f.live === f.latest || this.ctx.now() < f.updateDoneAt) return;
    if (f.mustShowUpdate && !f.shownUpdate) return;
    f.live = f.latest;
    f.runtime?.retire();
    f.runtime = undefined;
  }

  private isPending(f: LambdaFunction): boolean {
    return this.ctx.now() < f.activeAt || (f.mustShowPending && !f.shownPending);
  }

  /** A client is answered with the function's state: the intermediate states it shows have been seen. */
  private shown(f: LambdaFunction): LambdaFunction {
    if (this.isPending(f)) f.shownPending = true;
    if (f.live !== f.latest) f.shownUpdate = true;
    return f;
  }

  /** ResourceConflictException while Pending (Invoke and updates; Lambda API reference). */
  private refuseWhilePending(f: LambdaFunction): void {
    if (!this.isPending(f)) return;
    f.shownPending = true;
    throw lambdaError(
      'ResourceConflictException',
      'The operation cannot be performed at this time. The function is currently in the following state: Pending',
      409,
    );
  }

  // ---- Operations. ----

  private async createFunction(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const input = parseJsonBody(req.body);
    const name = String(input.FunctionName ?? '');
    if (!FUNCTION_NAME.test(name)) {
      throw validation(
        'functionName',
        name,
        'Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?',
      );
    }
    if ((input.PackageType ?? 'Zip') !== 'Zip')
      throw invalidParameter('The emulator runs Zip packages only.');
    const region = call.region;
    const base = this.validateSettings(input, undefined);
    if (this.functions.has(`${region}/${name}`)) {
      throw lambdaError('ResourceConflictException', `Function already exist: ${name}`, 409);
    }
    const vpc = this.validateVpc(input.VpcConfig, region, undefined);
    await this.checkRoleAssumable(
      base.role,
      `arn:aws:lambda:${region}:${this.ctx.accountId}:function:${name}`,
    );
    if (vpc) await this.checkEniPermission(base.role, region);
    const code = await this.storeCode(input.Code);
    if (this.functions.has(`${region}/${name}`)) {
      throw lambdaError('ResourceConflictException', `Function already exist: ${name}`, 409);
    }
    // Delays count from the moment the function exists (after its code is stored), not from the request.
    const now = this.ctx.now();
    const settings: FunctionSettings = { ...base, code, revisionId: randomUUID(), lastModified: now };
    if (vpc) settings.vpc = vpc;
    const activeDelay = vpc
      ? this.ctx.delay('functionActive')
      : Math.min(this.ctx.delay('functionActive'), QUICK_ACTIVE_MAX_MS);
    const f: LambdaFunction = {
      name,
      region,
      arn: `arn:aws:lambda:${region}:${this.ctx.accountId}:function:${name}`,
      tags: { ...(input.Tags ?? {}) },
      activeAt: now + activeDelay,
      live: settings,
      latest: settings,
      updateDoneAt: now,
      mustShowPending: vpc !== undefined && this.ctx.profile.showsEveryState,
    };
    if (vpc)
      this.ctx.ec2.attachLambdaEnis({
        functionName: name,
        region,
        subnetIds: vpc.subnetIds,
        securityGroupIds: vpc.securityGroupIds,
      });
    this.functions.set(`${region}/${name}`, f);
    return { status: 201, json: this.configuration(f) };
  }

  /** Checks shared by create and update; `current` holds the values an update leaves alone. */
  private validateSettings(
    input: Record<string, any>,
    current: FunctionSettings | undefined,
  ): Omit<FunctionSettings, 'code' | 'revisionId' | 'lastModified' | 'vpc'> {
    const runtime = String(input.Runtime ?? current?.runtime ?? '');
    if (!SUPPORTED_RUNTIMES.includes(runtime)) {
      throw invalidParameter(
        runtime
          ? `The runtime parameter of ${runtime} is not supported by this emulator: use one of ${SUPPORTED_RUNTIMES.join(', ')}.`
          : 'Runtime is required for .zip deployment package.',
      );
    }
    const handler = String(input.Handler ?? current?.handler ?? '');
    if (!/^[^\s]{1,128}$/.test(handler)) {
      if (!handler) throw invalidParameter('Handler is required for .zip deployment package.');
      throw validation('handler', handler, 'Member must satisfy regular expression pattern: [^\\s]+');
    }
    const timeout = Number(input.Timeout ?? current?.timeout ?? 3);
    if (!Number.isInteger(timeout) || timeout < 1)
      throw validation('timeout', timeout, 'Member must have value greater than or equal to 1');
    if (timeout > 900)
      throw validation('timeout', timeout, 'Member must have value less than or equal to 900');
    const memorySize = Number(input.MemorySize ?? current?.memorySize ?? 128);
    if (!Number.isInteger(memorySize) || memorySize < 128)
      throw validation('memorySize', memorySize, 'Member must have value greater than or equal to 128');
    if (memorySize > 10240)
      throw validation('memorySize', memorySize, 'Member must have value less than or equal to 10240');
    const environment: Record<string, string> =
      input.Environment !== undefined
        ? { ...(input.Environment?.Variables ?? {}) }
        : { ...(current?.environment ?? {}) };
    const reserved = Object.keys(environment).filter((k) => RESERVED_ENV.includes(k));
    if (reserved.length) {
      throw invalidParameter(
        `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
      );
    }
    const architectures: string[] = input.Architectures ?? current?.architectures ?? ['x86_64'];
    if (architectures.length !== 1 || !['x86_64', 'arm64'].includes(architectures[0]!)) {
      throw validation(
        'architectures',
        JSON.stringify(architectures),
        'Member must have length less than or equal to 1, Member must satisfy enum value set: [x86_64, arm64]',
      );
    }
    const role = String(input.Role ?? current?.role ?? '');
    if (!ROLE_ARN.test(role)) {
      throw validation(
        'role',
        role,
        'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+',
      );
    }
    return {
      runtime,
      handler,
      role,
      timeout,
      memorySize,
      description: String(input.Description ?? current?.description ?? ''),
      environment,
      architectures,
    };
  }

  /**
   * Lambda assumes the execution role at create time (and when an update names a role): it must
   * exist, its trust policy must let lambda.amazonaws.com assume it (decided by iam-simulate, as
   * STS and Step Functions decide trust), and it must have propagated. AWS's message: "The role
   * defined for the function cannot be assumed by Lambda." (Lambda API reference, CreateFunction
   * errors: InvalidParameterValueException).
   */
  private async checkRoleAssumable(roleArn: string, functionArn: string): Promise<void> {
    const role = this.ctx.iam.role(roleArn);
    const cannot = invalidParameter('The role defined for the function cannot be assumed by Lambda.');
    if (!role || role.arn !== roleArn) throw cannot;
    if (!(await trustAllows(this.ctx, role, { service: 'lambda.amazonaws.com', sourceArn: functionArn })))
      throw cannot;
    if (this.ctx.now() < this.ctx.iam.assumableByLambdaAt(role.roleName)) throw cannot;
  }

  /**
   * A function in a VPC needs its execution role to allow ec2:CreateNetworkInterface (Lambda
   * Developer Guide, "Giving Lambda functions access to resources in an Amazon VPC": the execution
   * role needs the AWSLambdaVPCAccessExecutionRole permissions). Decided as the role's session, by
   * the same policies, boundary and SCPs that decide every other call.
   */
  private async checkEniPermission(roleArn: string, region: string): Promise<void> {
    const role = this.ctx.iam.role(roleArn);
    const refused = invalidParameter(
      'The provided execution role does not have permissions to call CreateNetworkInterface on EC2',
    );
    if (!role) throw refused;
    const caller: Caller = {
      accessKeyId: 'lambda-service',
      principalArn: role.arn,
      sessionArn: `arn:aws:sts::${this.ctx.accountId}:assumed-role/${role.roleName}/lambda-vpc-check`,
      roleName: role.roleName,
      isAdmin: false,
    };
    const d = await decide(this.ctx, caller, {
      action: 'ec2:CreateNetworkInterface',
      resourceArn: `arn:aws:ec2:${region}:${this.ctx.accountId}:network-interface/resource-being-created`,
      context: baseContext(this.ctx, caller, region),
    });
    if (!d.allowed) throw refused;
  }

  /** `undefined` input keeps `current`; empty lists take the function out of its VPC. */
  private validateVpc(
    input: Record<string, any> | undefined,
    region: string,
    current: VpcSetting | undefined,
  ): VpcSetting | undefined {
    if (input === undefined) return current;
    const subnetIds: string[] = input.SubnetIds ?? [];
    const securityGroupIds: string[] = input.SecurityGroupIds ?? [];
    if (subnetIds.length === 0 && securityGroupIds.length === 0) return undefined;
    if (subnetIds.length > 16)
      throw validation('vpcConfig.subnetIds', subnetIds, 'Member must have length less than or equal to 16');
    if (securityGroupIds.length > 5)
      throw validation(
        'vpcConfig.securityGroupIds',
        securityGroupIds,
        'Member must have length less than or equal to 5',
      );
    if (subnetIds.length === 0)
      throw invalidParameter(
        'SubnetIds and SecurityGroupIds must both be specified (or both empty) in VpcConfig.',
      );
    if (securityGroupIds.length === 0)
      throw invalidParameter(
        'SubnetIds and SecurityGroupIds must both be specified (or both empty) in VpcConfig.',
      );
    const vpcIds = new Set<string>();
    for (const id of subnetIds) {
      const subnet = this.ctx.ec2.subnet(id);
      if (!subnet || subnet.region !== region) {
        throw invalidParameter(
          `Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID '${id}' does not exist`,
        );
      }
      vpcIds.add(subnet.vpcId);
    }
    for (const id of securityGroupIds) {
      const group = this.ctx.ec2.securityGroup(id);
      if (!group) {
        throw invalidParameter(
          `Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group '${id}' does not exist`,
        );
      }
      vpcIds.add(group.vpcId);
    }
    if (vpcIds.size !== 1) throw invalidParameter('Security groups and subnets must be in the same VPC.');
    return { vpcId: [...vpcIds][0]!, subnetIds: [...subnetIds], securityGroupIds: [...securityGroupIds] };
  }

  /** Unzip a deployment package into the code store (lambda/code-store.ts), which the function's workers load from. */
  private async storeCode(code: Record<string, any> | undefined): Promise<CodePackage> {
    if (!code?.ZipFile) {
      if (code?.S3Bucket || code?.ImageUri) throw invalidParameter('The emulator accepts Code.ZipFile only.');
      throw invalidParameter('Please provide a source for function code.');
    }
    const zip = Buffer.from(String(code.ZipFile), 'base64');
    const unzip = () => {
      try {
        return unzipSync(zip);
      } catch {
        throw invalidParameter(
          'Could not unzip uploaded file. Please check your file, then try to upload again.',
        );
      }
    };
    const sha = createHash('sha256').update(zip);
    const hex = sha.copy().digest('hex');
    // Like /var/task beside /var/runtime: the package's own node_modules win, the runtime's SDK is
    // the fallback. A package already stored was a valid zip: only new content is unzipped.
    const stored = await storePackage(unzip, hex, RUNTIME_SCOPES);
    return { ...stored, sha256: sha.digest('base64'), size: zip.length };
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** Further changes wait until the function is Active and no update is in flight. */
  /** An update must name the latest revision (when it names one) and find the function settled. */
  private assertUpdatable(f: LambdaFunction, revisionId?: unknown): void {
    if (revisionId !== undefined && revisionId !== f.latest.revisionId) {
      throw lambdaError(
        'PreconditionFailedException',
        'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
        412,
      );
    }
    this.refuseWhilePending(f);
    if (f.live !== f.latest) {
      f.shownUpdate = true;
      throw lambdaError(
        'ResourceConflictException',
        `The operation cannot be performed at this time. An update is in progress for resource: ${f.arn}`,
        409,
      );
    }
  }

  private async updateConfiguration(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const f = this.lookup(req, call);
    const input = parseJsonBody(req.body);
    this.assertUpdatable(f, input.RevisionId);
    const current = f.latest;
    const base = this.validateSettings(input, current);
    const vpc = this.validateVpc(input.VpcConfig, f.region, current.vpc);
    if (input.Role !== undefined) await this.checkRoleAssumable(base.role, f.arn);
    if (vpc && (input.VpcConfig !== undefined || input.Role !== undefined))
      await this.checkEniPermission(base.role, f.region);
    this.assertUpdatable(f, input.RevisionId);
    const vpcChanged = JSON.stringify(vpc ?? null) !== JSON.stringify(current.vpc ?? null);
    const next: FunctionSettings = {
      ...base,
      code: current.code,
      revisionId: randomUUID(),
      lastModified: this.ctx.now(),
    };
    if (vpc) next.vpc = vpc;
    if (vpcChanged) {
      // The model keys ENIs by function: release the old set before attaching the new one.
      if (current.vpc) this.ctx.ec2.releaseLambdaEnis(f.name);
      if (vpc)
        this.ctx.ec2.attachLambdaEnis({
          functionName: f.name,
          region: f.region,
          subnetIds: vpc.subnetIds,
          securityGroupIds: vpc.securityGroupIds,
        });
    }
    // Only network changes (new hyperplane ENIs) take the profile's minutes.
    this.beginUpdate(f, next, vpcChanged);
    return { json: this.configuration(f) };
  }

  private async updateCode(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const f = this.lookup(req, call);
    const input = parseJsonBody(req.body);
    this.assertUpdatable(f, input.RevisionId);
    if (input.Architectures !== undefined)
      this.validateSettings({ Architectures: input.Architectures }, f.latest);
    if (input.DryRun) return { json: this.configuration(f) };
    const code = await this.storeCode({
      ZipFile: input.ZipFile,
      S3Bucket: input.S3Bucket,
      ImageUri: input.ImageUri,
    });
    this.assertUpdatable(f);
    const next: FunctionSettings = {
      ...f.latest,
      code,
      architectures: input.Architectures ?? f.latest.architectures,
      revisionId: randomUUID(),
      lastModified: this.ctx.now(),
    };
    this.beginUpdate(f, next, false);
    return { json: this.configuration(f) };
  }

  private beginUpdate(f: LambdaFunction, next: FunctionSettings, slow: boolean): void {
    const delay = slow
      ? this.ctx.delay('functionUpdate')
      : Math.min(this.ctx.delay('functionUpdate'), QUICK_UPDATE_MAX_MS);
    f.latest = next;
    f.updateDoneAt = this.ctx.now() + delay;
    f.mustShowUpdate = slow && this.ctx.profile.showsEveryState;
    f.shownUpdate = false;
    this.settle(f);
  }

  private async deleteFunction(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const f = this.lookup(req, call);
    this.functions.delete(`${f.region}/${f.name}`);
    if (f.latest.vpc || f.live.vpc) this.ctx.ec2.releaseLambdaEnis(f.name);
    await this.discard(f);
    return { status: 204 };
  }

  private async discard(f: LambdaFunction): Promise<void> {
    const runtime = f.runtime;
    f.runtime = undefined;
    await runtime?.close();
  }

  private getFunction(req: RestRequest, call: OperationCall): RestResult {
    const f = this.shown(this.lookup(req, call));
    return {
      json: {
        Configuration: this.configuration(f),
        Code: {
          RepositoryType: 'S3',
          Location: `${this.ctx.endpointUrl}/_emulator/lambda-code/${f.region}/${f.name}?versionId=${encodeURIComponent(f.latest.revisionId)}`,
        },
        Tags: { ...f.tags },
      },
    };
  }

  private listFunctions(req: RestRequest, call: OperationCall): RestResult {
    const all = [...this.functions.values()]
      .filter((f) => f.region === call.region)
      .sort((a, b) => a.name.localeCompare(b.name));
    const maxItems = Number(req.query.get('MaxItems') ?? 50);
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10000) {
      throw validation('maxItems', maxItems, 'Member must have value between 1 and 10000');
    }
    const marker = req.query.get('Marker');
    let start = 0;
    if (marker) {
      const after = Buffer.from(marker, 'base64url').toString('utf8');
      start = all.findIndex((f) => f.name > after);
      if (start < 0) start = all.length;
    }
    const page = all.slice(start, start + maxItems);
    for (const f of page) this.settle(f);
    const json: Record<string, unknown> = { Functions: page.map((f) => this.configuration(this.shown(f))) };
    if (start + maxItems < all.length) json.NextMarker = Buffer.from(page.at(-1)!.name).toString('base64url');
    return { json };
  }

  private async invokeRoute(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const f = this.lookup(req, call);
    const type = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
      throw validation(
        'invocationType',
        type,
        'Member must satisfy enum value set: [Event, RequestResponse, DryRun]',
      );
    }
    if (req.body.length > MAX_SYNC_PAYLOAD) {
      throw lambdaError(
        'RequestTooLargeException',
        `Request must be smaller than ${MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation`,
        413,
      );
    }
    if (req.body.length > 0) {
      try {
        JSON.parse(req.body.toString('utf8'));
      } catch (err) {
        throw lambdaError(
          'InvalidRequestContentException',
          `Could not parse request body into json: ${(err as Error).message}`,
        );
      }
    }
    const headers: Record<string, string> = { 'x-amz-executed-version': '$LATEST' };
    if (type === 'DryRun') {
      this.assertInvocable(f);
      return { status: 204, headers };
    }
    if (type === 'Event') {
      this.assertInvocable(f);
      // Asynchronous invocation: accepted now, run in the background; errors go nowhere (no DLQ modelled).
      this.track(this.runInvocation(f, req.body).catch(() => {}));
      return { status: 202, headers };
    }
    const outcome = await this.runInvocation(f, req.body);
    if (outcome.error) headers['x-amz-function-error'] = 'Unhandled';
    return { status: 200, headers: { ...headers, 'content-type': 'application/json' }, raw: outcome.payload };
  }

  private assertInvocable(f: LambdaFunction): void {
    this.refuseWhilePending(f);
  }

  private async runInvocation(f: LambdaFunction, payload: Buffer): Promise<InvocationOutcome> {
    this.assertInvocable(f);
    this.settle(f);
    f.runtime ??= this.startRuntime(f);
    const requestId = randomUUID();
    let outcome = await f.runtime.invoke(payload.toString('utf8'), requestId, f.arn);
    if (Buffer.byteLength(outcome.payload) > MAX_SYNC_PAYLOAD) {
      const error = {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_SYNC_PAYLOAD} bytes).`,
        trace: [],
      };
      outcome = { payload: JSON.stringify(error), error };
    }
    this.ctx.log({
      level: 'info',
      msg: 'function invoked',
      functionName: f.name,
      requestId,
      error: outcome.error?.errorType,
    });
    return outcome;
  }

  /** A sandbox pool for the settings in force, with credentials that say who and where the function is. */
  private startRuntime(f: LambdaFunction): FunctionRuntime {
    const s = f.live;
    const roleName = s.role.split('/').pop()!;
    const network: CallerNetwork | undefined = s.vpc
      ? { vpcId: s.vpc.vpcId, subnetIds: [...s.vpc.subnetIds], securityGroupIds: [...s.vpc.securityGroupIds] }
      : undefined;
    const creds = this.ctx.identities.issueForRole(s.role, roleName, f.name, {
      network,
      functionName: f.name,
    });
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)])),
      AWS_REGION: f.region,
      AWS_DEFAULT_REGION: f.region,
      AWS_ENDPOINT_URL: this.ctx.endpointUrl,
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_SESSION_TOKEN: creds.sessionToken,
      AWS_LAMBDA_FUNCTION_NAME: f.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(s.memorySize),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${f.name}`,
      AWS_EXECUTION_ENV: `AWS_Lambda_${s.runtime}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: s.code.dir,
      _HANDLER: s.handler,
    };
    const ctx = this.ctx;
    const region = f.region;
    return new FunctionRuntime(
      {
        functionName: f.name,
        handler: s.handler,
        codeDir: s.code.dir,
        memorySize: s.memorySize,
        timeoutSeconds: s.timeout,
        env,
      },
      {
        clock: ctx.clock,
        minRealTimeoutMs: () => this.minRealTimeoutMs,
        idleReclaimMs: () => this.sandboxIdleMs,
        reclaimOnNextStep: () => this.reclaimOnNextStep,
        coldStartMs: () => ctx.delay('coldStart', f.name),
        randomSeed: () => Math.floor(ctx.rngFor(`sandbox\u0000${f.name}`).next() * 2 ** 32),
        resolveDns: (hostname) =>
          (ctx.network as NetworkModel | undefined)?.resolve(hostname, region, network) ?? [],
        origin: { functionName: f.name, ...(network ? { network } : {}) },
        log: ctx.log,
      },
    );
  }

  private configuration(f: LambdaFunction): Record<string, unknown> {
    const s = f.latest;
    const pending = this.isPending(f);
    const updating = f.live !== f.latest;
    const config: Record<string, unknown> = {
      FunctionName: f.name,
      FunctionArn: f.arn,
      Runtime: s.runtime,
      Role: s.role,
      Handler: s.handler,
      CodeSize: s.code.size,
      Description: s.description,
      Timeout: s.timeout,
      MemorySize: s.memorySize,
      LastModified: lambdaTimestamp(s.lastModified),
      CodeSha256: s.code.sha256,
      Version: '$LATEST',
      TracingConfig: { Mode: 'PassThrough' },
      RevisionId: s.revisionId,
      State: pending ? 'Pending' : 'Active',
      LastUpdateStatus: updating ? 'InProgress' : 'Successful',
      PackageType: 'Zip',
      Architectures: [...s.architectures],
      EphemeralStorage: { Size: 512 },
      SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
      LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${f.name}` },
    };
    if (pending) {
      config.StateReason = 'The function is being created.';
      config.StateReasonCode = 'Creating';
    }
    if (updating) config.LastUpdateStatusReason = 'The function is being updated.';
    if (Object.keys(s.environment).length) config.Environment = { Variables: { ...s.environment } };
    if (s.vpc) {
      config.VpcConfig = {
        SubnetIds: [...s.vpc.subnetIds],
        SecurityGroupIds: [...s.vpc.securityGroupIds],
        VpcId: s.vpc.vpcId,
        Ipv6AllowedForDualStack: false,
      };
    }
    return config;
  }

  // ---- Emulator lifecycle. ----

  inventory(): InventoryItem[] {
    return [...this.functions.values()].map((f) => {
      this.settle(f);
      return {
        service: 'lambda' as const,
        type: 'function',
        id: f.name,
        region: f.region,
        state: this.isPending(f) ? 'Pending' : 'Active',
        tags: { ...f.tags },
      };
    });
  }

  reset(): void {
    const all = [...this.functions.values()];
    this.functions.clear();
    for (const f of all) this.track(this.discard(f));
  }

  async close(): Promise<void> {
    this.reset();
    while (this.background.size) await Promise.all([...this.background]);
  }
}
