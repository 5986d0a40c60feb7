/**
 * `privatelink-verify local`: bundle the tasks, start the emulator in-process, deploy the product
 * into it through the ordinary APIs, run one verification with live progress, and print the report.
 */
import { parseArgs } from 'node:util';
import { EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { profileNamed } from '../emulator/core/latency.ts';
import type { InventoryItem } from '../emulator/core/service.ts';
import { Emulator } from '../emulator/emulator.ts';
import { DEFAULT_CONFIG } from '../infra/config.ts';
import {
  describeInputProblem,
  type ExecutionInputArgs,
  ExecutionInputSchema,
  hasLeftovers,
  type Report,
  SCHEMA_VERSION,
  STATE_NAMES,
  TAG_KEYS,
  unobservedObligations,
} from '../statemachine/contract.ts';
import { unlistedModelFor } from '../tasks/lib/policies.ts';
import { startOrAttach, type WatchResult, watchExecution } from '../workflows-src/action/execution.ts';
import { parseModelList } from './allowed-models.ts';
import { type DeployedProduct, deployProduct } from './deploy.ts';
import { EXIT, UsageError } from './exit-codes.ts';
import { ensurePool } from './pool.ts';
import { stderrLog } from './run.ts';
import { deploySafetyNet, runSafetyNet, type SafetyNetResult } from './safety-net.ts';
import { applyScenario, SCENARIO_NAMES, SCENARIOS } from './scenarios.ts';

export const LOCAL_HELP = `Usage: privatelink-verify local [options]

Run one full verification against the embedded local AWS emulator: provision the VPC, endpoint
and probe, verify allow and deny, clean up, and print the report.

Options:
  --scenario <name>     ${SCENARIO_NAMES.join(' | ')} (default: correct)
  --region <region>     AWS region (default: us-east-1)
  --model <id>          model id or inference profile (default: anthropic.claude-3-haiku-20240307-v1:0)
  --spec <file>         verify a perimeter spec (YAML or JSON, e.g. privatelink-verify.yml): its
                        static checks first (errors: exit 2, nothing created), then one execution
                        per region of it, running its policies and every matrix row; replaces
                        --model and --region
  --allowed-models <l>  with --spec: the models the stack's probe boundary allows (default: the
                        privatelink-verify:allowedModels context of ./cdk.json, else the stack default)
  --junit <file>        with --spec: also write JUnit XML, one testcase per matrix cell and obligation
  --sarif <file>        with --spec: also write SARIF 2.1.0 (static findings and failed cells, at
                        the spec line that declares them)
  --base <file>         with --spec: the base branch's spec, to say what this one changes
  --profile <name>      latency profile: instant | realistic (default: realistic)
  --time-scale <n>      cap: at least this many real seconds per simulated second, for human-speed
                        demos (default: no cap; simulated time moves by events, as fast as the CPU allows)
  --run-id <id>         execution name (default: local-<timestamp>)
  --vpc-cidr <cidr>     VPC CIDR block (default: 10.42.0.0/16)
  --seed <n>            seed for the emulator's randomness (default: 20261124)
  --pool <name>         lease a network of a pool instead of building a VPC: the pool is created
                        in the emulator first (pool-<name>-1 …), as \`privatelink-verify pool create\` would
  --pool-size <n>       networks in that pool (default: 1)
  --json                print the report document as JSON instead of the summary
  --quiet               no progress lines
  -h, --help            show this help

Exit status: 0 verified and nothing left behind, 1 a check failed or resources were left,
2 bad input (nothing created), 3 the run could not verify.`;

export interface LocalOptions {
  scenario: string;
  input: ExecutionInputArgs;
  /** Networks of the input's pool to create in the emulator before the run (default 1). */
  poolSize?: number;
  profile: 'instant' | 'realistic';
  timeScale?: number;
  seed?: number;
  json: boolean;
  quiet: boolean;
  /** The models the simulated stack's probe boundary allows (a spec run: what its static checks used). */
  allowedModels?: readonly string[];
  /** Verify a perimeter spec (cli/local-spec.ts): one execution per region of it. */
  spec?: {
    file: string;
    allowedModels?: string[];
    junit?: string;
    sarif?: string;
    base?: string;
    /** Root the spec's policy files must stay inside (default: the working directory). */
    repoRoot?: string;
  };
}

export interface LocalResult {
  report: Report;
  executionStatus: string;
  leftovers: InventoryItem[];
  exitCode: number;
  /** What the safety net did, when the execution ended ABORTED, TIMED_OUT or FAILED. */
  safetyNet?: SafetyNetResult;
  figures: {
    wallSeconds: number;
    simulatedSeconds: number;
    /** States entered, as the execution history counts them. */
    stateTransitions: number;
    peakRssMb: number;
    /** Simulated seconds from the verdict being known to the end of the execution (teardown). */
    verdictToEndSeconds?: number;
    /** Simulated seconds from StartExecution to the verdict being known (time to verdict). */
    verdictSeconds?: number;
  };
}

export function parseLocalArgs(argv: string[]): LocalOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        scenario: { type: 'string', default: 'correct' },
        region: { type: 'string' },
        model: { type: 'string' },
        spec: { type: 'string' },
        'allowed-models': { type: 'string' },
        junit: { type: 'string' },
        sarif: { type: 'string' },
        base: { type: 'string' },
        profile: { type: 'string', default: 'realistic' },
        'time-scale': { type: 'string' },
        'run-id': { type: 'string' },
        'vpc-cidr': { type: 'string' },
        seed: { type: 'string' },
        pool: { type: 'string' },
        'pool-size': { type: 'string' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) return 'help';
  const spec = values.spec === undefined ? undefined : String(values.spec);
  if (spec !== undefined && (values.model !== undefined || values.region !== undefined))
    throw new UsageError('--spec names its own models and regions: drop --model and --region');
  if (spec === undefined)
    for (const f of ['allowed-models', 'junit', 'sarif', 'base'])
      if (values[f] !== undefined) throw new UsageError(`--${f} needs --spec`);
  if (spec === '') throw new UsageError('--spec needs a file name (for example privatelink-verify.yml)');
  const scenario = String(values.scenario);
  if (!SCENARIOS[scenario])
    throw new UsageError(`unknown scenario "${scenario}": use one of ${SCENARIO_NAMES.join(', ')}`);
  const profile = String(values.profile);
  if (profile !== 'instant' && profile !== 'realistic')
    throw new UsageError(`unknown profile "${profile}": use instant or realistic`);
  const timeScale = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
  if (timeScale !== undefined && !(timeScale > 0 && timeScale <= 10)) {
    throw new UsageError(
      `--time-scale must be a number above 0 and at most 10, got "${values['time-scale']}"`,
    );
  }
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !Number.isInteger(seed))
    throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
  const poolSize = values['pool-size'] === undefined ? undefined : Number(values['pool-size']);
  if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize >= 1 && poolSize <= 4))
    throw new UsageError(
      `--pool-size must be a whole number from 1 to 4 (the VPC quota), got "${values['pool-size']}"`,
    );
  if (poolSize !== undefined && values.pool === undefined) throw new UsageError('--pool-size needs --pool');
  const input: ExecutionInputArgs = {
    runId: String(
      values['run-id'] ??
        `local-${new Date()
          .toISOString()
          .replace(/[-:T.Z]/g, '')
          .slice(0, 14)}`,
    ),
    region: String(values.region ?? 'us-east-1'),
    modelId: String(values.model ?? DEFAULT_MODEL),
    // An empty --vpc-cidr is a mistake to name, not a request for the default.
    ...(values['vpc-cidr'] !== undefined ? { vpcCidr: String(values['vpc-cidr']) } : {}),
    ...(values.pool !== undefined ? { pool: String(values.pool) } : {}),
  };
  const parsed = ExecutionInputSchema.safeParse(withScenario(input, scenario));
  if (!parsed.success) throw new UsageError(describeInputProblem(parsed.error));
  return {
    scenario,
    input,
    profile,
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(poolSize !== undefined ? { poolSize } : {}),
    json: Boolean(values.json),
    quiet: Boolean(values.quiet),
    ...(spec !== undefined
      ? {
          spec: {
            file: spec,
            ...(values['allowed-models'] !== undefined
              ? { allowedModels: parseModelList(String(values['allowed-models']), '--allowed-models') }
              : {}),
            ...(values.junit !== undefined ? { junit: String(values.junit) } : {}),
            ...(values.sarif !== undefined ? { sarif: String(values.sarif) } : {}),
            ...(values.base !== undefined ? { base: String(values.base) } : {}),
          },
        }
      : {}),
  };
}

