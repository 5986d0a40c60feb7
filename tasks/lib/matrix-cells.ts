/**
 * The perimeter's expected-access matrix as cells (row × model) and how one observed call decides
 * a cell. Pure: the verify tasks make the calls (matrix-run.ts), the report folds the cells.
 *
 * A cell passes only when the call ended as the row expects; it fails only on an outcome that
 * contradicts the row (allowed where a refusal was expected, refused by a policy where allowed
 * was expected). Anything else — not answered, or refused by something that hides what the row
 * asks about (the identity policy when the row asks about the endpoint policy, and the other way
 * round: AWS names one reason) — is could-not-verify, never evidence either way.
 */
import {
  CELL_RESULT_ORDER,
  type MatrixCell,
  type Observation,
  type Outcome,
} from '../../statemachine/contract.ts';
import type { ExpectedOutcome, MatrixRow, PerimeterInput } from '../../statemachine/perimeter-spec.ts';
import { explainOutcome, isUnobservedOutcome } from './outcomes.ts';

export type Phase = MatrixRow['phase'];

/** A cell to run: the row, and the model it calls (undefined: a row marked `unlisted` with no model to call). */
export interface PlannedCell {
  row: MatrixRow;
  index: number;
  model: string | undefined;
}

export const rowLabel = (row: MatrixRow, index: number) => row.name ?? `row ${index + 1}`;

/** Every cell of `phase`, in the spec's order; skipped rows are planned too (they are reported, not run). */
export function planCells(
  perimeter: PerimeterInput,
  phase: Phase,
  unlistedModelId: string | undefined,
): PlannedCell[] {
  return perimeter.matrix.flatMap((row, index) => {
    if (row.phase !== phase) return [];
    const models =
      row.model === 'each' ? perimeter.models : row.model === 'unlisted' ? [unlistedModelId] : [row.model];
    return models.map((model) => ({ row, index, model }));
  });
}

function cellOf(
  c: PlannedCell,
  result: MatrixCell['result'],
  reason: string,
  extra: { observed?: Outcome; evidence?: string[] } = {},
): MatrixCell {
  return {
    row: rowLabel(c.row, c.index),
    index: c.index,
    caller: c.row.caller,
    from: c.row.from,
    model: c.model ?? 'unlisted',
    action: c.row.action,
    phase: c.row.phase,
    expect: c.row.expect,
    result,
    ...(extra.observed ? { observed: extra.observed } : {}),
    reason,
    evidence: extra.evidence ?? [],
    tags: c.row.tags,
  };
}

export function skippedCell(c: PlannedCell, why: string): MatrixCell {
  return cellOf(c, 'skipped', why);
}

export function unobservedCell(c: PlannedCell, why: string, evidence: string[] = []): MatrixCell {
  return cellOf(c, 'could-not-verify', why, { evidence });
}

/** The row's words for an observed outcome (both kinds of endpoint refusal are the endpoint policy's). */
export function asExpected(outcome: Outcome): ExpectedOutcome | undefined {
  if (outcome === 'allowed') return 'allowed';
  if (outcome === 'denied-by-endpoint-policy' || outcome === 'not-allowed-by-endpoint-policy')
    return 'denied-by-endpoint-policy';
  if (outcome === 'denied-by-identity-policy') return 'denied-by-identity-policy';
  return undefined;
}

const SAYS: Record<ExpectedOutcome, string> = {
  allowed: 'allowed',
  'denied-by-endpoint-policy': 'refused by the endpoint policy',
  'denied-by-identity-policy': "refused by the caller's identity policy",
};

/**
 * Judge one observed call. `throughOwnEnis` is whether a call from the VPC went only to this
 * run's endpoint ENIs (undefined for a call from outside): a call that went elsewhere says
 * nothing about this perimeter.
 */
