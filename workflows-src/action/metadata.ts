/** action.yml, written from the same input names and defaults the code reads. */
import { expr } from '../workflows/types.ts';
import { COMMENT_MODES, INPUT_DEFAULTS, INPUT_NAMES, WAIT_MODES } from './inputs.ts';

export const ACTION_METADATA = {
  name: 'privatelink-verify',
  description:
    'Prove that Amazon Bedrock is reachable only through a PrivateLink interface endpoint whose policy decides, and report the verdict on the pull request.',
  branding: { icon: 'shield', color: 'green' },
  inputs: {
    [INPUT_NAMES.stateMachineArn]: {
      description: 'ARN of the deployed privatelink-verify state machine.',
      required: true,
    },
    [INPUT_NAMES.region]: {
      description: 'AWS region to verify (where the endpoint and Bedrock are).',
      required: true,
    },
    [INPUT_NAMES.modelId]: {
      description: 'Bedrock model id or cross-region inference profile the endpoint policy allows.',
      required: true,
    },
    [INPUT_NAMES.wait]: {
      description: `${WAIT_MODES.join(' | ')}: "verdict" returns as soon as the verdict is known and leaves cleanup running; "complete" waits for cleanup too.`,
      required: false,
      default: INPUT_DEFAULTS.wait,
    },
    [INPUT_NAMES.timeoutMinutes]: {
      description:
        'Give up waiting after this many minutes (the execution keeps running and cleans up after itself).',
      required: false,
      default: INPUT_DEFAULTS.timeoutMinutes,
    },
    [INPUT_NAMES.comment]: {
      description: `${COMMENT_MODES.join(' | ')}: "auto" keeps one comment on the pull request (or one issue for scheduled runs); "off" writes the job summary only.`,
      required: false,
      default: INPUT_DEFAULTS.comment,
    },
    [INPUT_NAMES.githubToken]: {
      description: 'Token that writes the comment or issue (needs pull-requests: write or issues: write).',
      required: false,
      default: expr('github.token'),
    },
    [INPUT_NAMES.prNumber]: {
      description: 'Pull request to comment on when the event has none (workflow_dispatch).',
      required: false,
    },
    [INPUT_NAMES.pollIntervalSeconds]: {
      description: 'First pause between polls of the execution, in seconds; it backs off from there.',
      required: false,
      default: INPUT_DEFAULTS.pollIntervalSeconds,
    },
  },
  outputs: {
    verdict: { description: 'pass, fail or error.' },
    outcome: {
      description:
        'pass, pass-with-leftovers, fail or error: the verdict with leftovers folded in (anything but pass fails the step).',
    },
    'execution-arn': { description: 'ARN of the Step Functions execution.' },
    'report-json': { description: 'The report (schema: statemachine/contract.ts ReportSchema) as JSON.' },
  },
  runs: { using: 'node24', main: 'dist/index.js' },
};
