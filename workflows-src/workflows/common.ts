/** Pieces the verification workflows share: the AWS login and the call of our own action. */
import { CHECKOUT, CONFIGURE_AWS_CREDENTIALS, uses } from './pins.ts';
import { SETTINGS_ENV } from './settings.ts';
import { expr, type Step } from './types.ts';

/** The settings, as the steps read them from the workflow's env (see settings.ts). */
export const VARS = {
  roleArn: expr(`env.${SETTINGS_ENV.roleArn}`),
  stateMachineArn: expr(`env.${SETTINGS_ENV.stateMachineArn}`),
  region: expr(`env.${SETTINGS_ENV.region}`),
  modelId: expr(`env.${SETTINGS_ENV.modelId}`),
} as const;

/** Fail with a sentence, not with configure-aws-credentials' complaint, while settings.ts is unfilled. */
export const checkSettingsStep: Step = {
  name: 'Check the verification settings',
  run: [
    `if [ -z "$${SETTINGS_ENV.roleArn}" ] || [ -z "$${SETTINGS_ENV.stateMachineArn}" ]; then`,
    '  echo "::error title=privatelink-verify is not configured::Set roleArn and stateMachineArn (the CDK stack outputs GitHubRoleArn and StateMachineArn) in workflows-src/workflows/settings.ts and regenerate the workflows."',
    '  exit 1',
    'fi',
  ].join('\n'),
};

export const RUNNER = 'ubuntu-latest';
/** Longer than a slow run (endpoint minutes + policy propagation) so the job never cuts it short. */
export const VERIFY_TIMEOUT_MINUTES = 120;

export const checkoutStep: Step = {
  name: 'Check out (for the action in .github/actions/verify)',
  uses: uses(CHECKOUT),
  with: { 'persist-credentials': false },
};

/** Short-lived credentials from GitHub's OIDC token: no long-lived keys anywhere. */
export function awsCredentialsStep(region: string): Step {
  return {
    name: 'AWS credentials (OIDC)',
    uses: uses(CONFIGURE_AWS_CREDENTIALS),
    with: {
      'role-to-assume': VARS.roleArn,
      'aws-region': region,
      'role-session-name': 'privatelink-verify-' + expr('github.run_id'),
    },
  };
}

export function verifyStep(w: {
  region: string;
  modelId: string;
  wait: 'verdict' | 'complete';
  prNumber?: string;
}): Step {
  return {
    name: 'Verify private Bedrock access',
    id: 'verify',
    uses: './.github/actions/verify',
    with: {
      'state-machine-arn': VARS.stateMachineArn,
      region: w.region,
      'model-id': w.modelId,
      wait: w.wait,
      'timeout-minutes': VERIFY_TIMEOUT_MINUTES - 10,
      'github-token': expr('github.token'),
      ...(w.prNumber ? { 'pr-number': w.prNumber } : {}),
    },
  };
}
