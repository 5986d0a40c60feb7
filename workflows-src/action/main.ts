/**
 * The GitHub Action: read inputs once, run the shared verification, then put the verdict where
 * people look (job summary, outputs, one sticky comment or the scheduled-failure issue) and end
 * the step with the verdict. With a perimeter spec (the `spec` input, or privatelink-verify.yml
 * when it exists) it checks the spec first, starts nothing when it cannot run, and otherwise runs
 * one execution per region of the spec, in parallel.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as core from '@actions/core';
import { context, getOctokit } from '@actions/github';
import { AccessAnalyzerClient } from '@aws-sdk/client-accessanalyzer';
import { SFNClient } from '@aws-sdk/client-sfn';
import { accessAnalyzerFindings } from '../../perimeter/access-analyzer.ts';
import type { Finding } from '../../perimeter/check.ts';
import type { ExecutionInputArgs, Report, RunOutcome } from '../../statemachine/contract.ts';
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
import { type RegionRun, renderSpecRun } from './spec-report.ts';
import {
  type CheckedSpec,
  checkSpec,
  decidingIndex,
  inputBytes,
  MAX_EXECUTION_INPUT_BYTES,
  regionInput,
  worstOutcome,
} from './spec-run.ts';
import { runVerification, type VerificationResult } from './verify.ts';

/**
 * IAM Access Analyzer ValidatePolicy on the spec's rendered policies, with the job's credentials
 * (the stack's GitHub role allows access-analyzer:ValidatePolicy). Not being able to ask is not a
 * finding about the spec: it is one warning, and the run goes on (the live matrix is the proof).
 */
async function validateWithAccessAnalyzer(
  loaded: Parameters<typeof accessAnalyzerFindings>[0],
  region: string,
): Promise<Finding[]> {
  const client = new AccessAnalyzerClient({ region });
  try {
    return await accessAnalyzerFindings(loaded, client);
  } catch (err) {
    return [
      {
        rule: 'access-analyzer-unavailable',
        level: 'warning',
        message: `IAM Access Analyzer ValidatePolicy could not be asked (${(err as Error).name}: ${String((err as Error).message).split('\n')[0]}); the policies were checked statically only`,
        at: loaded.source.locate([]),
      },
    ];
  } finally {
    client.destroy();
  }
}

const coreLog: ProgressLog = {
  info: (l) => core.info(l),
  warning: (l) => core.warning(l),
  startGroup: (t) => core.startGroup(t),
  endGroup: () => core.endGroup(),
};

/** Several regions log at once: each line says its region, and groups (which cannot interleave) become lines. */
function regionLog(region: string): ProgressLog {
  return {
    info: (l) => core.info(`[${region}] ${l}`),
    warning: (l) => core.warning(`[${region}] ${l}`),
    startGroup: (t) => core.info(`[${region}] ▸ ${t}`),
    endGroup: () => undefined,
  };
}

/** One execution to start: its region, deterministic name and full input. */
interface PlannedRun {
  region: string;
  name: string;
  input: ExecutionInputArgs;
}

