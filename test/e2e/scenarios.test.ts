/**
 * End to end on the emulator: the whole product (bundled tasks, the ASL, the state machine run)
 * for each scenario, asserting on the report and on the emulator's own inventory.
 */
import { describe, expect, it } from 'vitest';
import { type LocalResult, runLocal } from '../../cli/local.ts';
import type { InventoryItem } from '../../emulator/core/service.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { TAG_KEYS } from '../../statemachine/contract.ts';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

interface Observed {
  result: LocalResult;
  /** Everything still alive in the emulator at the end that is not AWS's own (default VPC). */
  live: InventoryItem[];
  /** VPCs the run ever had, by tag: proves the network existed before a failure. */
  sawVpc: boolean;
}

async function run(scenario: string, runId: string, setup?: (emu: Emulator) => void): Promise<Observed> {
  let live: InventoryItem[] = [];
  let sawVpc = false;
  const result = await runLocal(
    {
      scenario,
      input: { runId, region: 'us-east-1', modelId: MODEL },
      profile: 'instant',
      json: false,
      quiet: true,
    },
    () => {},
    {
      onStarted: (emu) => {
        setup?.(emu);
        // The emulator logs every request; note whether a CreateVpc ever succeeded for this run.
        const original = emu.ctx.log;
        (emu.ctx as { log: typeof original }).log = (line) => {
          if (line.operation === 'CreateVpc' && line.status === 200) sawVpc = true;
          original(line);
        };
      },
      onFinished: (emu) => {
        live = emu
          .inventory()
          // The deployed product (its synthesized roles, functions, state machine) is not a leftover.
          .filter((i) => !i.builtIn && !(i.type === 'role' && i.id.startsWith('privatelink-verify-')))
          .filter((i) => !(i.type === 'function' && i.id.startsWith('privatelink-verify-')))
          .filter((i) => i.type !== 'state-machine' && i.type !== 'policy');
      },
    },
  );
  return { result, live, sawVpc };
}

describe('local verification on the emulator', () => {
  it('correct: allow and deny pass, the propagation time is measured, and nothing is left', async () => {
    const { result, live } = await run('correct', 'e2e-correct');
    expect(result.report.verdict).toBe('pass');
    expect(result.executionStatus).toBe('SUCCEEDED');
    expect(result.report.checks.map((c) => [c.name, c.status])).toEqual([
      ['allow', 'passed'],
      ['deny', 'passed'],
    ]);
    const deny = result.report.checks.find((c) => c.name === 'deny')!;
    expect(deny.evidence?.httpStatus).toBe(403);
    expect(deny.evidence?.errorMessage).toMatch(/explicit deny in a VPC endpoint policy/);
    expect(result.report.propagationSeconds).toBeGreaterThanOrEqual(0);
    const allow = result.report.checks.find((c) => c.name === 'allow')!;
    expect(allow.evidence?.resolvedPrivate).toBe(true);
    expect(result.report.cleanup).toEqual({ status: 'complete', leftovers: [] });
    expect(live).toEqual([]);
    expect(result.exitCode).toBe(0);
  });

  // The other worlds (inference profile, Deny not enforced, private DNS off, SG without 443,
  // model access, a task failing midway) run in scenario-library.test.ts with their verdict,
  // deciding obligation, reason, exit code and leftovers asserted there.

  it('private-dns-off: the probe saw public addresses, evidence that the endpoint was bypassed', async () => {
    const { result } = await run('private-dns-off', 'e2e-public-dns');
    const allow = result.report.checks.find((c) => c.name === 'allow')!;
    expect(allow.evidence?.resolvedPrivate).toBe(false);
    expect(allow.evidence?.resolvedAddresses.length).toBeGreaterThan(0);
  });

  it('survives throttling and 5xx from EC2 and IAM through retries, and still cleans up', async () => {
    const { result, live } = await run('correct', 'e2e-throttled', (emu) =>
      emu.setFaults([
        { kind: 'throttle', service: 'ec2', probability: 0.3 },
        { kind: 'server-error', service: 'iam', probability: 0.2 },
      ]),
    );
    expect(result.report.verdict).toBe('pass');
    expect(live).toEqual([]);
  });

  it('cleanup waits for Lambda ENIs to detach (DependencyViolation meanwhile) under realistic delays', async () => {
    const refusedDeletes: string[] = [];
    const res = await runLocal(
      {
        scenario: 'correct',
        input: { runId: 'e2e-eni-linger', region: 'us-east-1', modelId: MODEL },
        profile: 'realistic',
        timeScale: 0.002,
        json: false,
        quiet: true,
      },
      () => {},
      {
        onStarted: (emu) => {
          const original = emu.ctx.log;
          (emu.ctx as { log: typeof original }).log = (line) => {
            if (
              ['DeleteSubnet', 'DeleteSecurityGroup', 'DeleteVpc'].includes(String(line.operation)) &&
              line.status === 400
            ) {
              refusedDeletes.push(String(line.operation));
            }
            original(line);
          };
        },
      },
    );
    expect(res.report.verdict).toBe('pass');
    // The probe's ENIs linger minutes after the function is gone: deletes were refused, then retried.
    expect(refusedDeletes).toContain('DeleteSubnet');
    expect(res.report.cleanup.status).toBe('complete');
    expect(res.leftovers.filter((l) => l.tags[TAG_KEYS.runId] === 'e2e-eni-linger')).toEqual([]);
  });
});
