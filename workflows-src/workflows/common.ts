/** Pieces the verification workflows share: the AWS login and the call of our own action. */
import {
  CHECKOUT,
  CODEQL_UPLOAD_SARIF,
  CONFIGURE_AWS_CREDENTIALS,
  SETUP_NODE,
  UPLOAD_ARTIFACT,
  uses,
} from './pins.ts';
import { SETTINGS_ENV } from './settings.ts';
import { expr, type Job, type Step } from './types.ts';

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

/** The perimeter spec at the root of the repository (see README, "Perimeter as code"). */
export const SPEC_FILE = 'privatelink-verify.yml';
const SARIF_FILE = 'privatelink-verify.sarif';
const JUNIT_FILE = 'privatelink-verify-static.junit.xml';

/**
 * The spec's static checks, before any AWS call: findings go to code scanning (SARIF) and the
 * job's `status` output is check's exit status, so the live run is skipped when the spec cannot
 * run (2) and still runs when a row is only predicted to fail (1: the live run is the proof).
 * Only this job may write security events; forks get the check without the upload.
 */
export function staticCheckJob(uploadIf: string): Job {
  return {
    name: 'Check the perimeter spec',
    'runs-on': RUNNER,
    'timeout-minutes': 15,
    permissions: { contents: 'read', 'security-events': 'write' },
    outputs: { status: expr('steps.check.outputs.status') },
    steps: [
      // Full history, so the base branch's spec can be read for "what this pull request changes".
      { ...checkoutStep, with: { 'persist-credentials': false, 'fetch-depth': 0 } },
      { name: 'Node.js', uses: uses(SETUP_NODE), with: { 'node-version': 24, cache: 'npm' } },
      { name: 'Install', run: 'npm ci --no-audit --no-fund' },
      {
        name: 'Static checks (nothing is created)',
        id: 'check',
        run: [
          'set +e',
          'git worktree add --detach "$RUNNER_TEMP/base" "origin/$GITHUB_BASE_REF" >/dev/null 2>&1',
          `npx privatelink-verify check --spec ${SPEC_FILE} --base "$RUNNER_TEMP/base/${SPEC_FILE}" --sarif ${SARIF_FILE} --junit ${JUNIT_FILE} > "$RUNNER_TEMP/check.txt"`,
          'status=$?',
          'cat "$RUNNER_TEMP/check.txt"',
          `{ echo '### Perimeter spec: static checks'; echo '\`\`\`'; cat "$RUNNER_TEMP/check.txt"; echo '\`\`\`'; } >> "$GITHUB_STEP_SUMMARY"`,
          'echo "status=$status" >> "$GITHUB_OUTPUT"',
        ].join('\n'),
      },
      {
        name: 'Upload the findings to code scanning',
        if: `always() && hashFiles('${SARIF_FILE}') != '' && ${uploadIf}`,
        uses: uses(CODEQL_UPLOAD_SARIF),
        with: { sarif_file: SARIF_FILE, category: 'privatelink-verify-static' },
      },
      {
        name: 'Keep the JUnit report',
        if: `always() && hashFiles('${JUNIT_FILE}') != ''`,
        uses: uses(UPLOAD_ARTIFACT),
        with: { name: 'privatelink-verify-static-junit', path: JUNIT_FILE, 'retention-days': 14 },
      },
      {
        name: 'Stop when the spec cannot run',
        if: "steps.check.outputs.status == '2'",
        run: `echo "::error title=Perimeter spec::${SPEC_FILE} has errors (see the check step): nothing was run" && exit 1`,
      },
    ],
  };
}
