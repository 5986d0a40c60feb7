import {
  awsCredentialsStep,
  checkoutStep,
  checkSettingsStep,
  RUNNER,
  staticCheckJob,
  VARS,
  VERIFY_TIMEOUT_MINUTES,
  verifyStep,
} from './common.ts';
import { settingsEnv } from './settings.ts';
import { expr, type Workflow } from './types.ts';

const SAME_REPO = 'github.event.pull_request.head.repo.full_name == github.repository';

/**
 * Every pull request from this repository gets a verdict in one sticky comment. Fork pull
 * requests get no OIDC token (and must not get AWS credentials), so they get a notice instead.
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
    'static-check': staticCheckJob(SAME_REPO),
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
      needs: ['static-check'],
      if: `${SAME_REPO} && needs.static-check.outputs.status != '2'`,
      'runs-on': RUNNER,
      'timeout-minutes': VERIFY_TIMEOUT_MINUTES,
      permissions: { 'id-token': 'write', contents: 'read', 'pull-requests': 'write' },
      steps: [
        checkSettingsStep,
        checkoutStep,
        awsCredentialsStep(VARS.region),
        verifyStep({ region: VARS.region, modelId: VARS.modelId, wait: 'verdict' }),
      ],
    },
  },
};
