/**
 * The static checks of a perimeter spec, run before anything is created: the spec's schema, each
 * policy's grammar and rules, the probe boundary, the matrix rows, and the rows the policies as
 * written would fail. Errors stop a run (exit 2); warnings are reported and let it go on.
 */
import {
  MAX_PERIMETER_INPUT_BYTES,
  PROBE_BOUNDARY_ACTIONS,
  renderTemplate,
  SPEC_ACTIONS,
  type TemplateValues,
  unlistedModel,
} from '../statemachine/perimeter-spec.ts';
import { type LoadedSpec, loadSpec, SpecLoadError } from './load.ts';
import { checkPolicy, type Finding } from './policy-checks.ts';
import { predictMatrix, type RowCell, staticTemplateValues } from './predict.ts';
import { perimeterInput } from './resolve.ts';

export type { Finding } from './policy-checks.ts';

export interface StaticCheckOptions {
  /** Models the deployed stack's probe boundary allows (the stack's `allowedModels`). */
  allowedModels: readonly string[];
  /** Root the spec's policy files must stay inside (the checked-out repository). */
  repoRoot?: string;
}

export interface StaticCheckResult {
  specFile: string;
  /** Absent when the spec could not be loaded at all. */
  loaded?: LoadedSpec;
  findings: Finding[];
  cells: RowCell[];
  durationMs: number;
}

/**
 * Rules that predict what a live run will observe. A prediction is not evidence: it never stops a
 * run (the live matrix is the proof), but `check` exits 1 when one says a row will fail.
 */
export const PREDICTION_RULES = new Set(['row-will-fail', 'row-proves-nothing']);

/** Errors that make the spec unrunnable: exit 2, nothing created. */
export function blockingErrors(r: StaticCheckResult): Finding[] {
  return r.findings.filter((f) => f.level === 'error' && !PREDICTION_RULES.has(f.rule));
}

export function predictedFailures(r: StaticCheckResult): Finding[] {
  return r.findings.filter((f) => f.rule === 'row-will-fail');
}

function rowLabel(row: LoadedSpec['matrix'][number]): string {
  const r = row.row;
  const name = r.name ? `"${r.name}"` : `${row.index + 1}`;
  return `${row.isDefault ? 'default row' : 'row'} ${name} (${r.caller} from ${r.from}, ${r.action}, ${r.phase})`;
}

function boundaryFindings(loaded: LoadedSpec, allowed: readonly string[]): Finding[] {
  const out: Finding[] = [];
  loaded.spec.models.forEach((m, i) => {
    if (!allowed.includes(m))
      out.push({
        rule: 'model-outside-boundary',
        level: 'error',
        message: `model ${m} is outside the probe boundary's allowed models (${allowed.join(', ')}): add it to the stack's allowedModels and redeploy, or remove it`,
        at: loaded.source.locate(['models', i]),
      });
  });
  const callers = new Set(['workload', 'bystander', ...loaded.spec.roles.map((r) => r.name)]);
  for (const entry of loaded.matrix) {
    const { row } = entry;
    if (row.skip) continue;
    const here = (key: string) => loaded.source.locate(entry.isDefault ? [] : ['matrix', entry.index, key]);
    if (!callers.has(row.caller))
      out.push({
        rule: 'row-unknown-caller',
        level: 'error',
        message: `${rowLabel(entry)}: caller "${row.caller}" is not workload, bystander or a role under roles:`,
        at: here('caller'),
      });
    if (!['each', 'unlisted', ...loaded.spec.models].includes(row.model))
      out.push({
        rule: 'row-unknown-model',
        level: 'error',
        message: `${rowLabel(entry)}: model "${row.model}" is not in models: (or use each / unlisted)`,
        at: here('model'),
      });
    if (!PROBE_BOUNDARY_ACTIONS.includes(SPEC_ACTIONS[row.action]))
      out.push({
        rule: 'action-outside-boundary',
        level: 'error',
        message: `${rowLabel(entry)}: ${row.action} (${SPEC_ACTIONS[row.action]}) is outside the probe permissions boundary (${PROBE_BOUNDARY_ACTIONS.join(', ')})`,
        at: here('action'),
      });
    if (row.model === 'unlisted' && !row.skip && !unlistedModel(loaded.spec.models, allowed))
      out.push({
        rule: 'row-cannot-be-observed',
        level: 'warning',
        message: `${rowLabel(entry)}: every model the probe boundary allows is listed, so no call can show the endpoint policy refusing an unlisted model: add one to the stack's allowedModels (the row is skipped)`,
        at: here('model'),
      });
    if (row.phase === 'after-deny' && row.expect === 'allowed' && row.from === 'vpc')
      out.push({
        // Not a prediction of the evaluator: the run's own Deny refuses every action it may call.
        rule: 'row-expects-allowed-after-deny',
        level: 'error',
        message: `${rowLabel(entry)}: expects allowed after the run's Deny, which refuses every Bedrock runtime action through the endpoint`,
        at: here('expect'),
      });
  }
  return out;
}

