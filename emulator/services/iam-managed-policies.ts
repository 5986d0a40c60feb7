/**
 * AWS managed policies the emulator knows. Only the ones a Lambda function in a VPC needs: the
 * product attaches them to the probe role, and the policy model evaluates their real statements.
 * Documents and version ids as AWS publishes them (the VPC policies gained `ec2:DescribeSubnets`
 * in January 2024).
 */
export interface ManagedPolicyDefinition {
  policyName: string;
  policyId: string;
  path: string;
  arn: string;
  description: string;
  defaultVersionId: string;
  /** Epoch ms. */
  createDate: number;
  updateDate: number;
  document: string;
}

function awsManaged(
  name: string,
  policyId: string,
  description: string,
  defaultVersionId: string,
  created: string,
  updated: string,
  document: object,
): ManagedPolicyDefinition {
  return {
    policyName: name,
    policyId,
    path: '/service-role/',
    arn: `arn:aws:iam::aws:policy/service-role/${name}`,
    description,
    defaultVersionId,
    createDate: Date.parse(created),
    updateDate: Date.parse(updated),
    document: JSON.stringify(document, null, 4),
  };
}

export const AWS_MANAGED_POLICIES: readonly ManagedPolicyDefinition[] = [
  awsManaged(
    'AWSLambdaBasicExecutionRole',
    'ANPAJNCQGXC42545SKXIK',
    'Provides write permissions to CloudWatch Logs.',
    'v1',
    '2015-04-09T15:03:43Z',
    '2015-04-09T15:03:43Z',
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: '*',
        },
      ],
    },
  ),
  awsManaged(
    'AWSLambdaVPCAccessExecutionRole',
    'ANPAJVTME3YLVNL72YR2K',
    'Provides minimum permissions for a Lambda function to execute while accessing a resource within a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs. ',
    'v3',
    '2016-02-11T23:15:26Z',
    '2024-01-05T22:37:05Z',
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AWSLambdaVPCAccessExecutionPermissions',
          Effect: 'Allow',
          Action: [
            'logs:CreateLogGroup',
            'logs:CreateLogStream',
            'logs:PutLogEvents',
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          Resource: '*',
        },
      ],
    },
  ),
  awsManaged(
    'AWSLambdaENIManagementAccess',
    'ANPAJXAW2Q3KPTURUT2QC',
    'Provides minimum permissions for a Lambda function to manage ENIs (create, describe, delete) used by a VPC-enabled Lambda Function.',
    'v2',
    '2016-12-06T00:37:27Z',
    '2024-01-05T22:40:13Z',
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'AWSLambdaENIManagementAccessPermissions',
          Effect: 'Allow',
          Action: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          Resource: '*',
        },
      ],
    },
  ),
];
