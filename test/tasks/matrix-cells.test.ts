/**
 * How one observed call decides a matrix cell, every way: passed only on the expected outcome,
 * failed only on a contradicting one, could-not-verify for anything that is not an answer to the
 * row's question. And obligation 3 for a perimeter run, from its endpoint-refusal cells.
 */
import { describe, expect, it } from 'vitest';
import type { MatrixCell, Outcome } from '../../statemachine/contract.ts';
import { MatrixRowSchema, type PerimeterInput } from '../../statemachine/perimeter-spec.ts';
import {
  endpointDecidesFromCells,
  judgeCell,
  type PlannedCell,
  planCells,
  sortCells,
} from '../../tasks/lib/matrix-cells.ts';

const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
const planned = (row: Record<string, unknown>): PlannedCell => ({
  row: MatrixRowSchema.parse(row),
  index: 0,
  model: HAIKU,
});
const judge = (expect: string, outcome: Outcome, extra: Record<string, unknown> = {}, httpStatus?: number) =>
  judgeCell(
    planned({ expect, ...extra }),
    { outcome, ...(httpStatus ? { httpStatus } : {}), throughOwnEnis: true },
    [],
  ).result;

describe('judging a matrix cell', () => {
  it('passes on the expected outcome, both kinds of endpoint refusal counting as the endpoint policy', () => {
    expect(judge('allowed', 'allowed')).toBe('passed');
    expect(judge('denied-by-endpoint-policy', 'denied-by-endpoint-policy')).toBe('passed');
    expect(judge('denied-by-endpoint-policy', 'not-allowed-by-endpoint-policy')).toBe('passed');
    expect(judge('denied-by-identity-policy', 'denied-by-identity-policy', { from: 'outside' })).toBe(
      'passed',
    );
  });

  it('fails when allowed where a refusal was expected, and when refused by a policy where allowed was', () => {
    expect(judge('denied-by-endpoint-policy', 'allowed')).toBe('failed');
    expect(judge('denied-by-identity-policy', 'allowed')).toBe('failed');
    expect(judge('allowed', 'not-allowed-by-endpoint-policy')).toBe('failed');
    expect(judge('allowed', 'denied-by-identity-policy')).toBe('failed');
    // An SCP or a resource policy refusing what the team says is allowed: it is not allowed.
    expect(judge('allowed', 'denied-other')).toBe('failed');
  });

  it('is could-not-verify when AWS did not answer, whatever the row expects', () => {
    for (const expect_ of ['allowed', 'denied-by-endpoint-policy', 'denied-by-identity-policy'])
      expect(judge(expect_, 'throttled')).toBe('could-not-verify');
    expect(judge('allowed', 'unknown-error', {}, 503)).toBe('could-not-verify');
  });

  it('is could-not-verify when one policy hides the other (AWS names one reason)', () => {
    expect(judge('denied-by-endpoint-policy', 'denied-by-identity-policy')).toBe('could-not-verify');
    expect(judge('denied-by-identity-policy', 'not-allowed-by-endpoint-policy')).toBe('could-not-verify');
    expect(judge('denied-by-endpoint-policy', 'denied-other')).toBe('could-not-verify');
    expect(judge('allowed', 'model-access-missing')).toBe('could-not-verify');
  });

  it('a call from the VPC that did not go only to this run’s endpoint ENIs says nothing about this perimeter', () => {
    const c = planned({ expect: 'allowed' });
    expect(judgeCell(c, { outcome: 'allowed', throughOwnEnis: false }, []).result).toBe('could-not-verify');
    expect(judgeCell(c, { outcome: 'allowed', throughOwnEnis: true }, []).result).toBe('passed');
  });
});

describe('planning cells', () => {
  const perimeter = {
    models: [HAIKU, 'amazon.titan-text-express-v1'],
    matrix: [
      { name: 'each', expect: 'allowed' },
      { name: 'unlisted', model: 'unlisted', expect: 'denied-by-endpoint-policy' },
      { name: 'deny', phase: 'after-deny', expect: 'denied-by-endpoint-policy' },
    ].map((r) => MatrixRowSchema.parse(r)),
  } as unknown as PerimeterInput;

  it('expands each to every model, unlisted to the unlisted model, and keeps phases apart', () => {
    const allow = planCells(perimeter, 'allow-policy', 'us.x.y');
    expect(allow.map((c) => `${c.row.name}/${c.model}`)).toEqual([
      `each/${HAIKU}`,
      'each/amazon.titan-text-express-v1',
      'unlisted/us.x.y',
    ]);
    expect(planCells(perimeter, 'after-deny', undefined).map((c) => c.row.name)).toEqual(['deny', 'deny']);
  });
});

describe("obligation 3 from a perimeter's cells", () => {
  const cell = (result: MatrixCell['result'], over: Partial<MatrixCell> = {}): MatrixCell => ({
    row: 'r',
    index: 0,
    caller: 'bystander',
    from: 'vpc',
    model: HAIKU,
    action: 'InvokeModel',
    phase: 'allow-policy',
    expect: 'denied-by-endpoint-policy',
    result,
    reason: result,
    evidence: [],
    tags: [],
    ...over,
  });

  it('passes on an observed endpoint refusal, fails on an endpoint-refusal row allowed, and is unproven without one', () => {
    expect(endpointDecidesFromCells([cell('passed')]).result).toBe('passed');
    expect(endpointDecidesFromCells([cell('passed'), cell('failed')]).result).toBe('failed');
    expect(endpointDecidesFromCells([cell('could-not-verify')]).result).toBe('could-not-verify');
    // Rows that do not ask the endpoint policy to refuse inside the VPC do not count.
    expect(endpointDecidesFromCells([cell('passed', { expect: 'allowed' })]).result).toBe('could-not-verify');
    expect(endpointDecidesFromCells([cell('passed', { from: 'outside' })]).result).toBe('could-not-verify');
    expect(endpointDecidesFromCells([cell('passed', { phase: 'after-deny' })]).result).toBe(
      'could-not-verify',
    );
  });

  it('sorts failures first, then the unobserved, the passed, the skipped', () => {
    const sorted = sortCells([cell('skipped'), cell('passed'), cell('could-not-verify'), cell('failed')]);
    expect(sorted.map((c) => c.result)).toEqual(['failed', 'could-not-verify', 'passed', 'skipped']);
  });
});
