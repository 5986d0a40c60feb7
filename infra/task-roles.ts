/**
 * One IAM role per permission set of the task manifest: a task role can do exactly what its
 * tasks call, only on resources a run created (tags on create, tags required to modify or
 * delete), and only for probe roles under the dedicated path with the permissions boundary.
 */
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  BYSTANDER_NAME_PREFIX,
  POOL_TAG_KEYS,
  PROBE_NAME_PREFIX,
  PROBE_ROLE_PATH,
  TAG_KEYS,
} from '../statemachine/contract.ts';
import type { TaskPermissionSet } from '../tasks/manifest.ts';

export const PERMISSION_SETS: readonly TaskPermissionSet[] = [
  'read',
  'network',
  'endpoint',
  'probe',
  'verify',
  'cleanup',
  'none',
];

/** Name tags ride along with the run tags (tasks/lib/tags.ts): the only other key a create may set. */
export const ALLOWED_TAG_KEYS = [TAG_KEYS.runId, TAG_KEYS.owner, TAG_KEYS.expiresAt, 'Name'];

/** The one AWS managed policy a probe role may receive: ENI management for a function in a VPC. */
export const LAMBDA_VPC_ACCESS_POLICY = 'AWSLambdaVPCAccessExecutionRole';

/** EC2 Describe* calls authorize no resource type: `*` is the only resource they accept. */
export const EC2_DESCRIBE = {
  read: [
    'ec2:DescribeVpcEndpointServices',
    'ec2:DescribeAvailabilityZones',
    'ec2:DescribeVpcEndpoints',
    'ec2:DescribeVpcs',
  ],
  network: [
    'ec2:DescribeVpcs',
    'ec2:DescribeSubnets',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeAvailabilityZones',
  ],
  endpoint: ['ec2:DescribeVpcEndpoints', 'ec2:DescribeVpcs'],
  probe: ['ec2:DescribeVpcs', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
  verify: ['ec2:DescribeVpcEndpoints', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeRouteTables'],
  cleanup: [
    'ec2:DescribeVpcs',
    'ec2:DescribeSubnets',
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeVpcEndpoints',
    'ec2:DescribeNetworkInterfaces',
  ],
} as const;

export interface TaskRolesProps {
  /** The run tag that modify and delete actions require on the resource. */
  tagKey: string;
  /** The probe roles' permissions boundary: CreateRole is allowed only with it. */
  probeBoundary: iam.IManagedPolicy;
}

export class TaskRoles extends Construct {
  readonly roles: Record<TaskPermissionSet, iam.Role>;
  readonly tagKey: string;
  private readonly probeBoundary: iam.IManagedPolicy;

  constructor(scope: Construct, id: string, props: TaskRolesProps) {
    super(scope, id);
    this.tagKey = props.tagKey;
    this.probeBoundary = props.probeBoundary;
    const roles = {} as Record<TaskPermissionSet, iam.Role>;
    for (const set of PERMISSION_SETS) {
      const role = new iam.Role(this, `${pascal(set)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `privatelink-verify task role: ${set} permissions`,
      });
      for (const statement of this.statementsFor(set)) role.addToPrincipalPolicy(statement);
      roles[set] = role;
    }
    this.roles = roles;
    this.acknowledgeScopedWildcards();
  }

  private arn(service: string, resource: string, resourceName: string): string {
    return Stack.of(this).formatArn({ service, resource, resourceName });
  }

  private ec2(resource: string): string {
    return this.arn('ec2', resource, '*');
  }

  private get probeFunctionArn(): string {
    return Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: `${PROBE_NAME_PREFIX}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private get probeRoleArn(): string {
    return Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `${PROBE_ROLE_PATH.slice(1)}${PROBE_NAME_PREFIX}*`,
    });
  }

  /** The bystander roles of obligation 3: under the same path and boundary, a prefix of their own. */
  private get bystanderRoleArn(): string {
    return Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `${PROBE_ROLE_PATH.slice(1)}${BYSTANDER_NAME_PREFIX}*`,
    });
  }

  private get absentBystanderRoleArn(): string {
    return Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `${BYSTANDER_NAME_PREFIX}*`,
    });
  }

  /**
   * The ARN IAM authorizes for a probe role that does not exist (yet, or any more): without its
   * path, which IAM cannot know. Read-only lookups need it to get NoSuchEntity instead of
   * AccessDenied (found by the emulator's IAM enforcement: CreateProbe's GetRole before create).
   */
  private get absentProbeRoleArn(): string {
    return Stack.of(this).formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `${PROBE_NAME_PREFIX}*`,
    });
  }

  /** A create must carry every run tag, and may set no keys but ours. */
  private createTagConditions(): Record<string, Record<string, unknown>> {
    return {
      Null: Object.fromEntries(Object.values(TAG_KEYS).map((k) => [`aws:RequestTag/${k}`, 'false'])),
      'ForAllValues:StringEquals': { 'aws:TagKeys': ALLOWED_TAG_KEYS },
    };
  }

  /** Modify and delete only what carries the run tag. */
  private resourceTagCondition(): Record<string, Record<string, unknown>> {
    return { Null: { [`ec2:ResourceTag/${this.tagKey}`]: 'false' } };
  }

  /** A pooled network's resources (`privatelink-verify pool create`): a run may lease and use them, not change them. */
  private poolTagCondition(): Record<string, Record<string, unknown>> {
    return { Null: { [`ec2:ResourceTag/${POOL_TAG_KEYS.pool}`]: 'false' } };
  }

  private statementsFor(set: TaskPermissionSet): iam.PolicyStatement[] {
    const s = (sid: string, props: iam.PolicyStatementProps) => new iam.PolicyStatement({ sid, ...props });
    switch (set) {
      case 'read':
        return [
          s('DescribeEndpointServiceAndNetwork', { actions: [...EC2_DESCRIBE.read], resources: ['*'] }),
          s('WhoAmI', { actions: ['sts:GetCallerIdentity'], resources: ['*'] }),
          // Preflight refuses a model id Bedrock does not know before anything is created.
          s('LookUpModel', {
            actions: ['bedrock:GetFoundationModel', 'bedrock:GetInferenceProfile'],
            resources: [
              `arn:${Stack.of(this).partition}:bedrock:${Stack.of(this).region}::foundation-model/*`,
              Stack.of(this).formatArn({
                service: 'bedrock',
                resource: 'inference-profile',
                resourceName: '*',
              }),
            ],
          }),
          s('ReadProbeFunction', {
            actions: ['lambda:GetFunction', 'lambda:GetFunctionConfiguration'],
            resources: [this.probeFunctionArn],
          }),
        ];
      case 'network':
        return [
          s('CreateTaggedVpc', {
            actions: ['ec2:CreateVpc'],
            resources: [this.ec2('vpc')],
            conditions: this.createTagConditions(),
          }),
          s('CreateTaggedSubnetsAndGroups', {
            actions: ['ec2:CreateSubnet', 'ec2:CreateSecurityGroup'],
            resources: [this.ec2('subnet'), this.ec2('security-group')],
            conditions: this.createTagConditions(),
          }),
          s('CreateOnlyInsideRunVpc', {
            actions: ['ec2:CreateSubnet', 'ec2:CreateSecurityGroup'],
            resources: [this.ec2('vpc')],
            conditions: this.resourceTagCondition(),
          }),
          s('LeaseInsidePooledVpc', {
            // The lease is a run-tagged group created in a pooled VPC (tasks/lib/pool.ts); the
            // tag conditions of CreateTaggedSubnetsAndGroups still apply to the group itself.
            actions: ['ec2:CreateSecurityGroup'],
            resources: [this.ec2('vpc')],
            conditions: this.poolTagCondition(),
          }),
          s('TagOnlyWhileCreating', {
            actions: ['ec2:CreateTags'],
            resources: [this.ec2('vpc'), this.ec2('subnet'), this.ec2('security-group')],
            conditions: {
              StringEquals: { 'ec2:CreateAction': ['CreateVpc', 'CreateSubnet', 'CreateSecurityGroup'] },
            },
          }),
          s('ModifyRunVpc', {
            actions: ['ec2:ModifyVpcAttribute'],
            resources: [this.ec2('vpc')],
            conditions: this.resourceTagCondition(),
          }),
          s('ModifyRunSecurityGroups', {
            actions: [
              'ec2:AuthorizeSecurityGroupIngress',
              'ec2:AuthorizeSecurityGroupEgress',
              'ec2:RevokeSecurityGroupEgress',
            ],
            resources: [this.ec2('security-group')],
            conditions: this.resourceTagCondition(),
          }),
          s('DescribeNetwork', { actions: [...EC2_DESCRIBE.network], resources: ['*'] }),
        ];
      case 'endpoint':
        return [
          s('CreateTaggedBedrockEndpoint', {
            actions: ['ec2:CreateVpcEndpoint'],
            resources: [this.ec2('vpc-endpoint')],
            conditions: {
              ...this.createTagConditions(),
              StringEquals: {
                'ec2:VpceServiceName': `com.amazonaws.${Stack.of(this).region}.bedrock-runtime`,
              },
            },
          }),
          s('CreateEndpointOnlyInRunNetwork', {
            actions: ['ec2:CreateVpcEndpoint'],
            resources: [this.ec2('vpc'), this.ec2('subnet'), this.ec2('security-group')],
            conditions: this.resourceTagCondition(),
          }),
          s('CreateEndpointInLeasedNetwork', {
            actions: ['ec2:CreateVpcEndpoint'],
            resources: [this.ec2('vpc'), this.ec2('subnet'), this.ec2('security-group')],
            conditions: this.poolTagCondition(),
          }),
          s('TagEndpointOnlyWhileCreating', {
            actions: ['ec2:CreateTags'],
            resources: [this.ec2('vpc-endpoint')],
            conditions: { StringEquals: { 'ec2:CreateAction': ['CreateVpcEndpoint'] } },
          }),
          s('ModifyRunEndpoint', {
            actions: ['ec2:ModifyVpcEndpoint'],
            resources: [this.ec2('vpc-endpoint')],
            conditions: this.resourceTagCondition(),
          }),
          s('AssociatePrivateDnsZone', {
            // Private DNS on an interface endpoint associates the VPC with a hosted zone AWS owns
            // and names at creation: no narrower resource exists before the call.
            actions: ['route53:AssociateVPCWithHostedZone'],
            resources: [
              Stack.of(this).formatArn({
                service: 'route53',
                region: '',
                account: '',
                resource: 'hostedzone',
                resourceName: '*',
              }),
            ],
          }),
          s('DescribeEndpoints', { actions: [...EC2_DESCRIBE.endpoint], resources: ['*'] }),
        ];
      case 'probe':
        return [
          s('CreateBoundedProbeRole', {
            // The probe role, and the bystander role obligation 3 calls with (same path, same boundary).
            actions: ['iam:CreateRole'],
            resources: [this.probeRoleArn, this.bystanderRoleArn],
            conditions: {
              StringEquals: { 'iam:PermissionsBoundary': this.probeBoundary.managedPolicyArn },
              ...this.createTagConditions(),
            },
          }),
          s('TagProbeRole', {
            actions: ['iam:TagRole'],
            resources: [this.probeRoleArn, this.bystanderRoleArn],
            conditions: this.createTagConditions(),
          }),
          s('PutProbeIdentityPolicy', {
            // CreateProbe binds the new role to the run's endpoint (aws:SourceVpce) as it creates it.
            actions: ['iam:PutRolePolicy'],
            resources: [this.probeRoleArn, this.bystanderRoleArn],
            conditions: { StringEquals: { 'iam:PermissionsBoundary': this.probeBoundary.managedPolicyArn } },
          }),
          s('AttachOnlyLambdaVpcAccess', {
            actions: ['iam:AttachRolePolicy'],
            resources: [this.probeRoleArn],
            conditions: {
              ArnEquals: {
                'iam:PolicyARN': Stack.of(this).formatArn({
                  service: 'iam',
                  region: '',
                  account: 'aws',
                  resource: 'policy',
                  resourceName: `service-role/${LAMBDA_VPC_ACCESS_POLICY}`,
                }),
              },
              StringEquals: { 'iam:PermissionsBoundary': this.probeBoundary.managedPolicyArn },
            },
          }),
          s('ReadProbeRole', {
            actions: ['iam:GetRole'],
            resources: [
              this.probeRoleArn,
              this.absentProbeRoleArn,
              this.bystanderRoleArn,
              this.absentBystanderRoleArn,
            ],
          }),
          s('PassProbeRoleToLambdaOnly', {
            actions: ['iam:PassRole'],
            resources: [this.probeRoleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
          }),
          s('CreateTaggedProbeFunctionInsideAVpc', {
            actions: ['lambda:CreateFunction'],
            resources: [this.probeFunctionArn],
            // The VPC, subnets and groups are created per run, so their ids cannot be named here;
            // requiring them keeps CreateFunction from making a probe outside a VPC.
            conditions: {
              ...this.createTagConditions(),
              Null: {
                ...this.createTagConditions().Null,
                'lambda:VpcIds': 'false',
                'lambda:SubnetIds': 'false',
                'lambda:SecurityGroupIds': 'false',
              },
            },
          }),
          s('TagAndReadProbeFunction', {
            actions: ['lambda:TagResource', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration'],
            resources: [this.probeFunctionArn],
          }),
          s('DescribeProbeVpcConfig', { actions: [...EC2_DESCRIBE.probe], resources: ['*'] }),
        ];
      case 'verify':
        return [
          s('InvokeProbe', { actions: ['lambda:InvokeFunction'], resources: [this.probeFunctionArn] }),
          // Read-backs for the proof obligations: the endpoint's policy and ENIs, the VPC's routes.
          s('ReadBackEndpointAndRoutes', { actions: [...EC2_DESCRIBE.verify], resources: ['*'] }),
          // The probe role's policies and boundary, read back before the allow phase.
          // The outside caller: the probe role's credentials, used from outside the VPC.
          s('AssumeProbeRoleFromOutside', { actions: ['sts:AssumeRole'], resources: [this.probeRoleArn] }),
          // Obligation 3's bystander: its credentials, handed to the probe for one call inside the VPC.
          s('AssumeBystanderRole', { actions: ['sts:AssumeRole'], resources: [this.bystanderRoleArn] }),
          s('ReadBackProbeRole', {
            actions: [
              'iam:GetRole',
              'iam:ListRolePolicies',
              'iam:GetRolePolicy',
              'iam:ListAttachedRolePolicies',
            ],
            resources: [this.probeRoleArn],
          }),
        ];
      case 'cleanup':
        return [
          s('DeleteProbeFunction', {
            actions: ['lambda:DeleteFunction', 'lambda:GetFunction', 'lambda:GetFunctionConfiguration'],
            resources: [this.probeFunctionArn],
          }),
          s('DetachProbeFromVpc', {
            // Teardown detaches the probe (empty VpcConfig) before deleting it, so Lambda starts
            // releasing its ENIs. No subnet or group may be named: this role can only detach.
            actions: ['lambda:UpdateFunctionConfiguration'],
            resources: [this.probeFunctionArn],
            conditions: { Null: { 'lambda:SubnetIds': 'true', 'lambda:SecurityGroupIds': 'true' } },
          }),
          s('DeleteRunEndpoint', {
            actions: ['ec2:DeleteVpcEndpoints'],
            resources: [this.ec2('vpc-endpoint')],
            conditions: this.resourceTagCondition(),
          }),
          s('UnlinkRunSecurityGroups', {
            // Groups that reference each other cannot be deleted until their rules are revoked.
            actions: ['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'],
            resources: [this.ec2('security-group')],
            conditions: this.resourceTagCondition(),
          }),
          s('DeleteRunNetwork', {
            actions: ['ec2:DeleteSecurityGroup', 'ec2:DeleteSubnet', 'ec2:DeleteVpc'],
            resources: [this.ec2('security-group'), this.ec2('subnet'), this.ec2('vpc')],
            conditions: this.resourceTagCondition(),
          }),
          s('DeleteDetachedLambdaEnis', {
            // Lambda creates the probe's ENIs itself and tags them with nothing of ours, so no tag
            // can scope this; EC2 refuses to delete an attached ENI, and Cleanup deletes only the
            // `available` ENIs it found in the run's VPC.
            actions: ['ec2:DeleteNetworkInterface'],
            resources: [this.ec2('network-interface')],
          }),
          s('DescribeRunResources', { actions: [...EC2_DESCRIBE.cleanup], resources: ['*'] }),
          s('DeleteProbeRole', {
            actions: ['iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:DetachRolePolicy'],
            resources: [this.probeRoleArn, this.bystanderRoleArn],
          }),
          s('ReadProbeRoleEvenIfGone', {
            actions: [
              'iam:ListRolePolicies',
              'iam:ListAttachedRolePolicies',
              'iam:GetRole',
              'iam:ListRoleTags',
            ],
            resources: [
              this.probeRoleArn,
              this.absentProbeRoleArn,
              this.bystanderRoleArn,
              this.absentBystanderRoleArn,
            ],
          }),
          s('FindExpiredProbeRoles', {
            // The sweeper lists roles under the probe path (PathPrefix); ListRoles authorizes no resource type.
            actions: ['iam:ListRoles'],
            resources: ['*'],
          }),
        ];
      case 'none':
        return [];
    }
  }

  /** cdk-nag flags every wildcard; these are the ones the design needs, each with its reason. */
  private acknowledgeScopedWildcards(): void {
    const reasons: Record<string, string> = {
      'Resource::*':
        'EC2 Describe*, sts:GetCallerIdentity and iam:ListRoles authorize no resource type: AWS accepts only "*" for them.',
      [`Resource::arn:<AWS::Partition>:lambda:${Stack.of(this).region}:<AWS::AccountId>:function:${PROBE_NAME_PREFIX}*`]:
        'Probe functions are named per run (plv-probe-<run id>): the prefix is the narrowest name known before the run.',
      [`Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role${PROBE_ROLE_PATH}${PROBE_NAME_PREFIX}*`]:
        'Probe roles are created per run under the dedicated path with the permissions boundary: path and prefix are the narrowest scope.',
      [`Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/${PROBE_NAME_PREFIX}*`]:
        'Read-only lookups of a probe role that does not exist are authorized on the path-less ARN: only Get/List actions.',
      [`Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role${PROBE_ROLE_PATH}${BYSTANDER_NAME_PREFIX}*`]:
        'Bystander roles (obligation 3) are created per run under the probe path with the permissions boundary: path and prefix are the narrowest scope.',
      [`Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/${BYSTANDER_NAME_PREFIX}*`]:
        'Read-only lookups of a bystander role that does not exist are authorized on the path-less ARN: only Get/List actions.',
    };
    const modelReason =
      'Preflight looks up the model id the user gave (GetFoundationModel / GetInferenceProfile, read-only) to refuse a typo before anything is created: any model may be asked for.';
    reasons[`Resource::arn:<AWS::Partition>:bedrock:${Stack.of(this).region}::foundation-model/*`] =
      modelReason;
    reasons[
      `Resource::arn:<AWS::Partition>:bedrock:${Stack.of(this).region}:<AWS::AccountId>:inference-profile/*`
    ] = modelReason;
    reasons['Resource::arn:<AWS::Partition>:route53:::hostedzone/*'] =
      'The private hosted zone of an interface endpoint is created and owned by AWS during CreateVpcEndpoint: its id is unknown beforehand.';
    for (const type of ['vpc', 'subnet', 'security-group', 'vpc-endpoint', 'network-interface']) {
      reasons[`Resource::arn:<AWS::Partition>:ec2:${Stack.of(this).region}:<AWS::AccountId>:${type}/*`] =
        type === 'network-interface'
          ? 'Lambda-owned ENIs carry no run tags; EC2 refuses to delete attached ENIs and Cleanup deletes only detached ones in the run VPC.'
          : `EC2 ids are assigned at creation: every statement on ${type}/* requires the run tags (aws:RequestTag / ec2:ResourceTag) or ec2:CreateAction.`;
    }
    for (const role of Object.values(this.roles)) {
      for (const [finding, reason] of Object.entries(reasons)) {
        Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
      }
    }
  }
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
