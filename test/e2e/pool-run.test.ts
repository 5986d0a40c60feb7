/**
 * A whole run that leases a pooled network: the report names the leased network, every
 * obligation is proven as for a run's own network, the run created no VPC, and at the end the
 * lease is free again and the pooled network whole (only the run's own resources are gone).
 */
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/local.ts';
import type { InventoryItem } from '../../emulator/core/service.ts';
import { OBLIGATION_ORDER, POOL_TAG_KEYS, TAG_KEYS } from '../../statemachine/contract.ts';

describe('a run with --pool', () => {
  it('leases pool-<name>-1, proves every obligation, and hands the network back whole', async () => {
    let after: InventoryItem[] = [];
    const runId = 'pool-e2e';
    const result = await runLocal(
      {
        scenario: 'correct',
        input: { runId, region: 'us-east-1', modelId: 'anthropic.claude-3-haiku-20240307-v1:0', pool: 'e2e' },
        poolSize: 2,
        profile: 'instant',
        json: false,
        quiet: true,
      },
      () => {},
      { onFinished: (emu) => (after = emu.inventory()) },
    );
    const r = result.report;
    expect(r.verdict, r.summary).toBe('pass');
    expect(r.leasedNetwork).toMatch(/^pool-e2e-[12]$/);
    expect(r.obligations.map((o) => [o.id, o.result])).toEqual(OBLIGATION_ORDER.map((id) => [id, 'passed']));
    expect(r.obligations.find((o) => o.id === 'no-other-way-out')?.observation).toMatch(
      /the leased network pool-e2e-[12]'s groups hold only the pool's rules/,
    );
    expect(result.exitCode).toBe(0);
    // Nothing of the run is left, the run built no VPC, and both pooled networks are still there.
    expect(after.filter((i) => i.tags[TAG_KEYS.runId] === runId)).toEqual([]);
    const vpcs = after.filter((i) => i.type === 'vpc' && !i.builtIn);
    expect(vpcs.map((v) => v.tags[POOL_TAG_KEYS.network]).sort()).toEqual(['pool-e2e-1', 'pool-e2e-2']);
    // The probe's Lambda ENIs in the pooled VPC carry no tag of the run: they must be gone too
    // (the endpoint's went with it), or the pool would fill up with them run after run.
    expect(after.filter((i) => i.type === 'eni')).toEqual([]);
    // The pool's own groups (two per network) are all still there: the run deleted only its lease.
    const poolGroups = after.filter(
      (i) => i.type === 'security-group' && i.tags[POOL_TAG_KEYS.pool] === 'e2e',
    );
    expect(poolGroups).toHaveLength(4);
  });
});