function predictionFindings(loaded: LoadedSpec, cells: RowCell[]): Finding[] {
  const out: Finding[] = [];
  for (const cell of cells) {
    const entry = loaded.matrix[cell.index]!;
    const at = loaded.source.locate(entry.isDefault ? [] : ['matrix', cell.index, 'expect']);
    const where = `${cell.region}, ${cell.model}`;
    if (cell.prediction.outcome !== cell.row.expect)
      out.push({
        rule: 'row-will-fail',
        level: 'error',
        message: `${rowLabel(entry)} will fail for ${where}: expected ${cell.row.expect}, the policies as written give ${cell.prediction.outcome}, because ${cell.prediction.because}`,
        at,
      });
    else if (cell.refusedWithoutEndpointPolicy)
      out.push({
        rule: 'row-proves-nothing',
        level: 'warning',
        message: `${rowLabel(entry)} for ${where} cannot show that the endpoint policy decides: the identity policy refuses the call too (give the caller an identity policy that would allow it)`,
        at,
      });
  }
  return out;
}

/** Run every static check of the spec at `file`. Never throws for a problem of the spec itself. */
export async function runStaticChecks(file: string, opts: StaticCheckOptions): Promise<StaticCheckResult> {
  const started = performance.now();
  const done = (r: Omit<StaticCheckResult, 'durationMs'>): StaticCheckResult => ({
    ...r,
    durationMs: performance.now() - started,
  });
  let loaded: LoadedSpec;
  try {
    loaded = loadSpec(file, opts.repoRoot ? { repoRoot: opts.repoRoot } : {});
  } catch (err) {
    if (!(err instanceof SpecLoadError)) throw err;
    return done({
      specFile: file,
      findings: err.problems.map((p) => ({ ...p, level: 'error' as const })),
      cells: [],
    });
  }
  const findings: Finding[] = [];
  const roles = loaded.spec.roles.map((r) => r.name);
  // Templates differ by region only through ${Region}: rendering with the first one checks them all.
  const values: TemplateValues = staticTemplateValues(loaded.spec, loaded.spec.regions[0]!);
  const rendered = (t: Record<string, unknown>) => renderTemplate(t, values) as Record<string, unknown>;
  const policies = [
    [loaded.endpointPolicy, 'endpoint', 'endpoint policy'],
    [loaded.identityPolicy, 'identity', 'workload identity policy'],
    [loaded.bystanderIdentityPolicy, 'identity', 'bystander identity policy'],
    ...Object.entries(loaded.roles).map(
      ([name, p]) => [p, 'identity', `identity policy of role ${name}`] as const,
    ),
  ] as const;
  for (const [policy, kind, label] of policies)
    findings.push(...checkPolicy(policy, kind, label, { roles, rendered }));
  findings.push(...boundaryFindings(loaded, opts.allowedModels));
  // The perimeter travels in each execution's input, and the state the tasks add to it (the
  // matrix cells above all) shares Step Functions' 256 KiB payload limit: keep a quarter for it.
  const size = Buffer.byteLength(JSON.stringify(perimeterInput(loaded)));
  if (size > MAX_PERIMETER_INPUT_BYTES)
    findings.push({
      rule: 'spec-too-large',
      level: 'error',
      message: `the perimeter is ${Math.round(size / 1024)} KiB in the execution input, above ${MAX_PERIMETER_INPUT_BYTES / 1024} KiB (Step Functions passes at most 256 KiB of state): shorten its policies or matrix, or split it into several specs`,
      at: loaded.source.locate([]),
    });
  // Predictions need policies that parse and rows that name known callers and models.
  const cells = findings.some((f) => f.level === 'error')
    ? []
    : await predictMatrix(loaded, opts.allowedModels);
  findings.push(...predictionFindings(loaded, cells));
  return done({ specFile: loaded.source.file, loaded, findings: dedupe(findings), cells });
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}|${f.message}|${f.at.file}:${f.at.line}:${f.at.column}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