export const DEFAULT_MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

/** The execution input a scenario runs with: its deliberate misconfigurations on top of the user's input. */
export function withScenario(input: ExecutionInputArgs, scenario: string): ExecutionInputArgs {
  const s = SCENARIOS[scenario];
  if (!s) throw new UsageError(`unknown scenario "${scenario}": use one of ${SCENARIO_NAMES.join(', ')}`);
  const i = s.input ?? {};
  return {
    ...input,
    ...(i.vpcCidr ? { vpcCidr: i.vpcCidr } : {}),
    ...(i.modelId ? { modelId: i.modelId } : {}),
    ...(i.deadlines ? { deadlines: { ...input.deadlines, ...i.deadlines } } : {}),
    ...(i.options ? { options: { ...input.options, ...i.options } } : {}),
    // A pool world leases from a pool the run creates first (runLocal), named as the user asks.
    ...(s.pool ? { pool: input.pool ?? LOCAL_POOL } : {}),
  };
}

/** The pool a pool world leases from when the user names none. */
export const LOCAL_POOL = 'local';

/** Run one local verification end to end. Progress goes to `progress`; nothing is printed otherwise. */
/** Hooks for benchmarks and tests that need the emulator itself. */
export interface LocalHooks {
  onStarted?: (emu: Emulator) => void;
  onFinished?: (emu: Emulator) => void;
}

