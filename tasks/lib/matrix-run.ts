/**
 * Run the perimeter's matrix cells of one phase: VerifyAllow runs the `allow-policy` rows once the
 * allowed call is seen to go through this run's endpoint (before that, a refusal would prove
 * nothing); VerifyDeny runs the `after-deny` rows once the run's Deny is stable.
 *
 * A call from the VPC goes through the probe: as the probe role itself (`workload`), or signed
 * with the short-lived credentials of the bystander or an extra role, which the verify task
 * assumes and hands to the probe for that call. A call from outside is made by the verify task
 * itself (a function with no VpcConfig) with the caller's assumed credentials.
 */
import type {
  ExecutionInput,
  MatrixCell,
  ProbeEvent,
  ProbeFunctionOutput,
  ProbeResult,
} from '../../statemachine/contract.ts';
import { assumeForOneCall, type SessionCredentials } from './assume.ts';
import { callLine, throughOwnEnis } from './endpoint-decides.ts';
import type { Logger } from './log.ts';
import {
  judgeCell,
  type Phase,
  type PlannedCell,
  planCells,
  skippedCell,
  unobservedCell,
} from './matrix-cells.ts';
import { errorCode, isUnobservedOutcome } from './outcomes.ts';
import { callOnceFromOutside } from './outside-caller.ts';
import { invokeProbe } from './probe-runs.ts';
import type { EndpointReading } from './readback.ts';

/** Cells in flight at once: each is one probe invoke (or one outside call) at a time. */
const CONCURRENCY = 4;
/** Evidence lines a cell keeps (the last calls): the cells travel in the run state, under 256 KiB with the rest. */
const EVIDENCE_LINES = 2;
const clip = (lines: string[]) =>
  lines.slice(-EVIDENCE_LINES).map((l) => (l.length > 400 ? `${l.slice(0, 399)}…` : l));
/** Calls per cell: a fresh role's policy may take seconds to be in effect (IAM eventual consistency). */
const ATTEMPTS = 4;

/**
 * When a verify task stops starting cells: cells are not the phase's own wait (its deadline is
 * spent by then), so they get the Lambda's remaining time, less one cell's worth of calls.
 */
export function cellDeadlineMs(context?: { getRemainingTimeInMillis?: () => number }): number {
  return Date.now() + (context?.getRemainingTimeInMillis?.() ?? 600_000) - 60_000;
}

export interface MatrixRunOptions {
  input: ExecutionInput;
  phase: Phase;
  probe: ProbeFunctionOutput;
  /** The endpoint as read back in this task: a call from the VPC counts only through its ENIs. */
  reading: EndpointReading | undefined;
  intervalMs: number;
  /** Epoch ms after which no further cell is started (the task's own deadline). */
  deadlineMs: number;
  log: Logger;
}

type Caller = { roleArn: string; own: boolean } | { missing: string };

function callerOf(row: PlannedCell['row'], probe: ProbeFunctionOutput): Caller {
  if (row.caller === 'workload') return { roleArn: probe.roleArn, own: true };
  if (row.caller === 'bystander')
    return probe.bystanderRoleArn
      ? { roleArn: probe.bystanderRoleArn, own: false }
      : { missing: 'no bystander role was made (the deployment names no verify role that may assume one)' };
  const extra = probe.extraRoles?.find((r) => r.name === row.caller);
  return extra
    ? { roleArn: extra.roleArn, own: false }
    : {
        missing: `the role "${row.caller}" was not made (the deployment names no verify role that may assume it)`,
      };
}

/** Worth another call: not answered, or refused by an identity policy a fresh role may not have in effect yet. */
function again(outcome: ProbeResult['outcome'], status: number | undefined, c: PlannedCell): boolean {
  if (isUnobservedOutcome(outcome, status)) return true;
  return outcome === 'denied-by-identity-policy' && c.row.expect !== 'denied-by-identity-policy';
}

