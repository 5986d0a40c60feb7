/**
 * Lambda's request context (Service Authorization Reference, AWS Lambda; Lambda Developer Guide,
 * "Using IAM condition keys for VPC settings"): actions on the function ARN; CreateFunction and
 * UpdateFunctionConfiguration carry `lambda:VpcIds`, `lambda:SubnetIds`,
 * `lambda:SecurityGroupIds` from the VpcConfig, and the request's tags; passing the execution role
 * is `iam:PassRole` on the role with `iam:PassedToService` = lambda.amazonaws.com.
 */
import type { Tags } from '../core/models.ts';
import type { RestRequest } from '../core/service.ts';
import type { Check, RequestContext, RequestView } from './authorize.ts';
import { requestTagContext } from './authorize.ts';

/** REST operation names whose IAM action is named differently. */
const ACTION_OF: Record<string, string> = {
  Invoke: 'InvokeFunction',
  ListTags: 'ListTags',
};

function body(req: RestRequest): Record<string, any> {
  if (!req.body?.length) return {};
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    return {};
  }
}

function functionArn(view: RequestView, ref: string): string {
  if (ref.startsWith('arn:')) return ref.replace(/^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+).*$/, '$1');
  const partial = /^(\d{12}):function:([^:]+)/.exec(ref);
  const name = partial ? partial[2]! : ref.split(':')[0]!;
  return `arn:aws:lambda:${view.call.region}:${view.ctx.accountId}:function:${name}`;
}

function vpcContext(view: RequestView, vpc: Record<string, any> | undefined): RequestContext {
  if (!vpc) return {};
  const subnetIds: string[] = vpc.SubnetIds ?? [];
  const groupIds: string[] = vpc.SecurityGroupIds ?? [];
  if (!subnetIds.length && !groupIds.length) return {};
  const vpcIds = [
    ...new Set(
      subnetIds.map((id) => view.ctx.ec2.subnet(id)?.vpcId).filter((v): v is string => v !== undefined),
    ),
  ];
  const c: RequestContext = { 'lambda:SubnetIds': subnetIds, 'lambda:SecurityGroupIds': groupIds };
  if (vpcIds.length) c['lambda:VpcIds'] = vpcIds;
  return c;
}

function passRole(roleArn: unknown): Check[] {
  if (typeof roleArn !== 'string' || !roleArn) return [];
  return [
    {
      action: 'iam:PassRole',
      arns: { role: [roleArn] },
      context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
    },
  ];
}

export function lambdaChecks(
  operation: string,
  raw: Record<string, any> | RestRequest,
  view: RequestView,
): Check[] {
  const input = raw as RestRequest;
  const action = `lambda:${ACTION_OF[operation] ?? operation}`;
  if (operation === 'ListFunctions') return [{ action }];
  if (operation === 'CreateFunction') {
    const b = body(input);
    const arn = functionArn(view, String(b.FunctionName ?? ''));
    const context = { ...vpcContext(view, b.VpcConfig), ...requestTagContext((b.Tags ?? {}) as Tags) };
    return [{ action, arns: { function: [arn] }, context }, ...passRole(b.Role)];
  }
  const ref = input.params.FunctionName ?? decodeURIComponent(input.params.Resource ?? '');
  const arn = functionArn(view, ref);
  const context: RequestContext = {};
  const extra: Check[] = [];
  if (operation === 'UpdateFunctionConfiguration') {
    const b = body(input);
    Object.assign(context, vpcContext(view, b.VpcConfig));
    extra.push(...passRole(b.Role));
  }
  if (operation === 'TagResource')
    Object.assign(context, requestTagContext((body(input).Tags ?? {}) as Tags));
  if (operation === 'UntagResource') {
    const keys = input.query.getAll('tagKeys');
    if (keys.length) context['aws:TagKeys'] = keys;
  }
  return [{ action, arns: { function: [arn] }, context }, ...extra];
}