export async function runLocal(
  o: LocalOptions,
  progress: (line: string) => void = () => {},
  hooks: LocalHooks = {},
): Promise<LocalResult> {
  const wallStart = performance.now();
  const profile = profileNamed(o.profile);
  // The event clock (emulator/core/clock.ts) needs no scale: without a cap, simulated time jumps
  // to the next timer whenever the run waits, and stands still while it computes.
  const timeScale = o.timeScale ?? 0;
  const emu = await Emulator.start({ profile, timeScale, ...(o.seed !== undefined ? { seed: o.seed } : {}) });
  const rss = peakRssSampler();
  try {
    progress(
      `emulator listening on ${emu.url} (profile ${profile.name}, ${timeScale > 0 ? `time capped at scale ${timeScale}` : 'event clock, uncapped'})`,
    );
    const deployed = await deployFor(emu, o);
    progress(
      `deployed ${Object.keys(deployed.functionArns).length} functions and the state machine in ${(deployed.deployMs / 1000).toFixed(1)} s`,
    );
    const result = await runInEmulator(emu, deployed, o, progress, hooks);
    return {
      ...result,
      figures: {
        ...result.figures,
        wallSeconds: (performance.now() - wallStart) / 1000,
        peakRssMb: rss.peakMb(),
      },
    };
  } finally {
    rss.stop();
    await emu.close();
  }
}

/** The product deployed the way a run of `o` needs it: its region, the probe boundary allowing its model. */
export function deployFor(
  emu: Emulator,
  o: Pick<LocalOptions, 'scenario' | 'input' | 'allowedModels'>,
): Promise<DeployedProduct> {
  const input = withScenario(o.input, o.scenario);
  const scenario = SCENARIOS[o.scenario]!;
  // The probe boundary allows the run's model, as a user's CDK configuration would, and a second
  // one for the unlisted-model call (the endpoint policy must refuse it).
  const unlisted = unlistedModelFor(input.modelId, DEFAULT_CONFIG.allowedModels);
  return deployProduct(emu, {
    region: o.input.region,
    allowedModels: o.allowedModels
      ? [...o.allowedModels]
      : [input.modelId, ...(scenario.deploy?.singleModel || !unlisted ? [] : [unlisted])],
    ...(scenario.deploy?.vpcCidrPool ? { vpcCidrPool: scenario.deploy.vpcCidrPool } : {}),
  });
}

/** Peak RSS of this process, sampled every 100 ms until stopped. */
function peakRssSampler(): { peakMb: () => number; stop: () => void } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  return {
    peakMb: () => Math.max(peak, process.memoryUsage().rss) / 1024 / 1024,
    stop: () => clearInterval(timer),
  };
}

/**
 * One verification in an emulator the product is already deployed in (`deployFor`): the
 * scenario's world put in place, the execution followed to its end, the report and figures.
 * Tests run many worlds in one emulator this way; the world stays set until the caller changes it.
 */