export function judgeCell(
  c: PlannedCell,
  observed: { outcome: Outcome; httpStatus?: number; throughOwnEnis?: boolean },
  evidence: string[],
): MatrixCell {
  const { outcome } = observed;
  const got = asExpected(outcome);
  const want = c.row.expect;
  const who = `${c.row.caller} from ${c.row.from === 'vpc' ? 'inside the VPC' : 'outside the VPC'}`;
  const what = `${c.row.action} on ${c.model}`;
  const e = { observed: outcome, evidence };
  if (isUnobservedOutcome(outcome, observed.httpStatus))
    return cellOf(c, 'could-not-verify', `${who}: ${what} was not answered (${explainOutcome(outcome)})`, e);
  if (c.row.from === 'vpc' && observed.throughOwnEnis === false)
    return cellOf(
      c,
      'could-not-verify',
      `${who}: ${what} did not go only to this run's endpoint network interfaces, so it says nothing about this perimeter`,
      e,
    );
  if (got === want) return cellOf(c, 'passed', `${who}: ${what} was ${SAYS[want]}, as expected`, e);
  if (got === 'allowed')
    return cellOf(c, 'failed', `${who}: ${what} was allowed, but the row expects it ${SAYS[want]}`, e);
  if (want === 'allowed' && (got !== undefined || outcome === 'denied-other'))
    return cellOf(
      c,
      'failed',
      `${who}: ${what} was refused (${explainOutcome(outcome)}), but the row expects it allowed`,
      e,
    );
  // Refused, but not by the policy the row asks about: AWS names one reason, so this one hides the other.
  return cellOf(
    c,
    'could-not-verify',
    `${who}: ${what} ended ${outcome}, not ${SAYS[want]}: ${explainOutcome(outcome)} (this refusal hides whether the row holds)`,
    e,
  );
}

/** In CELL_RESULT_ORDER (failures first); the spec's order within each. */
export function sortCells(cells: readonly MatrixCell[]): MatrixCell[] {
  const rank = (c: MatrixCell) => CELL_RESULT_ORDER.indexOf(c.result);
  return [...cells].sort((a, b) => rank(a) - rank(b) || a.index - b.index);
}

/** Every cell of a phase that did not run: skipped rows as skipped, the others unobserved, with why. */
export function notRunCells(
  perimeter: PerimeterInput,
  phase: Phase,
  unlistedModelId: string | undefined,
  why: string,
): MatrixCell[] {
  return planCells(perimeter, phase, unlistedModelId).map((c) =>
    c.row.skip ? skippedCell(c, `skipped: ${c.row.skip}`) : unobservedCell(c, why),
  );
}

/**
 * Obligation 3's "the endpoint policy decides", for a run with a perimeter: the matrix rows that
 * expect a refusal by the endpoint policy inside the VPC (the bystander, the unlisted model, a
 * team's own) are the calls that show it. One allowed contradicts it; none observed leaves it
 * unproven.
 */
export function endpointDecidesFromCells(cells: readonly MatrixCell[]): Observation {
  const obligation = 'policy-in-force-is-policy-written' as const;
  const mine = cells.filter(
    (c) => c.from === 'vpc' && c.phase === 'allow-policy' && c.expect === 'denied-by-endpoint-policy',
  );
  const line = (c: MatrixCell) => `matrix ${c.row} (${c.caller}, ${c.action} on ${c.model}): ${c.reason}`;
  const failed = mine.filter((c) => c.result === 'failed');
  if (failed.length)
    return {
      obligation,
      result: 'failed',
      observed: `the endpoint policy does not decide as the perimeter says: ${failed.map(line).join('; ')}`,
      evidence: mine.map(line),
    };
  const passed = mine.filter((c) => c.result === 'passed');
  if (passed.length)
    return {
      obligation,
      result: 'passed',
      observed: `inside the VPC the endpoint policy refused ${passed.map((c) => `${c.caller}'s ${c.action} on ${c.model} (${c.row})`).join(', ')}`,
      evidence: mine.map(line),
    };
  return {
    obligation,
    result: 'could-not-verify',
    observed: mine.length
      ? `no matrix row showed the endpoint policy refusing a call inside the VPC: ${mine.map(line).join('; ')}`
      : 'the perimeter has no matrix row that expects the endpoint policy to refuse a call inside the VPC (add a bystander or an unlisted-model row), so nothing showed that the endpoint policy decides',
    evidence: mine.map(line),
  };
}
