/** Pieces the verification workflows share: the AWS login and the call of our own action. */
import {
  CHECKOUT,
  CODEQL_UPLOAD_SARIF,
  CONFIGURE_AWS_CREDENTIALS,
  DOWNLOAD_ARTIFACT,
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
  allowedModels: expr(`env.${SETTINGS_ENV.allowedModels}`),
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

/**
 * The region and model settings apply only while the repository has no spec: with one, the
 * spec's regions and models are verified (a region or model-id input would have to be the spec's).
 */
export function withoutSpec(setting: string): string {
  return `hashFiles('${SPEC_FILE}') == '' && ${setting} || ''`;
}

export function verifyStep(w: {
  /** An expression for the region input ('' with a spec: every region of it). */
  region: string;
  modelId: string;
  wait: 'verdict' | 'complete';
  prNumber?: string;
  /** Path of the base branch's spec (pull requests): the report says what the pull request changes. */
  baseSpec?: string;
}): Step {
  return {
    name: 'Verify private Bedrock access',
    id: 'verify',
    uses: './.github/actions/verify',
    with: {
      'state-machine-arn': VARS.stateMachineArn,
      spec: SPEC_FILE,
      ...(w.baseSpec ? { 'base-spec': w.baseSpec } : {}),
      'allowed-models': VARS.allowedModels,
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
const JUNIT_FILE = 'privatelink-verify-static.junit.xml';
/** Where the base branch's spec is checked out (inside the workspace, where actions/checkout writes). */
export const BASE_SPEC_DIR = '.privatelink-verify-base';
const SARIF_ARTIFACT = 'privatelink-verify-sarif';
/** The action writes its SARIF under this name in RUNNER_TEMP/privatelink-verify (see main.ts). */
const ACTION_SARIF_NAME = 'privatelink-verify.sarif';

/** Just the base branch's spec file, beside the pull request's checkout: nothing else of the base is needed. */
export const baseSpecCheckoutStep: Step = {
  name: "Check out the base branch's spec (what this pull request changes)",
  uses: uses(CHECKOUT),
  with: {
    ref: expr('github.event.pull_request.base.sha'),
    path: BASE_SPEC_DIR,
    'sparse-checkout': SPEC_FILE,
    'sparse-checkout-cone-mode': false,
    'persist-credentials': false,
  },
};

/**
 * After the verify step: the JUnit file kept with the run, and the SARIF file handed on to the
 * code-scanning job (this job holds id-token: write and must not hold security-events too).
 */
export const reportArtifactSteps: Step[] = [
  {
    name: 'Keep the JUnit report',
    if: "always() && steps.verify.outputs.junit-file != ''",
    uses: uses(UPLOAD_ARTIFACT),
    with: {
      name: 'privatelink-verify-junit',
      path: expr('steps.verify.outputs.junit-file'),
      'retention-days': 14,
    },
  },
  {
    name: 'Hand the SARIF file to the code-scanning job',
    if: "always() && steps.verify.outputs.sarif-file != ''",
    uses: uses(UPLOAD_ARTIFACT),
    with: { name: SARIF_ARTIFACT, path: expr('steps.verify.outputs.sarif-file'), 'retention-days': 1 },
  },
];

/**
 * The only job that may write security events: it checks nothing out and runs no code of the
 * pull request, only the pinned download and upload actions (upload-sarif falls back to
 * GITHUB_SHA without a checkout). It runs when the verify job wrote a SARIF file, pass or fail.
 */
export function codeScanningJob(verifyJob: string): Job {
  return {
    name: 'Upload the findings to code scanning',
    needs: [verifyJob],
    if: `always() && needs.${verifyJob}.outputs.sarif != ''`,
    'runs-on': RUNNER,
    'timeout-minutes': 10,
    // security-events: write for the upload; contents: read is what private repositories also need
    // (github/codeql-action README, "Workflow Permissions").
    permissions: { contents: 'read', 'security-events': 'write' },
    steps: [
      {
        name: 'Fetch the SARIF file',
        uses: uses(DOWNLOAD_ARTIFACT),
        with: { name: SARIF_ARTIFACT, path: `${expr('runner.temp')}/sarif` },
      },
      {
        name: 'Upload to code scanning',
        uses: uses(CODEQL_UPLOAD_SARIF),
        with: {
          sarif_file: `${expr('runner.temp')}/sarif/${ACTION_SARIF_NAME}`,
          category: 'privatelink-verify',
        },
      },
    ],
  };
}

/**
 * The spec's static checks for pull requests that get no live run (forks): no AWS, no write
 * permission (it runs the pull request's code), the findings in the job summary and a JUnit
 * artifact, and the job fails when the spec cannot run. Pull requests from this repository get
 * the same checks from the action itself, which starts nothing when the spec cannot run and
 * writes the SARIF the code-scanning job uploads.
 */
export function staticCheckJob(runIf: string): Job {
  return {
    name: 'Check the perimeter spec',
    if: runIf,
    'runs-on': RUNNER,
    'timeout-minutes': 15,
    permissions: { contents: 'read' },
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
          `npx privatelink-verify check --spec ${SPEC_FILE} --base "$RUNNER_TEMP/base/${SPEC_FILE}" --junit ${JUNIT_FILE} > "$RUNNER_TEMP/check.txt"`,
          'status=$?',
          'cat "$RUNNER_TEMP/check.txt"',
          `{ echo '### Perimeter spec: static checks'; echo '\`\`\`'; cat "$RUNNER_TEMP/check.txt"; echo '\`\`\`'; } >> "$GITHUB_STEP_SUMMARY"`,
          'echo "status=$status" >> "$GITHUB_OUTPUT"',
        ].join('\n'),
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