export async function runInEmulator(
  emu: Emulator,
  deployed: DeployedProduct,
  o: LocalOptions,
  progress: (line: string) => void = () => {},
  hooks: LocalHooks = {},
): Promise<LocalResult> {
  const wallStart = performance.now();
  const rss = peakRssSampler();
  const input = withScenario(o.input, o.scenario);
  try {
    const scenario = SCENARIOS[o.scenario]!;
    if (input.pool) {
      const config = emu.clientConfig(o.input.region);
      const networks = await ensurePool(config, {
        pool: input.pool,
        region: o.input.region,
        size: o.poolSize ?? scenario.pool?.size ?? 1,
        ...(input.vpcCidr ? { vpcCidr: input.vpcCidr } : {}),
      });
      progress(`pool ${input.pool}: ${networks.map((n) => `${n.name} (${n.vpcId})`).join(', ')}`);
      // A tampered pool world changes the pooled network after the pool built it.
      await scenario.pool?.tamper?.(new EC2Client(config), networks);
    }
    await applyScenario(emu, scenario);

    const sfn = new SFNClient(emu.clientConfig(o.input.region));
    const virtualStart = emu.ctx.now();
    hooks.onStarted?.(emu);
    const { executionArn } = await startOrAttach(sfn, {
      stateMachineArn: deployed.stateMachineArn,
      name: input.runId,
      input,
    });
    progress(`execution ${input.runId} started (scenario ${o.scenario})`);

    // The same follower as the action and `run`: one line per state entered and left.
    const watch = await watchExecution(sfn, executionArn, {
      mode: 'complete',
      timeoutSeconds: 3600,
      pollIntervalSeconds: 0.1,
      maxPollIntervalSeconds: 0.5,
      log: stderrLog((text) => progress(text.replace(/\n$/, ''))),
    });
    const events = await fullHistory(sfn, executionArn);

    let safetyNet: SafetyNetResult | undefined;
    if (SAFETY_NET_STATUSES.includes(watch.status)) {
      // On AWS the EventBridge rule starts the safety net for these; locally we do what it does.
      progress(`execution ${watch.status}: starting the safety net as the EventBridge rule would`);
      const stopDate =
        (await sfn.send(new DescribeExecutionCommand({ executionArn }))).stopDate ?? new Date();
      safetyNet = await runSafetyNet(sfn, await deploySafetyNet(emu, sfn, deployed), {
        executionArn,
        status: watch.status,
        input,
        stopDate: stopDate.getTime(),
        ...(watch.error ? { error: watch.error } : {}),
      });
      progress(`safety net ${safetyNet.status}: cleanup ${safetyNet.cleanup?.status ?? 'did not report'}`);
    }
    const report = watch.report ?? reportWithout(input, watch, safetyNet);
    hooks.onFinished?.(emu);
    const at = (e: HistoryEvent | undefined) => (e?.timestamp ? new Date(e.timestamp).getTime() : undefined);
    const verdictAt = at(
      events.find(
        (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === STATE_NAMES.verdictKnown,
      ),
    );
    const endedAt = at(events[events.length - 1]);
    const leftovers = emu
      .leftovers(TAG_KEYS.runId, o.input.runId)
      .concat(
        emu
          .inventory()
          .filter(
            (i) => (i.type === 'function' || i.type === 'role') && i.id === `plv-probe-${o.input.runId}`,
          ),
      );
    const figures = {
      wallSeconds: (performance.now() - wallStart) / 1000,
      simulatedSeconds: (emu.ctx.now() - virtualStart) / 1000,
      stateTransitions: events.filter((e) => e.type?.endsWith('StateEntered')).length,
      peakRssMb: rss.peakMb(),
      ...(verdictAt !== undefined && endedAt !== undefined
        ? { verdictToEndSeconds: (endedAt - verdictAt) / 1000 }
        : {}),
      ...(verdictAt !== undefined ? { verdictSeconds: (verdictAt - virtualStart) / 1000 } : {}),
    };
    let exitCode: number = EXIT.ok;
    if (isInputRefusal(report)) exitCode = EXIT.badInput;
    else if (report.verdict === 'error') exitCode = EXIT.infrastructure;
    else if (report.verdict === 'fail' || leftovers.length > 0 || hasLeftovers(report))
      exitCode = EXIT.verificationFailed;
    return {
      report,
      executionStatus: watch.status,
      leftovers,
      exitCode,
      figures,
      ...(safetyNet ? { safetyNet } : {}),
    };
  } finally {
    rss.stop();
  }
}

const SAFETY_NET_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'];

/** An execution that ended without a report (a Lambda Invoke that failed past every Catch): say so as an error. */
export function reportWithout(
  input: ExecutionInputArgs,
  watch: WatchResult,
  net: SafetyNetResult | undefined,
): Report {
  const now = new Date().toISOString();
  const c = net?.cleanup;
  return {
    schemaVersion: SCHEMA_VERSION,
    runId: input.runId,
    region: input.region,
    modelId: input.modelId,
    verdict: 'error',
    outcome: 'error',
    summary: `Could not verify: the execution ended ${watch.status} without a report (${watch.error ?? 'no error'}).`,
    obligations: unobservedObligations(`the execution ended ${watch.status} without a report`),
    checks: [],
    failure: {
      stage: 'cleanup',
      error: watch.error ?? watch.status,
      ...(watch.cause ? { cause: String(watch.cause).slice(0, 500) } : {}),
    },
    resources: [],
    cleanup: c
      ? { status: c.status, leftovers: c.remaining, ...(c.unlisted.length ? { unlisted: c.unlisted } : {}) }
      : { status: 'incomplete', leftovers: [], unlisted: ['the safety net reported no inventory'] },
    timings: { startedAt: now, finishedAt: now },
    cost: { estimatedUsd: 0, basis: 'unknown: the execution ended without a report' },
  };
}

/** Preflight refused the input (e.g. a region without Bedrock): the user's to fix, and nothing was created. */
export function isInputRefusal(report: Report): boolean {
  return (
    report.failure?.stage === 'preflight' &&
    ['PrivateLinkVerify.InvalidInput', 'PrivateLinkVerify.Unsupported'].includes(report.failure.error)
  );
}

/** Every history event of an execution, for the figures (states entered, when the verdict was known). */
export async function fullHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}
