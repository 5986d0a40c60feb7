/**
 * The action with a perimeter spec: read the pull request's spec from the workspace, check it
 * statically (nothing is started when it cannot run), and turn it into one execution input per
 * region. Also the one rule for folding several regions' outcomes into the step's outcome.
 *
 * The spec is data from a pull request. What it may decide: the regions, the models (only within
 * the allowed models: refused statically otherwise), the policies the run writes and the matrix.
 * What it never decides: the state machine, the role, the account — those come from the action's
 * inputs (the workflow's settings) and the deployed stack's IAM, whose probe permissions boundary
 * names only the stack's allowed models whatever the static check was told.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { stackAllowedModels } from '../../cli/allowed-models.ts';
import {
  blockingErrors,
  type Finding,
  runStaticChecks,
  type StaticCheckResult,
} from '../../perimeter/check.ts';
import { changesAgainstBase, type SpecChange } from '../../perimeter/diff.ts';
import { executionInputFor, perimeterInput } from '../../perimeter/resolve.ts';
import { type ExecutionInputArgs, type RunOutcome, worstRunOutcome } from '../../statemachine/contract.ts';
import type { PerimeterInput } from '../../statemachine/perimeter-spec.ts';
import { INPUT_NAMES, type VerifyInputs } from './inputs.ts';

/**
 * StartExecution refuses an input over 262,144 bytes of UTF-8 (Step Functions API reference,
 * StartExecution `input`: "Length constraints apply to the payload size, and are expressed as
 * bytes in UTF-8 encoding", maximum length 262144; the 256 KiB execution input quota).
 */
export const MAX_EXECUTION_INPUT_BYTES = 262_144;

export interface CheckedSpec {
  static: StaticCheckResult;
  allowedModels: readonly string[];
  /** One line per reason the spec cannot run (`file:line:col: [rule] message`); empty: it can. */
  problems: string[];
  /** The perimeter every region's execution carries; absent when `problems` is not empty. */
  perimeter?: PerimeterInput;
  /** The regions to run, in the spec's order (or the one the `region` input picked). */
  regions: string[];
  /** What the spec changes against the base branch's, when `base-spec` was given. */
  changes?: SpecChange[];
}

/** The spec's own file must be inside the workspace too: a symlink in a pull request is not a way out. */
function outsideWorkspace(workspace: string, specPath: string): boolean {
  let real: string;
  try {
    real = realpathSync(join(workspace, specPath));
  } catch {
    return false; // missing: loadSpec says "spec file not found" at its place
  }
  const inside = relative(realpathSync(workspace), real);
  return inside.startsWith('..') || isAbsolute(inside);
}

/**
 * Load and check the spec. Static errors that stop a run (schema, policy grammar, a model outside
 * the allowed models…) become `problems`; predictions ("this row will fail") do not stop it: the
 * live run is the proof.
 */
export async function checkSpec(
  inputs: VerifyInputs & { spec: string },
  workspace: string,
  opts: {
    /**
     * IAM Access Analyzer ValidatePolicy on the rendered policies (perimeter/access-analyzer.ts),
     * run once the static checks pass: its ERROR findings stop the run like static errors.
     */
    validatePolicy?: (loaded: NonNullable<StaticCheckResult['loaded']>) => Promise<Finding[]>;
  } = {},
): Promise<CheckedSpec> {
  // The stack's allowed models as this workspace's cdk.json configures them (the CLI's rule), unless
  // the workflow names them. Either way the deployed boundary is what AWS enforces.
  const allowedModels = inputs.allowedModels ?? stackAllowedModels();
  if (outsideWorkspace(workspace, inputs.spec)) {
    return {
      static: { specFile: inputs.spec, findings: [], cells: [], durationMs: 0 },
      allowedModels,
      problems: [`${inputs.spec}:1:1: [spec-file] the spec file resolves outside the workspace (a symlink?)`],
      regions: [],
    };
  }
  const checked = await runStaticChecks(join(workspace, inputs.spec), {
    allowedModels,
    repoRoot: resolve(workspace),
  });
  // A spec that could not be loaded is named by its absolute path: name it as the workflow did.
  if (!checked.loaded) checked.specFile = inputs.spec;
  const problems = blockingErrors(checked).map(
    (f) => `${f.at.file}:${f.at.line}:${f.at.column}: [${f.rule}] ${f.message}`,
  );
  const loaded = checked.loaded;
  if (problems.length || !loaded) return { static: checked, allowedModels, problems, regions: [] };
  if (opts.validatePolicy) {
    const found = await opts.validatePolicy(loaded);
    checked.findings.push(...found);
    problems.push(
      ...blockingErrors({ ...checked, findings: found }).map(
        (f) => `${f.at.file}:${f.at.line}:${f.at.column}: [${f.rule}] ${f.message}`,
      ),
    );
    if (problems.length) return { static: checked, allowedModels, problems, regions: [] };
  }

  const where = `${checked.specFile}:1:1`;
  let regions: string[] = [...loaded.spec.regions];
  if (inputs.region) {
    if (!regions.includes(inputs.region))
      problems.push(
        `${where}: [${INPUT_NAMES.region}] the ${INPUT_NAMES.region} input ${inputs.region} is not one of the spec's regions (${regions.join(', ')})`,
      );
    regions = [inputs.region];
  }
  if (inputs.modelId && !loaded.spec.models.includes(inputs.modelId))
    problems.push(
      `${where}: [${INPUT_NAMES.modelId}] the ${INPUT_NAMES.modelId} input ${inputs.modelId} is not one of the spec's models (${loaded.spec.models.join(', ')}); every model of the spec is verified`,
    );
  const perimeter = perimeterInput(loaded);
  const changes = inputs.baseSpec ? changesAgainstBase(inputs.baseSpec, loaded) : undefined;
  if (problems.length)
    return { static: checked, allowedModels, problems, regions: [], ...(changes ? { changes } : {}) };
  return { static: checked, allowedModels, problems, perimeter, regions, ...(changes ? { changes } : {}) };
}

/** What every region's input shares: today's input without region and model (the spec gives those). */
export interface BaseInput {
  owner: string;
  /** The pool every region's run leases its network from (the `pool` input). */
  pool?: string;
}

/**
 * One region's execution input, run id aside (the execution name is derived from it and then
 * becomes the run id): today's input, the region, the spec's first model as the run's own (the
 * contract wants one of the perimeter's models; the matrix runs every model anyway) and the perimeter.
 */
export function regionInput(
  base: BaseInput,
  perimeter: PerimeterInput,
  region: string,
): Omit<ExecutionInputArgs, 'runId'> {
  // One region at a time: the execution name, not the run id suffix, keeps regions apart here.
  const { runId: _placeholder, ...input } = executionInputFor(
    { runId: 'x', region, modelId: perimeter.models[0]!, ...base },
    perimeter,
    region,
    1,
  );
  return input;
}

/** Bytes of UTF-8 the input takes as StartExecution sends it. */
export function inputBytes(input: ExecutionInputArgs): number {
  return Buffer.byteLength(JSON.stringify(input), 'utf8');
}

/** The step's outcome over several regions: the worst one (the contract's one rule, worstRunOutcome). */
export const worstOutcome = worstRunOutcome;

/** Index of the result that decides the outcome: the first (in the spec's order) with the worst outcome. */
export function decidingIndex(outcomes: readonly RunOutcome[]): number {
  const worst = worstOutcome(outcomes);
  return Math.max(0, outcomes.indexOf(worst));
}
