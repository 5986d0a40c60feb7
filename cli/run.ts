/**
 * `privatelink-verify run`: the GitHub Action's code path from a terminal. Same input checks,
 * same start/attach and watch, same report; progress goes to stderr, the report to stdout.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SFNClient, type SFNClientConfig } from '@aws-sdk/client-sfn';
import { Emulator } from '../emulator/emulator.ts';
import { POOL_NAME_PATTERN, RUN_ID_PATTERN, USER_RUN_ID_MAX } from '../statemachine/contract.ts';
import { InputMismatchError, type Outcome, type ProgressLog } from '../workflows-src/action/execution.ts';
import { runIdForInput } from '../workflows-src/action/execution-name.ts';
import { INPUT_NAMES, InputError, parseInputs } from '../workflows-src/action/inputs.ts';
import { runVerification } from '../workflows-src/action/verify.ts';
import { leftoverWarning, renderReportText } from '../workflows-src/report/render.ts';
import { deployProduct } from './deploy.ts';
import { credentialMessage, EXIT, isCredentialError } from './exit-codes.ts';
import { ensurePool } from './pool.ts';

export const RUN_HELP = `Usage: privatelink-verify run --state-machine-arn ARN --region REGION --model MODEL [options]
       privatelink-verify run --local [--region REGION] [--model MODEL] [options]

Start (or re-attach to) one verification execution, follow it, and print its report: the same
code path as the GitHub Action. AWS credentials come from the default chain.

Options:
  --state-machine-arn ARN  the deployed privatelink-verify state machine
  --local                  start the local emulator, deploy the product into it, and verify there
  --region REGION          region to verify (default with --local: us-east-1)
  --model MODEL            Bedrock model id or inference profile
                           (default with --local: anthropic.claude-3-haiku-20240307-v1:0)
  --wait verdict|complete  return at the verdict, or after cleanup too
                           (default: verdict; with --local: complete, as the emulator stops on exit)
  --run-id ID              execution name; run again with the same id to re-attach (default: a new one)
  --spec FILE              verify a perimeter spec, as the action's spec: input does: static checks
                           first (errors: exit 2, nothing started), then one execution per region of
                           it (--region picks one; --model must be one of its models)
  --base-spec FILE         with --spec: the base branch's spec, to say what this one changes
  --allowed-models LIST    with --spec: the models the stack's probe boundary allows (default: the
                           privatelink-verify:allowedModels context of ./cdk.json, else the stack default)
  --junit FILE, --sarif FILE  with --spec: also write JUnit XML and SARIF 2.1.0
  --pool NAME              lease a network of this pool (privatelink-verify pool create) instead of
                           building a VPC; with --local a one-network pool is created in the emulator
  --timeout-minutes N      stop waiting after N minutes; the execution keeps running (default: 90)
  --poll-interval-seconds S  first pause between polls; it backs off from there (default: 5)
  --json                   print the report as JSON instead of text
  -h, --help               show this help

Exit status: 0 verified and nothing left behind, 1 verification failed or resources were left
behind, 2 bad input (including a state machine that does not exist, or a --run-id reused with
other input), 3 could not verify, 4 AWS credentials missing or refused.`;

const LOCAL_DEFAULTS = { region: 'us-east-1', model: 'anthropic.claude-3-haiku-20240307-v1:0' };

/** Progress lines on stderr, so `--json` keeps stdout to the report. */
export function stderrLog(write: (s: string) => void): ProgressLog {
  let depth = 0;
  return {
    info: (l) => write(`${'  '.repeat(depth)}${l}\n`),
    warning: (l) => write(`warning: ${l}\n`),
    startGroup: (t) => {
      write(`${t}\n`);
      depth = 1;
    },
    endGroup: () => {
      depth = 0;
    },
  };
}

