/**
 * `privatelink-verify local --spec FILE`: the team's perimeter verified on the emulator the way
 * the action verifies it on AWS. Static checks first (their errors stop it with nothing created),
 * then one execution per region of the spec, in parallel, each in an emulator of its own with the
 * product deployed as the stack's allowedModels say, each running the spec's policies and matrix.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { blockingErrors, runStaticChecks, type StaticCheckResult } from '../perimeter/check.ts';
import { changesAgainstBase, type SpecChange } from '../perimeter/diff.ts';
import { writeLiveOutputs } from '../perimeter/live-outputs.ts';
import { executionInputFor, perimeterInput } from '../perimeter/resolve.ts';
import { sarifLog } from '../perimeter/sarif.ts';
import type { Report } from '../statemachine/contract.ts';
import { stackAllowedModels } from './allowed-models.ts';
import { staticJunit } from './check.ts';
import { EXIT } from './exit-codes.ts';
import { type LocalOptions, type LocalResult, runLocal } from './local.ts';

export interface SpecRunResult {
  static: StaticCheckResult;
  /** One per region, in the spec's order; empty when the static checks stopped the run. */
  results: LocalResult[];
  reports: Report[];
  changes?: SpecChange[];
  exitCode: number;
}

/**
 * The worst of several runs' exit codes: bad input, then failed (a contradiction fails the
 * perimeter whatever else could not be observed, as worstRunOutcome), then credentials, then
 * could not verify, then ok.
 */
export function worstExit(codes: readonly number[]): number {
  for (const c of [EXIT.badInput, EXIT.verificationFailed, EXIT.credentials, EXIT.infrastructure])
    if (codes.includes(c)) return c;
  return codes.find((c) => c !== EXIT.ok) ?? EXIT.ok;
}

export async function runSpecLocally(
  o: LocalOptions & { spec: NonNullable<LocalOptions['spec']> },
  progress: (line: string) => void,
): Promise<SpecRunResult> {
  const allowedModels = o.spec.allowedModels ?? stackAllowedModels();
  const checked = await runStaticChecks(o.spec.file, {
    allowedModels,
    repoRoot: o.spec.repoRoot ?? resolve('.'),
  });
  progress(
    `${checked.specFile}: static checks in ${Math.round(checked.durationMs)} ms (${checked.findings.length} finding(s), ${checked.cells.length} cell(s) predicted)`,
  );
  if (blockingErrors(checked).length || !checked.loaded)
    return { static: checked, results: [], reports: [], exitCode: EXIT.badInput };
  const perimeter = perimeterInput(checked.loaded);
  const regions = checked.loaded.spec.regions;
  const inputSize = Math.max(
    ...regions.map((r) => JSON.stringify(executionInputFor(o.input, perimeter, r, regions.length)).length),
  );
  progress(`${regions.length} region(s): ${regions.join(', ')}; execution input ${inputSize} bytes`);
  const results = await Promise.all(
    regions.map((region) =>
      runLocal(
        {
          ...o,
          input: executionInputFor(o.input, perimeter, region, regions.length),
          allowedModels,
        },
        regions.length > 1 ? (line) => progress(`[${region}] ${line}`) : progress,
      ),
    ),
  );
  return {
    static: checked,
    results,
    reports: results.map((r) => r.report),
    ...(o.spec.base ? { changes: changesAgainstBase(o.spec.base, checked.loaded) } : {}),
    exitCode: worstExit(results.map((r) => r.exitCode)),
  };
}

/**
 * The files `--junit` and `--sarif` ask for: the live cells and obligations with the static
 * findings, or, when the static checks stopped the run, the static findings alone.
 */
export function writeSpecOutputs(
  o: { junit?: string; sarif?: string },
  r: Pick<SpecRunResult, 'static' | 'reports'>,
): void {
  if (!o.junit && !o.sarif) return;
  if (r.reports.length && r.static.loaded) {
    writeLiveOutputs(
      { reports: r.reports, spec: r.static.loaded, findings: r.static.findings, version: VERSION },
      { ...(o.junit ? { junit: o.junit } : {}), ...(o.sarif ? { sarif: o.sarif } : {}) },
    );
    return;
  }
  if (o.junit) writeFileSync(o.junit, staticJunit(r.static));
  if (o.sarif) writeFileSync(o.sarif, sarifLog(r.static.findings, VERSION));
}

const VERSION = '0.1.0';
