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

// With a spec: empty runs every region (model) of the spec, a value picks one of the spec's.
const REGION = expr(`inputs.region || (${withoutSpec('env.PRIVATELINK_VERIFY_REGION')})`);
const MODEL = expr(`inputs.model || (${withoutSpec('env.PRIVATELINK_VERIFY_MODEL_ID')})`);

/** Run a verification by hand, optionally reporting on a pull request (e.g. one from a fork). */
export const verifyOnDemand: Workflow = {
  file: 'verify-on-demand.yml',
  name: 'PrivateLink verification (on demand)',
  on: {
    workflow_dispatch: {
      inputs: {
        region: {
          description:
            "AWS region to verify (default: every region of privatelink-verify.yml, else the settings' region)",
          required: false,
          type: 'string',
        },
        model: {
          description:
            "Bedrock model id or inference profile (with a spec: one of its models; default: the spec's, else the settings' model)",
          required: false,
          type: 'string',
        },
        'pr-number': {
          description: 'Pull request to comment on (optional)',
          required: false,
          type: 'string',
        },
      },
    },
  },
  permissions: {},
  env: settingsEnv(),
  // Shares the pull request workflow's group when it reports on a pull request.
  concurrency: {
    group:
      'privatelink-verify-' + expr("inputs.pr-number && format('pr-{0}', inputs.pr-number) || github.run_id"),
    'cancel-in-progress': false,
  },
  jobs: {
    verify: {
      name: 'Verify',
      'runs-on': RUNNER,
      'timeout-minutes': VERIFY_TIMEOUT_MINUTES,
      permissions: { 'id-token': 'write', contents: 'read', 'pull-requests': 'write' },
      steps: [
        checkSettingsStep,
        checkoutStep,
        awsCredentialsStep(VARS.region),
        verifyStep({ region: REGION, modelId: MODEL, wait: 'complete', prNumber: expr('inputs.pr-number') }),
        reportArtifactSteps[0]!,
      ],
    },
  },
};