export interface RunCommandIo {
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export async function runCommand(argv: string[], io: RunCommandIo = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        'state-machine-arn': { type: 'string' },
        local: { type: 'boolean' },
        region: { type: 'string' },
        model: { type: 'string' },
        wait: { type: 'string' },
        'run-id': { type: 'string' },
        pool: { type: 'string' },
        spec: { type: 'string' },
        'base-spec': { type: 'string' },
        'allowed-models': { type: 'string' },
        junit: { type: 'string' },
        sarif: { type: 'string' },
        'timeout-minutes': { type: 'string' },
        'poll-interval-seconds': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    err(`privatelink-verify run: ${(e as Error).message}\n\n${RUN_HELP}\n`);
    return EXIT.badInput;
  }
  if (values.help) {
    out(`${RUN_HELP}\n`);
    return EXIT.ok;
  }
  const local = Boolean(values.local);
  const problems: string[] = [];
  if (local && values['state-machine-arn'])
    problems.push('give either --state-machine-arn or --local, not both');
  if (!local && !values['state-machine-arn']) problems.push('--state-machine-arn is required (or --local)');

  const region = str(values.region) ?? (local ? LOCAL_DEFAULTS.region : '');
  const runId = str(values['run-id']) ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId) || runId.length > USER_RUN_ID_MAX) {
    problems.push(`--run-id "${runId}" must be 1–${USER_RUN_ID_MAX} letters, digits, "-" or "_"`);
  }
  const pool = str(values.pool);
  if (values.pool !== undefined && (!pool || !POOL_NAME_PATTERN.test(pool)))
    problems.push(`--pool "${values.pool}" must be 1–24 lower-case letters, digits or "-"`);
  // The action's own input rules, so the terminal and the workflow refuse the same things.
  const raw: Record<string, string> = {
    [INPUT_NAMES.stateMachineArn]:
      str(values['state-machine-arn']) ??
      (local ? 'arn:aws:states:us-east-1:000000000000:stateMachine:local' : ''),
    [INPUT_NAMES.region]: region,
    [INPUT_NAMES.modelId]: str(values.model) ?? (local ? LOCAL_DEFAULTS.model : ''),
    [INPUT_NAMES.wait]: str(values.wait) ?? (local ? 'complete' : 'verdict'),
    [INPUT_NAMES.timeoutMinutes]: str(values['timeout-minutes']) ?? '',
    [INPUT_NAMES.comment]: 'off',
    [INPUT_NAMES.pollIntervalSeconds]: str(values['poll-interval-seconds']) ?? (local ? '0.05' : ''),
    // A spec names its regions and models: the local defaults give way to it.
    ...(values.spec !== undefined
      ? {
          [INPUT_NAMES.spec]: String(values.spec),
          [INPUT_NAMES.region]: str(values.region) ?? '',
          [INPUT_NAMES.modelId]: str(values.model) ?? '',
          [INPUT_NAMES.baseSpec]: str(values['base-spec']) ?? '',
          [INPUT_NAMES.allowedModels]: str(values['allowed-models']) ?? '',
        }
      : {}),
  };
  if (values.spec === undefined)
    for (const f of ['base-spec', 'allowed-models', 'junit', 'sarif'])
      if (values[f] !== undefined) problems.push(`--${f} needs --spec`);
  let inputs: ReturnType<typeof parseInputs> | undefined;
  try {
    // Only a --spec given is read: a privatelink-verify.yml that happens to be here is not.
    inputs = parseInputs(
      (name) => raw[name] ?? '',
      values.spec !== undefined ? { fileExists: (f) => existsSync(resolve(f)) } : {},
    );
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    problems.push(...e.problems.map(asFlagProblem));
  }
  if (problems.length > 0 || !inputs) {
    err(`privatelink-verify run: ${problems.join('; ')}\n`);
    return EXIT.badInput;
  }

  const log = stderrLog(err);
  if (inputs.spec)
    return runSpec({ ...inputs, spec: inputs.spec }, { local, pool, runId, values, out, err, log });
  let emulator: Emulator | undefined;
  try {
    let stateMachineArn = inputs.stateMachineArn;
    let clientConfig: SFNClientConfig = { region: inputs.stateMachineRegion };
    if (local) {
      // The instant profile at the scale `local --profile instant` uses: simulated time spent
      // computing stays small against the state machine's timeout on a busy machine.
      emulator = await Emulator.start({ port: 0, timeScale: 0.01 });
      log.info(`Local emulator on ${emulator.url}; deploying the product…`);
      stateMachineArn = (await deployProduct(emulator, { region: inputs.region })).stateMachineArn;
      clientConfig = emulator.clientConfig(inputs.region);
      if (pool)
        await ensurePool(emulator.clientConfig(inputs.region), { pool, region: inputs.region, size: 1 });
    }
    const controller = new AbortController();
    let executionArn: string | undefined;
    const onSignal = () => {
      log.warning(
        executionArn
          ? `Interrupted. The execution keeps running and cleans up after itself: ${executionArn}`
          : 'Interrupted before an execution was started.',
      );
      controller.abort(new Error('interrupted'));
    };
    process.once('SIGINT', onSignal);
    try {
      // The name carries a digest of the input: the same --run-id with other input is another run.
      const runInput = { region: inputs.region, modelId: inputs.modelId, ...(pool ? { pool } : {}) };
      const name = runIdForInput(runId, runInput);
      const result = await runVerification({
        client: new SFNClient(clientConfig),
        stateMachineArn,
        name,
        input: { runId: name, ...runInput },
        wait: inputs.wait,
        timeoutSeconds: inputs.timeoutSeconds,
        pollIntervalSeconds: inputs.pollIntervalSeconds,
        log,
        signal: controller.signal,
        onStarted: (arn) => {
          executionArn = arn;
        },
      });
      if (values.json) {
        out(
          `${JSON.stringify({ outcome: result.outcome, executionArn: result.executionArn, status: result.status, message: result.message, report: result.report ?? null }, null, 2)}\n`,
        );
      } else {
        if (result.report) out(renderReportText(result.report));
        out(`\n${result.message}\nExecution: ${result.executionArn}\n`);
      }
      if (result.report) {
        const warning = leftoverWarning(result.report);
        if (warning) log.warning(warning);
      }
      return exitCodeFor(result.outcome);
    } finally {
      process.removeListener('SIGINT', onSignal);
    }
  } catch (e) {
    if (isCredentialError(e)) {
      err(`privatelink-verify run: ${credentialMessage(e)}\n`);
      return EXIT.credentials;
    }
    if ((e as Error)?.name === 'StateMachineDoesNotExist') {
      err(
        `privatelink-verify run: --state-machine-arn ${inputs.stateMachineArn} does not exist: deploy the stack (npm run synth / cdk deploy) or check the ARN and region\n`,
      );
      return EXIT.badInput;
    }
    if (e instanceof InputMismatchError) {
      err(`privatelink-verify run: ${e.message}\n`);
      return EXIT.badInput;
    }
    err(`privatelink-verify run: ${(e as Error).message}\n`);
    return EXIT.infrastructure;
  } finally {
    await emulator?.close();
  }
}

