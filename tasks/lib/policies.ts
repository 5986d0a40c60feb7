/** The policy documents a run attaches. Built here only, so the report can show exactly what was tested. */
import {
  INFERENCE_PROFILE_PREFIX,
  modelPolicyArns,
  unlistedModel,
} from '../../statemachine/perimeter-spec.ts';

export const INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];

/**
 * ARNs a call to `modelId` is authorized against: for a cross-region inference profile, the
 * profile ARN and the foundation-model ARN in each destination region. One rule, the spec's.
 */
export { INFERENCE_PROFILE_PREFIX, modelPolicyArns as modelResourceArns };

/**
 * The endpoint policy under test, attached when the endpoint is created: only the run's probe role
 * may invoke the run's model(s) through this endpoint.
 *
 * The role is named in a condition (`Principal: "*"` narrowed by `ArnEquals aws:PrincipalArn`), not
 * in `Principal`, so the endpoint can be created before the role exists and the allow policy is in
 * force from the first moment the endpoint carries traffic (no policy propagation on the critical
 * path). A role ARN in `Principal` must name a role that exists when the policy is saved, and IAM
 * then stores the role's unique id instead (IAM User Guide, "AWS JSON policy elements: Principal",
 * IAM role principals); a condition value is a plain string compared with the caller's ARN (IAM
 * User Guide, "AWS global condition context keys", aws:PrincipalArn). Endpoint policies are IAM
 * policy language with a required Principal element (PrivateLink guide, "Control access to VPC
 * endpoints using endpoint policies"). The role name is deterministic from the run id.
 * Creating the role first instead would put it before the endpoint, the long pole, and the role's
 * identity policy needs the endpoint's id (aws:SourceVpce): so the endpoint goes first.
 */
export function allowProbeEndpointPolicy(roleArn: string, resources: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowProbeRoleToInvokeTheModel',
        Effect: 'Allow',
        Principal: '*',
        Action: INVOKE_ACTIONS,
        Resource: resources,
        Condition: { ArnEquals: { 'aws:PrincipalArn': roleArn } },
      },
    ],
  });
}

/** The flip: an explicit Deny, so a refusal names the endpoint policy. */
export function denyInvokeEndpointPolicy(resources: string[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'DenyInvokeModel', Effect: 'Deny', Principal: '*', Action: INVOKE_ACTIONS, Resource: resources },
    ],
  });
}

export const IDENTITY_POLICY_NAME = 'plv-invoke-only-through-endpoint';

/**
 * The probe role's identity policy: the run's model, only through this endpoint. With
 * `unlistedResources`, also a model the endpoint policy does not name (obligation 3): the identity
 * policy allows it, so a refusal of it can only be the endpoint policy's.
 */
export function identityPolicy(
  vpcEndpointId: string,
  resources: string[],
  unlistedResources: string[] = [],
): string {
  const onlyHere = { StringEquals: { 'aws:SourceVpce': vpcEndpointId } };
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeOnlyThroughThisEndpoint',
        Effect: 'Allow',
        Action: INVOKE_ACTIONS,
        Resource: resources,
        Condition: onlyHere,
      },
      ...(unlistedResources.length
        ? [
            {
              Sid: 'UnlistedModelForTheEndpointToRefuse',
              Effect: 'Allow',
              Action: INVOKE_ACTIONS,
              Resource: unlistedResources,
              Condition: onlyHere,
            },
          ]
        : []),
    ],
  });
}

export const BYSTANDER_POLICY_NAME = 'plv-bystander-invoke-through-endpoint';

/** The inline policy name of a perimeter's extra role: the spec's identity policy for it, rendered. */
export const PERIMETER_ROLE_POLICY_NAME = 'plv-perimeter-role';

/**
 * The bystander's trust: only the verify tasks' role, which assumes it for one call from inside
 * the VPC (no service may assume it, so it never runs code of its own).
 */
export function bystanderTrustPolicy(verifyRoleArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'VerifyTaskCallsAsTheBystander',
        Effect: 'Allow',
        Principal: { AWS: verifyRoleArn },
        Action: 'sts:AssumeRole',
      },
    ],
  });
}

/**
 * A model for the unlisted-model call: the first model the stack allows (so the boundary does not
 * refuse it) that the run's policies do not already cover (the spec's rule, for one model).
 */
export function unlistedModelFor(runModelId: string, allowedModels: readonly string[]): string | undefined {
  return unlistedModel([runModelId], allowedModels);
}

export const LAMBDA_TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/**
 * The probe role's trust: Lambda, and (when the deployment names it) the verify tasks' role, which
 * calls Bedrock with the probe role's credentials from outside the VPC to show it is refused there.
 */
export function probeTrustPolicy(outsideCallerRoleArn?: string): string {
  if (!outsideCallerRoleArn) return LAMBDA_TRUST_POLICY;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      {
        Sid: 'OutsideCallerForTheProof',
        Effect: 'Allow',
        Principal: { AWS: outsideCallerRoleArn },
        Action: 'sts:AssumeRole',
      },
    ],
  });
}

export const LAMBDA_VPC_MANAGED_POLICY =
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole';
