/**
 * The role GitHub Actions workflows assume through OIDC. It may start executions of the one
 * state machine and read them, nothing else; its trust names the exact `sub` values allowed.
 */
import { ArnFormat, type Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

export interface GitHubAccessProps {
  repository: string;
  branches: string[];
  environments: string[];
  allowPullRequests: boolean;
  /** Reuse the account's provider: IAM holds one provider per URL. */
  existingOidcProviderArn?: string;
  stateMachine: sfn.StateMachine;
  /** How long one assumed session lasts: a run (and its cleanup) must fit. */
  maxSessionDuration: Duration;
}

/** The `sub` claims GitHub puts in tokens for the allowed triggers, exactly. */
export function githubSubjects(
  p: Pick<GitHubAccessProps, 'repository' | 'branches' | 'environments' | 'allowPullRequests'>,
): string[] {
  const base = `repo:${p.repository}`;
  return [
    ...p.branches.map((b) => `${base}:ref:refs/heads/${b}`),
    ...p.environments.map((e) => `${base}:environment:${e}`),
    ...(p.allowPullRequests ? [`${base}:pull_request`] : []),
  ];
}

export class GitHubAccess extends Construct {
  readonly role: iam.Role;
  readonly provider: iam.IOidcProvider;

  constructor(scope: Construct, id: string, props: GitHubAccessProps) {
    super(scope, id);
    this.provider = props.existingOidcProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', props.existingOidcProviderArn)
      : new iam.OidcProviderNative(this, 'Provider', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: [GITHUB_OIDC_AUDIENCE],
        });

    this.role = new iam.Role(this, 'Role', {
      description: `privatelink-verify: GitHub Actions of ${props.repository} start and read verification runs`,
      maxSessionDuration: props.maxSessionDuration,
      // StringEquals on both claims: a token matches only if its sub is one of these exact values.
      assumedBy: new iam.WebIdentityPrincipal(this.provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: githubSubjects(props),
        },
      }),
    });

    const stack = Stack.of(this);
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${props.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartAndListRuns',
        actions: ['states:StartExecution', 'states:ListExecutions'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRuns',
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: [executions],
      }),
    );
    // The action sends a pull request's perimeter policies to ValidatePolicy before it starts
    // anything. The action has no resource type (Service Authorization Reference, AWS IAM Access
    // Analyzer: ValidatePolicy names no resource), so its only scope is "*"; it reads no resource.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ValidatePerimeterPolicies',
        actions: ['access-analyzer:ValidatePolicy'],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'access-analyzer:ValidatePolicy has no resource type: "*" is its only scope, and it reads no resource (it checks the policy text sent).',
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${stack.region}:<AWS::AccountId>:execution:<${stack.getLogicalId(props.stateMachine.node.defaultChild as never)}.Name>:*]`,
      reason:
        'Execution names are chosen per run (the run id): executions of this one state machine are the narrowest scope.',
    });
  }
}