/**
 * `run --spec`: the action's spec path from a terminal. Static checks (errors: exit 2, nothing
 * started), then one execution per region in parallel, each named from its input, then one
 * document for every region and the JUnit/SARIF files asked for.
 */
async function runSpec(
  inputs: ReturnType<typeof parseInputs> & { spec: string },
  o: {
    local: boolean;
    pool: string | undefined;
    runId: string;
    values: Record<string, string | boolean | undefined>;
    out: (s: string) => void;
    err: (s: string) => void;
    log: ProgressLog;
  },
): Promise<number> {
  const { checkSpec, regionInput } = await import('../workflows-src/action/spec-run.ts');
  const { renderRegionReportsText } = await import('../workflows-src/report/render.ts');
  const { renderFindings } = await import('./check.ts');
  const spec = await checkSpec(inputs, process.cwd());
  if (spec.problems.length || !spec.perimeter) {
    o.err(`${spec.problems.join('\n')}\nprivatelink-verify run: the spec cannot run; nothing was started\n`);
    return EXIT.badInput;
  }
  if (spec.static.findings.length) o.err(renderFindings(spec.static));
  if (o.local && spec.regions.length > 1) {
    o.err('privatelink-verify run: --local verifies one region of a spec: give --region\n');
    return EXIT.badInput;
  }
  let emulator: Emulator | undefined;
  try {
    let stateMachineArn = inputs.stateMachineArn;
    const configFor = (region: string): SFNClientConfig =>
      emulator ? emulator.clientConfig(region) : { region: inputs.stateMachineRegion };
    if (o.local) {
      emulator = await Emulator.start({ port: 0, timeScale: 0.01 });
      // One emulator, the product deployed in each region of the spec with the boundary the checks used.
      for (const region of spec.regions) {
        stateMachineArn = (await deployProduct(emulator, { region, allowedModels: [...spec.allowedModels] }))
          .stateMachineArn;
        if (o.pool) await ensurePool(emulator.clientConfig(region), { pool: o.pool, region, size: 1 });
      }
    }
    const results = await Promise.all(
      spec.regions.map((region) => {
        const input = {
          ...regionInput({ owner: 'privatelink-verify' }, spec.perimeter!, region),
          ...(o.pool ? { pool: o.pool } : {}),
        };
        const name = runIdForInput(o.runId, input);
        return runVerification({
          client: new SFNClient(configFor(region)),
          stateMachineArn,
          name,
          input: { runId: name, ...input },
          wait: inputs.wait,
          timeoutSeconds: inputs.timeoutSeconds,
          pollIntervalSeconds: inputs.pollIntervalSeconds,
          log: o.log,
        });
      }),
    );
    const reports = results.flatMap((r) => (r.report ? [r.report] : []));
    const { worstExit, writeSpecOutputs } = await import('./local-spec.ts');
    writeSpecOutputs(
      {
        ...(typeof o.values.junit === 'string' ? { junit: o.values.junit } : {}),
        ...(typeof o.values.sarif === 'string' ? { sarif: o.values.sarif } : {}),
      },
      { static: spec.static, reports },
    );
    o.out(
      o.values.json
        ? `${JSON.stringify(reports, null, 2)}\n`
        : `${renderRegionReportsText(reports, spec.changes ? { changes: spec.changes } : {})}\n${results.map((r) => `${r.message}\nExecution: ${r.executionArn}`).join('\n')}\n`,
    );
    return worstExit(results.map((r) => exitCodeFor(r.outcome)));
  } finally {
    await emulator?.close();
  }
}

