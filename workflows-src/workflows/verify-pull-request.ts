import {
  awsCredentialsStep,
  BASE_SPEC_DIR,
  baseSpecCheckoutStep,
  checkoutStep,
  checkSettingsStep,
  codeScanningJob,
  RUNNER,
  reportArtifactSteps,
  SPEC_FILE,
  staticCheckJob,
  VARS,
  VERIFY_TIMEOUT_MINUTES,
  verifyStep,
  withoutSpec,
} from './common.ts';
import { settingsEnv } from './settings.ts';
import { expr, type Workflow } from './types.ts';

const SAME_REPO = 'github.event.pull_request.head.repo.full_name == github.repository';

/**
 * Every pull request from this repository gets a verdict in one sticky comment: the action reads
 * the pull request's perimeter spec, compares it with the base branch's, and verifies it live in
 * every region it names; the findings go to code scanning from a job of their own and the JUnit
 * file stays with the run. Fork pull requests get no OIDC token (and must not get AWS
 * credentials), so they get the static checks and a notice instead.
 */
export const verifyPullRequest: Workflow = {
  file: 'verify-pull-request.yml',
  name: 'PrivateLink verification (pull request)',
  on: { pull_request: { types: ['opened', 'synchronize', 'reopened'] } },
  permissions: {},
  env: settingsEnv(),
  // One run per pull request at a time; a newer push waits instead of cancelling a run that is
  // provisioning (a cancelled run would leave its execution to clean up alone).
  concurrency: {
    group: 'privatelink-verify-pr-' + expr('github.event.pull_request.number'),
    'cancel-in-progress': false,
  },
  jobs: {
    'static-check': staticCheckJob(`!(${SAME_REPO})`),
    'fork-notice': {
      name: 'Skip fork pull request',
      if: `!(${SAME_REPO})`,
      'runs-on': RUNNER,
      permissions: {},
      steps: [
        {
          name: 'Explain the skip',
          run: 'echo "::notice title=PrivateLink verification skipped::Pull requests from forks get no AWS credentials. A maintainer can run the on-demand workflow with this pull request number."',
        },
      ],
    },
    verify: {
      name: 'Verify',
      // The action checks the spec first and starts nothing when it cannot run.
      if: SAME_REPO,
      'runs-on': RUNNER,
      'timeout-minutes': VERIFY_TIMEOUT_MINUTES,
      permissions: { 'id-token': 'write', contents: 'read', 'pull-requests': 'write' },
      // Tells the code-scanning job there is a SARIF file to upload (its path is this runner's).
      outputs: { sarif: expr('steps.verify.outputs.sarif-file') },
      steps: [
        checkSettingsStep,
        checkoutStep,
        baseSpecCheckoutStep,
        awsCredentialsStep(VARS.region),
        verifyStep({
          region: expr(withoutSpec(`env.PRIVATELINK_VERIFY_REGION`)),
          modelId: expr(withoutSpec(`env.PRIVATELINK_VERIFY_MODEL_ID`)),
          wait: 'verdict',
          baseSpec: `${BASE_SPEC_DIR}/${SPEC_FILE}`,
        }),
        ...reportArtifactSteps,
      ],
    },
    'code-scanning': codeScanningJob('verify'),
  },
};
