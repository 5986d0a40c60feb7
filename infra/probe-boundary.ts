/**
 * The permissions boundary every probe role is created with: whatever identity policy a run puts
 * on the probe role, it can never reach beyond the allowed models, its own ENIs and its own logs.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { PROBE_NAME_PREFIX } from '../statemachine/contract.ts';

/** Cross-region inference profile ids start with a geography; the rest is the foundation model id. */
const PROFILE_PREFIX = /^(us|eu|apac|us-gov|global)\./;

export interface ProbeBoundaryProps {
  allowedModels: string[];
}

/** Bedrock resources a model id is authorized against: the profile and the foundation model it routes to. */
export function modelResourceArns(stack: Stack, modelId: string): string[] {
  const foundation = (region: string, id: string) =>
    stack.formatArn({
      service: 'bedrock',
      region,
      account: '',
      resource: 'foundation-model',
      resourceName: id,
    });
  if (PROFILE_PREFIX.test(modelId)) {
    return [
      stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: modelId }),
      // A cross-region profile serves the call from any region of its geography.
      foundation('*', modelId.replace(PROFILE_PREFIX, '')),
    ];
  }
  return [foundation(stack.region, modelId)];
}

export class ProbeBoundary extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ProbeBoundaryProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const probeLogGroups = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/lambda/${PROBE_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description:
        'privatelink-verify probe roles: permissions boundary (allowed models, Lambda VPC ENIs, own logs)',
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeAllowedModels',
          actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
          resources: props.allowedModels.flatMap((m) => modelResourceArns(stack, m)),
        }),
        new iam.PolicyStatement({
          sid: 'LambdaVpcEnis',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: [stack.formatArn({ service: 'ec2', resource: '*' })],
        }),
        new iam.PolicyStatement({
          sid: 'DescribeForLambdaVpcEnis',
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'OwnLogs',
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [probeLogGroups, `${probeLogGroups}:*`],
        }),
      ],
    });
    const acknowledgements: Record<string, string> = {
      'Resource::*':
        'ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets authorize no resource type: AWS accepts only "*".',
      [`Resource::arn:<AWS::Partition>:ec2:${stack.region}:<AWS::AccountId>:*`]:
        'Lambda creates the VPC ENIs in subnets and groups made per run; a boundary is a ceiling, and the region/account scope is the narrowest known before the run.',
      [`Resource::arn:<AWS::Partition>:logs:${stack.region}:<AWS::AccountId>:log-group:/aws/lambda/${PROBE_NAME_PREFIX}*`]:
        'Probe functions are named per run: their log groups share the prefix.',
      [`Resource::arn:<AWS::Partition>:logs:${stack.region}:<AWS::AccountId>:log-group:/aws/lambda/${PROBE_NAME_PREFIX}*:*`]:
        'Log streams of the per-run probe log groups.',
    };
    for (const m of props.allowedModels) {
      if (PROFILE_PREFIX.test(m)) {
        acknowledgements[
          `Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/${m.replace(PROFILE_PREFIX, '')}`
        ] =
          'A cross-region inference profile routes the call to the foundation model in any region of its geography.';
      }
    }
    for (const [finding, reason] of Object.entries(acknowledgements)) {
      Validations.of(this.policy).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
    }
  }
}
