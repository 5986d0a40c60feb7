/**
 * Fault matrix, end to end on the emulator: every AWS operation the tasks call under throttling,
 * 5xx, a permanent refusal, NotFound after create and DependencyViolation; a hung task at each task
 * state; a stop at each state (one during a slow create); a run that times out. For each: the run
 * ends, the verdict is right (`error` when the fault prevents observing, never `pass` with
 * unreported leftovers), and once the safety net has run the emulator holds nothing of the run —
 * or, where a permanent refusal makes that impossible, the report names exactly what is left.
 *
 * `npm test` runs a representative subset; `npm run test:faults` (PLV_FAULTS=full) runs it all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaseResult, type FaultWorld, runCase, shortTimeoutCopy, startFaultWorld } from './harness.ts';
import {
  ADVISORY,
  type FaultKind,
  hungTaskCases,
  operationCases,
  stopCases,
  TEARDOWN_ONLY,
} from './matrix.ts';

const FULL = process.env.PLV_FAULTS === 'full';
/**
 * The subset `npm test` runs (each case is a whole run, ~10–20 s wall on a loaded 2-core box): a
 * refused delete (leftovers named), a hung Cleanup (its Retry), a stop during a slow create.
 */
const SUBSET = new Set(['DeleteVpc-refuse', 'hung-Cleanup', 'stop-during-slow-CreateVpc']);
const pick = <T extends { name: string }>(cases: T[]) =>
  FULL ? cases : cases.filter((c) => SUBSET.has(c.name));

let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
}, 120_000);
afterAll(() => world?.close());

const ids = (r: CaseResult) =>
  new Set([
    ...(r.report?.cleanup.leftovers ?? []).map((l) => l.id),
    ...(r.safetyNet?.cleanup?.remaining ?? []).map((l) => l.id),
  ]);

/** Whatever the case: it ended, and leftovers are never unreported nor called a pass. */
function assertHonest(r: CaseResult): void {
  expect(r.watch.status).not.toBe('RUNNING');
  expect(r.watch.timedOut).toBe(false);
  if (r.live.length > 0) {
    expect(r.outcome, 'leftovers must never be a pass').not.toBe('pass');
    const reported = ids(r);
    for (const item of r.live)
      expect(reported, `${item.type} ${item.id} is left but not reported`).toContain(item.id);
  }
}

const TRANSIENT: FaultKind[] = ['throttle', 'server-error', 'not-found-after-create', 'dependency-violation'];

describe('fault matrix: every operation × every fault', () => {
  for (const c of pick(operationCases())) {
    it(`${c.operation} under ${c.kind}`, async () => {
      const r = await runCase(world, c);
      assertHonest(r);
      if (TRANSIENT.includes(c.kind)) {
        // Transient faults are survived: the run passes and leaves nothing.
        expect(r.outcome, r.report?.summary).toBe('pass');
        expect(r.live).toEqual([]);
        return;
      }
      if (!r.failedOps.has(c.operation) || ADVISORY.has(c.operation)) {
        // This run never calls the operation (a lookup only the other model form needs), or rides it out.
        expect(r.outcome, r.report?.summary).toBe('pass');
        return;
      }
      expect(r.outcome, r.report?.summary).not.toBe('pass');
      if (TEARDOWN_ONLY.has(c.operation)) {
        // The checks ran: the verdict stands, and the refused teardown turns it into pass-with-leftovers.
        expect(r.report?.verdict).toBe('pass');
        expect(r.outcome).toBe('pass-with-leftovers');
      } else if (c.operation === 'Invoke' || c.operation === 'InvokeModel') {
        expect(['fail', 'error']).toContain(r.report?.verdict);
      } else {
        // A refused create or lookup prevents observing anything: could not verify.
        expect(r.report?.verdict, r.report?.summary).toBe('error');
      }
    }, 180_000);
  }
});

describe('fault matrix: a hung (killed) task at each task state', () => {
  for (const c of pick(hungTaskCases())) {
    it(`${c.task} hangs past its timeout`, async () => {
      const r = await runCase(world, c);
      assertHonest(r);
      // The run's own Cleanup or the safety net removes everything, late creates included.
      expect(r.live).toEqual([]);
      if (c.task === 'Cleanup') {
        // Cleanup's Retry covers States.Timeout: the second attempt finishes and the run passes.
        expect(r.outcome, r.report?.summary).toBe('pass');
      } else {
        expect(r.report?.verdict, r.report?.summary).toBe('error');
      }
    }, 180_000);
  }
});

describe('fault matrix: a stop at each state', () => {
  for (const c of pick(stopCases())) {
    it(`stopped at ${c.stopAt}${c.faults.length ? ' during a slow create' : ''}: the safety net leaves nothing`, async () => {
      const r = await runCase(world, c);
      assertHonest(r);
      expect(r.live).toEqual([]);
      if (r.watch.status === 'ABORTED') expect(r.safetyNet?.cleanup?.status).toBe('complete');
    }, 180_000);
  }
});

describe('fault matrix: an execution that ends FAILED', () => {
  it('Lambda refuses every task invoke once resources exist: the execution FAILS, the safety net removes everything', async () => {
    const r = await runCase(world, {
      name: 'failed-execution',
      // From VerifyAllow on, Lambda refuses Step Functions' invokes (and the probe's): Cleanup's
      // retries and the Report are refused too, so the execution ends in ReportFailed.
      armAt: 'VerifyAllow',
      faultsEndWithRun: true,
      faults: [
        {
          kind: 'error',
          service: 'lambda',
          operation: 'Invoke',
          code: 'AccessDeniedException',
          status: 403,
          message: 'refused by the fault matrix: Invoke',
        },
      ],
    });
    expect(r.watch.status).toBe('FAILED');
    // The world is what the case says: the run had built its network before the refusals began.
    expect(r.liveWhenArmed?.map((i) => i.type)).toContain('vpc');
    assertHonest(r);
    expect(r.live).toEqual([]);
    expect(r.outcome).not.toBe('pass');
  }, 300_000);
});

describe.runIf(FULL)('fault matrix: a run that times out', () => {
  it('TIMED_OUT while cleanup keeps being refused: the safety net runs and what is left is named', async () => {
    const r = await runCase(world, {
      name: 'timed-out',
      stateMachineArn: await shortTimeoutCopy(world, 900),
      faults: [
        {
          kind: 'error',
          service: 'ec2',
          operation: 'DeleteVpc',
          code: 'UnauthorizedOperation',
          status: 403,
          times: 400,
        },
      ],
      deadlines: { cleanupSeconds: 7200 },
    });
    expect(r.watch.status).toBe('TIMED_OUT');
    expect(r.safetyNet).toBeDefined();
    assertHonest(r);
  }, 600_000);
});