export async function run(): Promise<void> {
  const started: string[] = [];
  const onSignal = (signal: NodeJS.Signals) => {
    // StopExecution would skip the state machine's Catch → Cleanup path: leave them running.
    if (started.length) {
      for (const arn of started) {
        core.warning(`Cancelled (${signal}). The execution keeps running and cleans up after itself: ${arn}`);
        for (const line of consoleLinkLines(arn)) core.info(line);
      }
    } else {
      core.warning(`Cancelled (${signal}) before an execution was started.`);
    }
    process.exit(1);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const workspace = resolve(process.env.GITHUB_WORKSPACE || process.cwd());
    let inputs: VerifyInputs;
    try {
      inputs = parseInputs((name) => core.getInput(name), {
        fileExists: (p) => existsSync(join(workspace, p)),
      });
    } catch (err) {
      if (err instanceof InputError) {
        core.setFailed(`${err.message}. Nothing was started.`);
        return;
      }
      throw err;
    }
    const repository = requiredEnv('GITHUB_REPOSITORY');
    const nameFor = (input: Omit<ExecutionInputArgs, 'runId'>) =>
      executionName({
        repository,
        runId: requiredEnv('GITHUB_RUN_ID'),
        runAttempt: process.env.GITHUB_RUN_ATTEMPT || '1',
        // The region is here and in the input's digest: each region of a spec is its own execution.
        discriminator: `${process.env.GITHUB_JOB ?? ''}|${input.region}|${input.modelId}`,
        input,
      });
    const owner = `github.com/${repository}`;

    let spec: CheckedSpec | undefined;
    let planned: PlannedRun[];
    if (inputs.spec) {
      try {
        spec = await checkSpec({ ...inputs, spec: inputs.spec }, workspace, {
          validatePolicy: (loaded) => validateWithAccessAnalyzer(loaded, inputs.stateMachineRegion),
        });
      } catch (err) {
        // A cdk.json that is not JSON (cli/allowed-models.ts): the user's to fix, nothing started.
        if ((err as Error).name === 'UsageError') {
          core.setFailed(`Invalid input: ${(err as Error).message}. Nothing was started.`);
          return;
        }
        throw err;
      }
      announceStatic(spec);
      planned = spec.perimeter
        ? spec.regions.map((region) => {
            const input = regionInput(
              { owner, ...(inputs.pool ? { pool: inputs.pool } : {}) },
              spec!.perimeter!,
              region,
            );
            const name = nameFor(input);
            return { region, name, input: { runId: name, ...input } };
          })
        : [];
      for (const p of planned) {
        const bytes = inputBytes(p.input);
        if (bytes > MAX_EXECUTION_INPUT_BYTES)
          spec.problems.push(
            `${spec.static.specFile}:1:1: [execution-input-size] the execution input for ${p.region} is ${bytes} bytes, over Step Functions' ${MAX_EXECUTION_INPUT_BYTES}: make the policies or the matrix smaller`,
          );
      }
      if (spec.problems.length) {
        for (const line of spec.problems) core.error(line, annotationOf(line));
        await publishSpec(inputs, spec, []);
        core.setFailed(
          `The perimeter spec ${spec.static.specFile} cannot run (${spec.problems.length} error(s), each above). Nothing was started.`,
        );
        return;
      }
      // A fork's spec is checked but never run live, whatever the workflow does (pull_request_target
      // with the fork's checkout, say): the workflows skip forks, and so does the action.
      if (isForkPullRequest(context.payload as Record<string, any>)) {
        await publishSpec(inputs, spec, [], { skipped: FORK_SKIP });
        core.notice(FORK_SKIP, { title: 'PrivateLink verification skipped' });
        return;
      }
      core.info(
        `${planned.length} region(s): ${planned.map((p) => p.region).join(', ')}; models ${spec.perimeter!.models.join(', ')}; execution input ${Math.max(...planned.map((p) => inputBytes(p.input)))} bytes at most`,
      );
    } else {
      const input = {
        region: inputs.region,
        modelId: inputs.modelId,
        owner,
        ...(inputs.pool ? { pool: inputs.pool } : {}),
      };
      const name = nameFor(input);
      planned = [{ region: inputs.region, name, input: { runId: name, ...input } }];
    }

    // Credentials come from the default chain: OIDC via configure-aws-credentials, never keys in inputs.
    const client = new SFNClient({ region: inputs.stateMachineRegion });
    const settled = await Promise.allSettled(
      planned.map((p) =>
        runVerification({
          client,
          stateMachineArn: inputs.stateMachineArn,
          name: p.name,
          input: p.input,
          wait: inputs.wait,
          timeoutSeconds: inputs.timeoutSeconds,
          pollIntervalSeconds: inputs.pollIntervalSeconds,
          log: planned.length > 1 ? regionLog(p.region) : coreLog,
          onStarted: (arn) => {
            started.push(arn);
            if (planned.length === 1) core.setOutput('execution-arn', arn);
          },
        }),
      ),
    );
    // Nothing could be started or followed at all: the step says why, as it always has.
    if (settled.every((s) => s.status === 'rejected')) throw (settled[0] as PromiseRejectedResult).reason;
    const runs: RegionRun[] = settled.map((s, i) =>
      s.status === 'fulfilled'
        ? { region: planned[i]!.region, result: s.value }
        : { region: planned[i]!.region, error: errorText(s.reason) },
    );
    const outcomes = runs.map(outcomeOfRun);
    const outcome = worstOutcome(outcomes);
    if (spec) await publishSpec(inputs, spec, runs);
    else await publishSingle(inputs, runs[0]!.result!);
    for (const r of runs) {
      const leftovers = r.result?.report ? leftoverWarning(r.result.report) : undefined;
      if (leftovers) core.warning(runs.length > 1 ? `[${r.region}] ${leftovers}` : leftovers);
    }
    const message =
      runs.length === 1
        ? messageOf(runs[0]!)
        : runs.map((r, i) => `[${r.region}] ${outcomes[i]}: ${messageOf(r)}`).join('\n');
    if (outcome === 'pass') core.info(message);
    else core.setFailed(message);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    core.setFailed(message);
    // The summary is written whatever happened, so the run page says why there is no report.
    const where = started.length ? `\n\n${started.flatMap((a) => consoleLinkLines(a)).join('  \n')}` : '';
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

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function outcomeOfRun(r: RegionRun): RunOutcome {
  return r.result?.outcome ?? 'error';
}

function messageOf(r: RegionRun): string {
  return r.result?.message ?? `Could not verify: ${r.error ?? 'the execution could not be started'}`;
}

/** `file:line:col: [rule] message` → an annotation on that line of the pull request's files. */
function annotationOf(line: string): core.AnnotationProperties {
  const m = /^([^:]+):(\d+):(\d+): \[([\w-]+)\]/.exec(line);
  if (!m) return { title: 'privatelink-verify' };
  return {
    title: `privatelink-verify ${m[4]}`,
    file: m[1]!,
    startLine: Number(m[2]),
    startColumn: Number(m[3]),
  };
}

/** Static findings that do not stop the run (warnings, predictions) as warnings on their lines. */
function announceStatic(spec: CheckedSpec): void {
  const s = spec.static;
  core.info(
    `${s.specFile}: static checks in ${Math.round(s.durationMs)} ms (${s.findings.length} finding(s), ${s.cells.length} cell(s) predicted; allowed models ${spec.allowedModels.join(', ')})`,
  );
  const blocking = new Set(spec.problems);
  for (const f of s.findings as Finding[]) {
    const line = `${f.at.file}:${f.at.line}:${f.at.column}: [${f.rule}] ${f.message}`;
    if (blocking.has(line)) continue;
    core.warning(`${line}${f.rule === 'row-will-fail' ? ' (a prediction: the live run decides)' : ''}`, {
      title: `privatelink-verify ${f.rule}`,
      file: f.at.file,
      startLine: f.at.line,
      startColumn: f.at.column,
    });
  }
}

/** Where the JUnit and SARIF files go: RUNNER_TEMP, which the runner empties after the job. */
function outputDir(): string {
  const dir = join(process.env.RUNNER_TEMP || tmpdir(), 'privatelink-verify');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * The outputs of a spec run. report-json stays ONE report (the region that decides the outcome),
 * so every consumer that parses it as a report keeps working; reports-json has them all.
 */
const FORK_SKIP =
  "The spec of a fork's pull request is checked statically but not verified live (forks get no AWS credentials): a maintainer can run the on-demand workflow after review.";

async function publishSpec(
  inputs: VerifyInputs,
  spec: CheckedSpec,
  runs: RegionRun[],
  opts: { skipped?: string } = {},
): Promise<void> {
  const runUrl = workflowRunUrl();
  const rendered = renderSpecRun({
    static: spec.static,
    ...(opts.skipped ? { skipped: opts.skipped } : {}),
    problems: spec.problems,
    ...(spec.perimeter ? { perimeter: spec.perimeter } : {}),
    runs,
    ...(spec.changes ? { changes: spec.changes } : {}),
    ...(runUrl ? { workflowRunUrl: runUrl } : {}),
    noReport: (r) =>
      r.result
        ? noReportMarkdown(r.result, runUrl)
        : `## ⚠️ PrivateLink verification could not run in ${r.region}\n\n${(r.error ?? '').replaceAll('<', '&lt;')}\n`,
  });
  const dir = outputDir();
  const junitFile = join(dir, 'privatelink-verify.junit.xml');
  const sarifFile = join(dir, 'privatelink-verify.sarif');
  writeFileSync(junitFile, rendered.junit);
  writeFileSync(sarifFile, rendered.sarif);
  core.setOutput('junit-file', junitFile);
  core.setOutput('sarif-file', sarifFile);

  if (opts.skipped) {
    // Nothing ran: no verdict, no comment (a fork's token cannot write one); the summary says why.
    await core.summary
      .addRaw(rendered.markdown, true)
      .write()
      .catch(() => undefined);
    return;
  }
  const outcomes = runs.map(outcomeOfRun);
  const decide = runs[decidingIndex(outcomes)];
  const reports = runs.flatMap((r) => (r.result?.report ? [r.result.report] : []));
  const verdicts = runs.map((r) => r.result?.report?.verdict ?? 'error');
  core.setOutput('verdict', runs.length ? worstOutcome(verdicts) : 'error');
  core.setOutput('outcome', runs.length ? worstOutcome(outcomes) : 'error');
  core.setOutput('execution-arn', decide?.result?.executionArn ?? '');
  core.setOutput(
    'execution-arns',
    JSON.stringify(runs.flatMap((r) => (r.result ? [r.result.executionArn] : []))),
  );
  core.setOutput('report-json', decide?.result?.report ? JSON.stringify(decide.result.report) : '');
  core.setOutput('reports-json', JSON.stringify(reports));
  await writeSummaryAndComment(
    inputs,
    rendered.markdown,
    runUrl,
    runs.length > 0 && worstOutcome(outcomes) === 'pass',
  );
}

/** Today's outputs for a run without a spec, plus the array outputs with its one entry. */
async function publishSingle(inputs: VerifyInputs, result: VerificationResult): Promise<void> {
  const report: Report | undefined = result.report;
  core.setOutput('verdict', report?.verdict ?? 'error');
  core.setOutput('outcome', result.outcome);
  core.setOutput('execution-arn', result.executionArn);
  core.setOutput('execution-arns', JSON.stringify([result.executionArn]));
  core.setOutput('report-json', report ? JSON.stringify(report) : '');
  core.setOutput('reports-json', JSON.stringify(report ? [report] : []));

  const runUrl = workflowRunUrl();
  const markdown = report
    ? renderReportMarkdown(report, {
        executionArn: result.executionArn,
        executionUrl: result.executionUrl,
        ...(runUrl ? { workflowRunUrl: runUrl } : {}),
        cleanupStillRunning: result.status === 'RUNNING',
      })
    : noReportMarkdown(result, runUrl);
  await writeSummaryAndComment(inputs, markdown, runUrl, result.outcome === 'pass');
}

async function writeSummaryAndComment(
  inputs: VerifyInputs,
  markdown: string,
  runUrl: string | undefined,
  passed: boolean,
): Promise<void> {
  try {
    await core.summary.addRaw(markdown, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${(err as Error).message}`);
  }
  if (inputs.comment === 'off') return;
  await postToGitHub(inputs, passed, markdown, runUrl);
}

async function postToGitHub(
  inputs: VerifyInputs,
  passed: boolean,
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
        passed,
        body: truncateBody(markdown, hint, 65_536 - 200),
        login: await botLogin(octokit),
        runUrl: runUrl ?? 'the workflow run',
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
