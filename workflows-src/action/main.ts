/**
 * The GitHub Action: read inputs once, run the shared verification, then put the verdict where
 * people look (job summary, outputs, one sticky comment or the scheduled-failure issue) and end
 * the step with the verdict.
 */
import * as core from '@actions/core';
import { context, getOctokit } from '@actions/github';
import { SFNClient } from '@aws-sdk/client-sfn';
import { leftoverWarning, renderReportMarkdown } from '../report/render.ts';
import { consoleLinkLines, type ProgressLog } from './execution.ts';
import { executionName } from './execution-name.ts';
import {
  botLogin,
  COMMENT_MARKER,
  isForkPullRequest,
  isPermissionError,
  reportScheduledOutcome,
  truncateBody,
  upsertStickyComment,
} from './github.ts';
import { InputError, parseInputs, type VerifyInputs } from './inputs.ts';
import { runVerification, type VerificationResult } from './verify.ts';

const coreLog: ProgressLog = {
  info: (l) => core.info(l),
  warning: (l) => core.warning(l),
  startGroup: (t) => core.startGroup(t),
  endGroup: () => core.endGroup(),
};

export async function run(): Promise<void> {
  let executionArn: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    // StopExecution would skip the state machine's Catch → Cleanup path: leave it running.
    if (executionArn) {
      core.warning(
        `Cancelled (${signal}). The execution keeps running and cleans up after itself: ${executionArn}`,
      );
      for (const line of consoleLinkLines(executionArn)) core.info(line);
    } else {
      core.warning(`Cancelled (${signal}) before an execution was started.`);
    }
    process.exit(1);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let inputs: VerifyInputs;
    try {
      inputs = parseInputs((name) => core.getInput(name));
    } catch (err) {
      if (err instanceof InputError) {
        core.setFailed(`${err.message}. Nothing was started.`);
        return;
      }
      throw err;
    }
    const repository = requiredEnv('GITHUB_REPOSITORY');
    const runInput = { region: inputs.region, modelId: inputs.modelId, owner: `github.com/${repository}` };
    const name = executionName({
      repository,
      runId: requiredEnv('GITHUB_RUN_ID'),
      runAttempt: process.env.GITHUB_RUN_ATTEMPT || '1',
      discriminator: `${process.env.GITHUB_JOB ?? ''}|${inputs.region}|${inputs.modelId}`,
      input: runInput,
    });
    // Credentials come from the default chain: OIDC via configure-aws-credentials, never keys in inputs.
    const client = new SFNClient({ region: inputs.stateMachineRegion });
    const result = await runVerification({
      client,
      stateMachineArn: inputs.stateMachineArn,
      name,
      input: { runId: name, ...runInput },
      wait: inputs.wait,
      timeoutSeconds: inputs.timeoutSeconds,
      pollIntervalSeconds: inputs.pollIntervalSeconds,
      log: coreLog,
      onStarted: (arn) => {
        executionArn = arn;
        core.setOutput('execution-arn', arn);
      },
    });
    await publish(inputs, result);
    const leftovers = result.report ? leftoverWarning(result.report) : undefined;
    if (leftovers) core.warning(leftovers);
    if (result.outcome === 'pass') core.info(result.message);
    else core.setFailed(result.message);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    core.setFailed(message);
    // The summary is written whatever happened, so the run page says why there is no report.
    const where = executionArn ? `\n\n${consoleLinkLines(executionArn).join('  \n')}` : '';
    await core.summary
      .addRaw(
        `## ⚠️ PrivateLink verification could not run\n\n${message.replaceAll('<', '&lt;')}${where}\n`,
        true,
      )
      .write()
      .catch(() => undefined);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function publish(inputs: VerifyInputs, result: VerificationResult): Promise<void> {
  const report = result.report;
  core.setOutput('verdict', report?.verdict ?? 'error');
  core.setOutput('outcome', result.outcome);
  core.setOutput('execution-arn', result.executionArn);
  core.setOutput('report-json', report ? JSON.stringify(report) : '');

  const runUrl = workflowRunUrl();
  const markdown = report
    ? renderReportMarkdown(report, {
        executionArn: result.executionArn,
        executionUrl: result.executionUrl,
        ...(runUrl ? { workflowRunUrl: runUrl } : {}),
        cleanupStillRunning: result.status === 'RUNNING',
      })
    : noReportMarkdown(result, runUrl);

  try {
    await core.summary.addRaw(markdown, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${(err as Error).message}`);
  }
  if (inputs.comment === 'off') return;
  await postToGitHub(inputs, result, markdown, runUrl);
}

async function postToGitHub(
  inputs: VerifyInputs,
  result: VerificationResult,
  markdown: string,
  runUrl: string | undefined,
): Promise<void> {
  const payload = context.payload as Record<string, any>;
  const { owner, repo } = context.repo;
  const octokit = getOctokit(inputs.githubToken);
  const hint = runUrl
    ? `The full report is in the job summary of ${runUrl}.`
    : 'The full report is in the job summary.';
  try {
    const prNumber: number | undefined = payload.pull_request?.number ?? inputs.prNumber;
    if (prNumber !== undefined) {
      if (isForkPullRequest(payload)) {
        core.warning(
          'This pull request comes from a fork, whose token cannot write comments here: the report is in the job summary only.',
        );
        return;
      }
      const body = truncateBody(`${COMMENT_MARKER}\n${markdown}`, hint);
      const posted = await upsertStickyComment(octokit, {
        owner,
        repo,
        issueNumber: prNumber,
        body,
        login: await botLogin(octokit),
      });
      core.info(
        `${posted.action === 'created' ? 'Commented' : 'Updated the comment'} on #${prNumber}: ${posted.url}`,
      );
      return;
    }
    if (context.eventName === 'schedule') {
      const outcome = await reportScheduledOutcome(octokit, {
        owner,
        repo,
        passed: result.outcome === 'pass',
        body: truncateBody(markdown, hint, 65_536 - 200),
        login: await botLogin(octokit),
        runUrl: runUrl ?? result.executionArn,
      });
      if (outcome.action !== 'none')
        core.info(`Scheduled-failure issue #${outcome.number}: ${outcome.action}.`);
    }
  } catch (err) {
    if (isPermissionError(err)) {
      core.warning(
        `No permission to write to ${owner}/${repo} (${(err as Error).message}): the report is in the job summary only. Grant pull-requests: write (or issues: write for scheduled runs) to the job.`,
      );
      return;
    }
    throw err;
  }
}

function noReportMarkdown(result: VerificationResult, runUrl: string | undefined): string {
  const lines = [
    '## ⚠️ PrivateLink verification could not complete',
    '',
    result.message.replaceAll('<', '&lt;'),
    '',
    `[Step Functions execution](${result.executionUrl})${runUrl ? ` · [workflow run](${runUrl})` : ''}`,
    `<sub>\`${result.executionArn}\`</sub>`,
  ];
  return `${lines.join('\n')}\n`;
}

function workflowRunUrl(): string | undefined {
  const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repo = process.env.GITHUB_REPOSITORY;
  const runId = process.env.GITHUB_RUN_ID;
  return repo && runId ? `${server}/${repo}/actions/runs/${runId}` : undefined;
}

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: this action runs inside a GitHub Actions job`);
  return v;
}
