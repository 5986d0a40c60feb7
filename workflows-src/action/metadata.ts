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
      description:
        'AWS region to verify (where the endpoint and Bedrock are). Required without a spec; with one, empty runs every region of the spec and a region of the spec runs only that one.',
      required: false,
    },
    [INPUT_NAMES.modelId]: {
      description:
        "Bedrock model id or cross-region inference profile the endpoint policy allows. Required without a spec; with one it must be one of the spec's models (all of them are verified).",
      required: false,
    },
    [INPUT_NAMES.spec]: {
      description: `The perimeter spec in the checked-out repository (YAML or JSON). When the default ${INPUT_DEFAULTS.spec} does not exist, the run verifies the product's own policy pair for region and model-id, as before specs existed; a spec named here must exist. The spec is checked statically first: if it cannot run, the step fails with one line per finding and nothing is started. Otherwise one execution per region of the spec runs, in parallel.`,
      required: false,
      default: INPUT_DEFAULTS.spec,
    },
    [INPUT_NAMES.baseSpec]: {
      description:
        "The base branch's spec, checked out elsewhere: the report also says what the pull request changes in the perimeter. A missing file means the pull request adds the spec.",
      required: false,
    },
    [INPUT_NAMES.allowedModels]: {
      description:
        "Models the deployed stack's probe boundary allows (comma- or space-separated); a spec model outside them is refused statically. Default: the stack's allowedModels as the workspace's cdk.json sets them, else the stack default. AWS enforces the deployed boundary either way.",
      required: false,
    },
    [INPUT_NAMES.pool]: {
      description:
        'Lease a network of this pool (made once with `privatelink-verify pool create`) instead of building a VPC per run: each run still creates and deletes its own endpoint and probe, and the VPC quota and VPC teardown stop bounding how many runs an hour a region takes. Empty: every run builds and deletes its own VPC.',
      required: false,
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
    // With a spec of several regions, the single-valued outputs describe the region that decides
    // the outcome (the first, in the spec's order, with the worst outcome) and the -arns/-reports
    // outputs hold every region. report-json stays one report rather than becoming an array, so a
    // workflow that parses it as a report (fromJSON(...).verdict, ReportSchema) keeps working.
    verdict: { description: 'pass, fail or error (with several regions: the worst).' },
    outcome: {
      description:
        'pass, pass-with-leftovers, fail or error: the verdict with leftovers folded in (anything but pass fails the step); with several regions the worst, fail above error (a region that disproves a claim decides, as within one run).',
    },
    'execution-arn': {
      description:
        'ARN of the Step Functions execution (with several regions: the one that decides the outcome).',
    },
    'execution-arns': { description: 'JSON array of the ARNs of every execution started, in region order.' },
    'report-json': {
      description:
        'The report (schema: statemachine/contract.ts ReportSchema) as JSON: one report, never an array (with several regions: the one that decides the outcome).',
    },
    'reports-json': { description: "JSON array of every region's report, in the spec's region order." },
    'junit-file': {
      description:
        'With a spec: path (in RUNNER_TEMP) of the JUnit XML file, one testcase per matrix cell. Empty without a spec.',
    },
    'sarif-file': {
      description:
        "With a spec: path (in RUNNER_TEMP) of the SARIF 2.1.0 file of the spec's findings, for code scanning. Empty without a spec.",
    },
  },
  runs: { using: 'node24', main: 'dist/index.js' },
};
