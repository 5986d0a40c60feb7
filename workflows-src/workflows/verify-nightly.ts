import {
  awsCredentialsStep,
  checkoutStep,
  checkSettingsStep,
  RUNNER,
  reportArtifactSteps,
  VARS,
  VERIFY_TIMEOUT_MINUTES,
  verifyStep,
  withoutSpec,
} from './common.ts';
import { settingsEnv } from './settings.ts';
import { expr, type Workflow } from './types.ts';

/** Every night: a failure opens (or updates) one issue, and the next pass closes it. */
export const verifyNightly: Workflow = {
  file: 'verify-nightly.yml',
  name: 'PrivateLink verification (nightly)',
  on: { schedule: [{ cron: '17 3 * * *' }] },
  permissions: {},
  env: settingsEnv(),
  concurrency: { group: 'privatelink-verify-nightly', 'cancel-in-progress': false },
  jobs: {
    verify: {
      name: 'Verify',
      'runs-on': RUNNER,
      'timeout-minutes': VERIFY_TIMEOUT_MINUTES,
      permissions: { 'id-token': 'write', contents: 'read', issues: 'write' },
      // Nightly waits for cleanup too, so leftovers show up in the report.
      steps: [
        checkSettingsStep,
        checkoutStep,
        awsCredentialsStep(VARS.region),
        verifyStep({
          region: expr(withoutSpec('env.PRIVATELINK_VERIFY_REGION')),
          modelId: expr(withoutSpec('env.PRIVATELINK_VERIFY_MODEL_ID')),
          wait: 'complete',
        }),
        // The JUnit file only: nightly findings are not pull request code, so no SARIF upload here.
        reportArtifactSteps[0]!,
      ],
    },
  },
};