export async function runMatrixPhase(o: MatrixRunOptions): Promise<MatrixCell[]> {
  const perimeter = o.input.perimeter;
  if (!perimeter) return [];
  const planned = planCells(perimeter, o.phase, o.probe.unlistedModelId);
  const credentials = new Map<string, Promise<SessionCredentials>>();
  const session = (roleArn: string) => {
    let p = credentials.get(roleArn);
    if (!p) {
      p = assumeForOneCall(o.input.region, roleArn, `plv-matrix-${o.input.runId}`);
      credentials.set(roleArn, p);
    }
    return p;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const fromVpc = async (c: PlannedCell, caller: { roleArn: string; own: boolean }): Promise<MatrixCell> => {
    if (!o.reading)
      return unobservedCell(
        c,
        "the endpoint's network interfaces could not be read, so no call from the VPC can be shown to go through them",
      );
    let creds: SessionCredentials | undefined;
    if (!caller.own) {
      try {
        creds = await session(caller.roleArn);
      } catch (err) {
        return unobservedCell(c, `${caller.roleArn} could not be assumed, so its call was not made`, [
          `AssumeRole ${caller.roleArn}: ${errorCode(err)}: ${(err as Error).message}`,
        ]);
      }
    }
    const event: ProbeEvent = {
      region: o.input.region,
      modelId: c.model!,
      action: c.row.action,
      ...(creds ? { credentials: creds } : {}),
    };
    const evidence: string[] = [];
    let last: ProbeResult | undefined;
    for (let i = 0; i < ATTEMPTS; i++) {
      if (i > 0) await sleep(o.intervalMs);
      try {
        last = await invokeProbe(o.input.region, o.probe.functionName, event);
        evidence.push(callLine(`${c.row.action} call ${i + 1}`, { result: last }));
        if (!again(last.outcome, last.httpStatus, c)) break;
      } catch (err) {
        last = undefined;
        evidence.push(
          callLine(`${c.row.action} call ${i + 1}`, {
            invokeError: `${errorCode(err)}: ${(err as Error).message}`,
          }),
        );
      }
    }
    if (!last)
      return unobservedCell(c, 'the probe could not be invoked, so the call was not made', clip(evidence));
    return judgeCell(
      c,
      {
        outcome: last.outcome,
        ...(last.httpStatus !== undefined ? { httpStatus: last.httpStatus } : {}),
        throughOwnEnis: throughOwnEnis(last, o.reading),
      },
      clip(evidence),
    );
  };

  const fromOutside = async (c: PlannedCell, caller: { roleArn: string }): Promise<MatrixCell> => {
    const evidence: string[] = [];
    let last: { outcome: ProbeResult['outcome']; httpStatus?: number } | undefined;
    for (let i = 0; i < ATTEMPTS; i++) {
      if (i > 0) await sleep(o.intervalMs);
      const r = await callOnceFromOutside({
        region: o.input.region,
        roleArn: caller.roleArn,
        modelId: c.model!,
        action: c.row.action,
        sessionName: `plv-outside-${o.input.runId}`,
      });
      if ('assumeError' in r)
        return unobservedCell(c, `${caller.roleArn} could not be assumed, so the outside call was not made`, [
          r.assumeError,
        ]);
      evidence.push(r.evidence);
      last = r;
      if (!again(r.outcome, r.httpStatus, c)) break;
    }
    return judgeCell(c, last!, clip(evidence));
  };

  const one = async (c: PlannedCell): Promise<MatrixCell> => {
    if (c.row.skip) return skippedCell(c, `skipped: ${c.row.skip}`);
    if (!c.model)
      return unobservedCell(
        c,
        "no model to call: every model the stack's probe boundary allows is listed in the perimeter (add one to the stack's allowedModels)",
      );
    if (Date.now() > o.deadlineMs) return unobservedCell(c, "not run: the task's time ran out first");
    const caller = callerOf(c.row, o.probe);
    if ('missing' in caller) return unobservedCell(c, caller.missing);
    return c.row.from === 'vpc' ? fromVpc(c, caller) : fromOutside(c, caller);
  };

  const cells: MatrixCell[] = new Array(planned.length);
  let next = 0;
  const worker = async () => {
    while (next < planned.length) {
      const i = next++;
      cells[i] = await one(planned[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, planned.length) }, worker));
  o.log.info('matrix phase observed', {
    phase: o.phase,
    cells: cells.length,
    results: cells.map((c) => `${c.row}/${c.model}: ${c.result}`),
  });
  return cells;
}
