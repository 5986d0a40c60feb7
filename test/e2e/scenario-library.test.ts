/**
 * Every world of the scenario library, end to end on the instant profile: the whole product on
 * the emulator, with the world's settings put in place through the admin route. Each test asserts
 * the verdict, the obligation that decides it and the reason — and the rules of the verdict: no
 * pass in a tampered world, no perimeter `fail` in a world AWS did not answer, no `fail` in a
 * correct world. The worlds share emulators (one per deployment they need, test/helpers/
 * shared-emulators.ts): each run starts from the emulator's own world with the scenario's on top.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from '../../cli/scenarios.ts';
import { OBLIGATION_ORDER, TAG_KEYS } from '../../statemachine/contract.ts';
import { SharedEmulators } from '../helpers/shared-emulators.ts';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

describe('scenario library: each world gets the verdict its observations support', () => {
  const emulators = new SharedEmulators('instant');
  afterAll(() => emulators.close());

  it('has at least 20 tampered or unobservable worlds and 3 unusual correct ones', () => {
    const all = Object.values(SCENARIOS);
    expect(all.filter((s) => s.kind !== 'correct').length).toBeGreaterThanOrEqual(20);
    expect(all.filter((s) => s.kind === 'correct' && s.name !== 'correct').length).toBeGreaterThanOrEqual(3);
    // Every obligation is broken by at least two worlds, in different ways.
    for (const id of OBLIGATION_ORDER) {
      const breaking = all.filter((s) => s.expect.obligation === id && s.expect.result === 'failed');
      expect(breaking.length, id).toBeGreaterThanOrEqual(2);
    }
  });

  for (const scenario of Object.values(SCENARIOS)) {
    it(`${scenario.name} (${scenario.kind}): ${scenario.expect.verdict}${scenario.expect.obligation ? ` on ${scenario.expect.obligation}` : ''}`, async () => {
      const runId = `lib-${scenario.name}`.slice(0, 40);
      let left: unknown[] = [];
      const result = await emulators.run(
        {
          scenario: scenario.name,
          input: { runId, region: 'us-east-1', modelId: MODEL },
          profile: 'instant',
          json: false,
          quiet: true,
        },
        { onFinished: (emu) => (left = emu.leftovers(TAG_KEYS.runId, runId)) },
      );
      const r = result.report;
      const rows = r.obligations;
      const why = `${r.summary}\n${rows.map((o) => `${o.id}: ${o.result}: ${o.observation}`).join('\n')}`;
      expect(r.verdict, why).toBe(scenario.expect.verdict);
      // Zero false passes, zero `fail` for could-not-verify or correct worlds.
      if (scenario.kind === 'tampered') expect(r.verdict, why).toBe('fail');
      if (scenario.kind !== 'tampered')
        expect(
          rows.filter((o) => o.result === 'failed'),
          why,
        ).toEqual([]);
      if (scenario.expect.verdict === 'pass') {
        expect(rows.map((o) => [o.id, o.result])).toEqual(OBLIGATION_ORDER.map((id) => [id, 'passed']));
        expect(result.exitCode).toBe(0);
        // A finding that did not fail its row is still shown, naming what it found; none otherwise.
        if (scenario.warning)
          expect(rows.find((o) => o.id === scenario.warning!.obligation)!.warnings.join(' '), why).toMatch(
            scenario.warning.text,
          );
        else expect(rows.flatMap((o) => o.warnings)).toEqual([]);
      } else {
        expect(result.exitCode, why).toBe(scenario.expect.verdict === 'fail' ? 1 : 3);
        if (scenario.expect.result && !scenario.expect.obligation)
          expect(
            rows.some((o) => o.result === scenario.expect.result),
            why,
          ).toBe(true);
      }
      if (scenario.expect.obligation) {
        const row = rows.find((o) => o.id === scenario.expect.obligation)!;
        expect(row.result, why).toBe(scenario.expect.result);
        if (scenario.expect.reason) expect(row.observation, why).toMatch(scenario.expect.reason);
      } else if (scenario.expect.reason) {
        expect(`${r.summary} ${rows.map((o) => o.observation).join(' ')}`, why).toMatch(
          scenario.expect.reason,
        );
      }
      if (scenario.expect.everywhereAfterFirstBySeconds !== undefined)
        expect((r.stableAfterSeconds ?? 0) - (r.propagationSeconds ?? 0), why).toBeGreaterThanOrEqual(
          scenario.expect.everywhereAfterFirstBySeconds,
        );
      // Every obligation has a row, whatever happened.
      expect(rows.map((o) => o.id)).toEqual([...OBLIGATION_ORDER]);
      expect(left).toEqual([]);
      // The first world of each deployment also starts its emulator and deploys the product.
    }, 180_000);
  }
});