/** One mapping from outcome to exit status for `run` (and the README's table). */
export function exitCodeFor(outcome: Outcome): number {
  if (outcome === 'pass') return EXIT.ok;
  if (outcome === 'fail' || outcome === 'pass-with-leftovers') return EXIT.verificationFailed;
  return EXIT.infrastructure;
}

const FLAG_FOR_INPUT: Record<string, string> = {
  [INPUT_NAMES.stateMachineArn]: '--state-machine-arn',
  [INPUT_NAMES.region]: '--region',
  [INPUT_NAMES.modelId]: '--model',
  [INPUT_NAMES.wait]: '--wait',
  [INPUT_NAMES.timeoutMinutes]: '--timeout-minutes',
  [INPUT_NAMES.pollIntervalSeconds]: '--poll-interval-seconds',
};

/** The action's messages name inputs; the terminal's name flags. */
function asFlagProblem(problem: string): string {
  const name = Object.keys(FLAG_FOR_INPUT).find((n) => problem.startsWith(`${n} `));
  return name ? `${FLAG_FOR_INPUT[name]}${problem.slice(name.length)}` : problem;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A fresh, valid run id for a terminal run: time for humans, randomness for uniqueness. */
function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `cli-${stamp}-${randomBytes(3).toString('hex')}`;
}
