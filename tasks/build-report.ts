/**
 * The report: once when the verdict is known (before teardown, so watchers can say it early) and
 * once at the end with cleanup's result. The verdict is decided here only.
 */
import {
  type Check,
  hasLeftovers,
  type Leftover,
  type MatrixCell,
  OBLIGATION_CLAIMS,
  OBLIGATION_ORDER,
  type Obligation,
  type ObligationId,
  type ObligationResult,
  type Observation,
  PERIMETER_CLAIMS,
  type Report,
  type ReportOutput,
  type ResourceRef,
  type RunState,
  RunStateSchema,
  SCHEMA_VERSION,
  type StageName,
  type Verdict,
} from '../statemachine/contract.ts';
import { notRunCells, sortCells } from './lib/matrix-cells.ts';

interface BuildReportEvent {
  phase: 'verdict' | 'final';
  state: unknown;
}

/** List prices used for the estimate (us-east-1, USD). */
export const PRICES = { endpointAzHour: 0.01, stateTransition: 0.000025 } as const;

function firstMissingStage(s: RunState): StageName {
  if (!s.preflight) return 'preflight';
  if (!s.network) return 'network';
  if (!s.provisioned?.endpoint) return 'endpoint';
  if (!s.provisioned?.probe) return 'probe';
  if (!s.allow) return 'verify-allow';
  if (!s.flip) return 'flip';
  if (!s.deny) return 'verify-deny';
  return 'cleanup';
}

/** Lambda errors arrive as a JSON Cause: show the message a person wrote, not the envelope. */
function readableCause(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/** Why an obligation has no observation: the stage that would have made it did not run. */
function notObservedBecause(s: RunState, id: ObligationId): string {
  const needsDeny = id === 'own-deny-refuses-stably';
  if (needsDeny && s.allow && s.allow.status !== 'passed')
    return 'not observed: the deny phase was skipped because the allow phase did not pass (a deny without a working allow proves nothing)';
  const stage = firstMissingStage(s);
  return `not observed: the run stopped before it (at the ${stage} stage${s.failure ? `, ${s.failure.Error}` : ''})`;
}

const RESULT_RANK: Record<ObligationResult, number> = { failed: 0, 'could-not-verify': 1, passed: 2 };

/**
 * One row per obligation, from every observation the tasks made toward it. A failed observation
 * fails the row (an observation contradicted the claim); otherwise one that could not be made
 * leaves it could-not-verify; only a row whose every observation passed has passed.
 */
function claimOf(s: RunState, id: ObligationId): string {
  return (s.input.perimeter && PERIMETER_CLAIMS[id]) || OBLIGATION_CLAIMS[id];
}

/**
 * Every cell of the perimeter's matrix: what the verify tasks observed, and for a phase that did
 * not run, each of its cells as not observed and why. Undefined for a run without a perimeter.
 */
export function matrixOf(s: RunState): MatrixCell[] | undefined {
  const perimeter = s.input.perimeter;
  if (!perimeter) return undefined;
  const unlisted = s.provisioned?.probe?.unlistedModelId;
  const phaseCells = (phase: 'allow-policy' | 'after-deny', observed: MatrixCell[] | undefined) => {
    if (observed) return observed;
    const why =
      phase === 'after-deny' && s.allow && s.allow.status !== 'passed'
        ? 'not run: the deny phase was skipped because the allow phase did not pass'
        : `not run: the run stopped before it (at the ${firstMissingStage(s)} stage${s.failure ? `, ${s.failure.Error}` : ''})`;
    return notRunCells(perimeter, phase, unlisted, why);
  };
  return sortCells([
    ...phaseCells('allow-policy', s.allow?.matrix),
    ...phaseCells('after-deny', s.deny?.matrix),
  ]);
}

const cellLine = (c: MatrixCell) => `matrix ${c.row} (${c.model}): ${c.reason}`;

export function obligationsOf(s: RunState): Obligation[] {
  // A leased network is read back when it is leased (tasks/lib/pool.ts): those observations count too.
  const observations: Observation[] = [
    ...(s.network?.observations ?? []),
    ...(s.allow?.observations ?? []),
    ...(s.deny?.observations ?? []),
  ];
  return OBLIGATION_ORDER.map((id) => {
    const mine = observations.filter((o) => o.obligation === id);
    const deciding = mine.filter((o) => !o.warning);
    const warnings = mine.filter((o) => o.warning).map((o) => o.observed);
    if (deciding.length === 0) {
      return {
        id,
        claim: claimOf(s, id),
        result: 'could-not-verify',
        observation: notObservedBecause(s, id),
        reason: notObservedBecause(s, id),
        evidence: mine.flatMap((o) => o.evidence),
        warnings,
      };
    }
    const sorted = [...deciding].sort((a, b) => RESULT_RANK[a.result] - RESULT_RANK[b.result]);
    const result = sorted[0]!.result;
    return {
      id,
      claim: claimOf(s, id),
      result,
      observation: sorted.map((o) => o.observed).join('; '),
      reason: sorted
        .filter((o) => o.result === result)
        .map((o) => o.observed)
        .join('; '),
      evidence: mine.flatMap((o) => o.evidence),
      warnings,
    };
  });
}

/** A claim as a clause of the summary: the claim with its first letter lowered. */
const clause = (o: Obligation) => o.claim.charAt(0).toLowerCase() + o.claim.slice(1);

export function decideVerdict(s: RunState): {
  verdict: Verdict;
  summary: string;
  obligations: Obligation[];
  failure?: Report['failure'];
} {
  const obligations = obligationsOf(s);
  const matrix = matrixOf(s) ?? [];
  const passed = obligations.filter((o) => o.result === 'passed');
  // A cell's result decides like an obligation's: a contradiction fails, an unobserved cell is error.
  const failed = [
    ...obligations.filter((o) => o.result === 'failed'),
    ...matrix.filter((c) => c.result === 'failed').map((c) => ({ id: 'matrix', reason: cellLine(c) })),
  ];
  const unverified = [
    ...obligations.filter((o) => o.result === 'could-not-verify'),
    ...matrix
      .filter((c) => c.result === 'could-not-verify')
      .map((c) => ({ id: 'matrix', reason: cellLine(c) })),
  ];
  const cellsPassed = matrix.filter((c) => c.result === 'passed').length;
  const proven = passed.length ? ` Proven: ${passed.map(clause).join('; ')}.` : ' Nothing was proven.';
  const stage = firstMissingStage(s);
  const cause = readableCause(s.failure?.Cause);
  const failure = s.failure
    ? { failure: { stage, error: s.failure.Error ?? 'Unknown', ...(cause ? { cause } : {}) } }
    : {};
  // An observation that contradicts a claim is a perimeter failure, whatever else happened.
  if (failed.length > 0) {
    return {
      verdict: 'fail',
      summary: `Failed: ${failed.map((o) => o.reason).join(' — ')}.${proven}`,
      obligations,
      ...failure,
    };
  }
  if (s.failure || unverified.length > 0) {
    const why = s.failure
      ? `the ${stage} stage failed${s.failure.Error ? ` with ${s.failure.Error}` : ''}${cause ? `: ${cause}` : ''}`
      : unverified.map((o) => `${o.id}: ${o.reason}`).join(' — ');
    return {
      verdict: 'error',
      summary: `Could not verify: ${why}.${proven}`,
      obligations,
      failure: { stage, error: s.failure?.Error ?? 'CouldNotVerify', ...(cause ? { cause } : {}) },
    };
  }
  const took =
    s.deny?.propagationSeconds !== undefined
      ? ` The Deny took effect ${s.deny.propagationSeconds} s after the policy change.`
      : '';
  const endpointId = s.provisioned?.endpoint?.vpcEndpointId ?? 'the endpoint';
  const cells = matrix.length
    ? ` Every matrix cell held (${cellsPassed} observed${matrix.length > cellsPassed ? `, ${matrix.length - cellsPassed} skipped` : ''}).`
    : '';
  return {
    verdict: 'pass',
    summary: `Verified for ${endpointId}:${proven.replace(' Proven:', '')}${cells}${took}`,
    obligations,
  };
}

function resourcesOf(s: RunState): ResourceRef[] {
  const r: ResourceRef[] = [];
  // Of a leased network the run created only its lease: the pool's VPC, subnets and groups stay.
  if (s.network?.lease) r.push({ type: 'security-group', id: s.network.lease.leaseGroupId });
  else if (s.network) {
    r.push({ type: 'vpc', id: s.network.vpcId });
    for (const id of s.network.subnetIds) r.push({ type: 'subnet', id });
    r.push({ type: 'security-group', id: s.network.workloadSecurityGroupId });
    r.push({ type: 'security-group', id: s.network.endpointSecurityGroupId });
  }
  if (s.provisioned?.endpoint) r.push({ type: 'vpc-endpoint', id: s.provisioned.endpoint.vpcEndpointId });
  if (s.provisioned?.probe) {
    r.push({ type: 'lambda-function', id: s.provisioned.probe.functionName });
    r.push({ type: 'iam-role', id: s.provisioned.probe.roleName });
    if (s.provisioned.probe.bystanderRoleName)
      r.push({ type: 'iam-role', id: s.provisioned.probe.bystanderRoleName });
    for (const x of s.provisioned.probe.extraRoles ?? []) r.push({ type: 'iam-role', id: x.roleName });
  }
  return r;
}

function costOf(s: RunState, finishedAt: Date): Report['cost'] {
  const started = s.preflight ? Date.parse(s.preflight.startedAt) : finishedAt.getTime();
  const endpointHours =
    s.provisioned?.endpoint || s.network
      ? Math.max(1, Math.ceil((finishedAt.getTime() - started) / 3_600_000))
      : 0;
  const azs = s.preflight?.availabilityZones.length ?? 2;
  // About 20 transitions for the stages plus 3 per cleanup round; retries add a few more.
  const transitions = 20 + 3 * (s.cleanup?.attempt ?? 1);
  const usd = endpointHours * azs * PRICES.endpointAzHour + transitions * PRICES.stateTransition;
  return {
    estimatedUsd: Math.round(usd * 10_000) / 10_000,
    basis: `${endpointHours} endpoint hour(s) × ${azs} AZ × $${PRICES.endpointAzHour} + ~${transitions} state transitions × $${PRICES.stateTransition} (us-east-1 list prices; Lambda and data processed are negligible)`,
  };
}

export function buildReport(s: RunState, phase: 'verdict' | 'final', now: Date = new Date()): Report {
  const { verdict, summary, failure, obligations } = decideVerdict(s);
  const checks: Check[] = [];
  // The cells are the report's own matrix, once.
  if (s.allow) {
    const { matrix: _m, ...allow } = s.allow;
    checks.push(allow);
  }
  if (s.deny) {
    const { propagationSeconds: _p, stableAfterSeconds: _s, matrix: _m, ...deny } = s.deny;
    checks.push(deny);
  } else if (s.allow && s.allow.status !== 'passed') {
    checks.push({
      name: 'deny',
      status: 'skipped',
      expected: 'denied-by-endpoint-policy',
      reason: 'skipped: a deny observed without a working allow would prove nothing',
      attempts: 0,
      elapsedSeconds: 0,
      outcomesSeen: [],
      observations: [],
    });
  }
  const startedAt = s.preflight?.startedAt ?? now.toISOString();
  const verdictAt =
    phase === 'verdict' ? now.toISOString() : (s.verdict?.timings.verdictAt ?? now.toISOString());
  const matrix = matrixOf(s);
  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    runId: s.input.runId,
    region: s.input.region,
    modelId: s.input.modelId,
    ...(s.preflight ? { accountId: s.preflight.accountId } : {}),
    verdict,
    summary,
    obligations,
    ...(s.input.perimeter ? { specFile: s.input.perimeter.specFile } : {}),
    ...(matrix ? { matrix } : {}),
    checks,
    ...(s.deny?.propagationSeconds !== undefined ? { propagationSeconds: s.deny.propagationSeconds } : {}),
    ...(s.deny?.stableAfterSeconds !== undefined ? { stableAfterSeconds: s.deny.stableAfterSeconds } : {}),
    ...(s.network?.quotaWaitSeconds ? { quotaWaitSeconds: s.network.quotaWaitSeconds } : {}),
    ...(s.network?.lease ? { leasedNetwork: s.network.lease.network } : {}),
    ...(failure ? { failure } : {}),
    ...(s.provisioned?.endpoint ? { vpcEndpointId: s.provisioned.endpoint.vpcEndpointId } : {}),
    resources: resourcesOf(s),
    cleanup: phase === 'verdict' ? { status: 'not-started', leftovers: [] } : cleanupOf(s),
    timings: {
      startedAt,
      verdictAt,
      ...(phase === 'final'
        ? {
            finishedAt: now.toISOString(),
            totalSeconds: Math.round((now.getTime() - Date.parse(startedAt)) / 100) / 10,
          }
        : {}),
    },
    cost: costOf(s, now),
  };
  if (phase === 'final') {
    const left = hasLeftovers(report);
    report.outcome = verdict === 'pass' && left ? 'pass-with-leftovers' : verdict;
    if (left) report.summary += ` ${leftoverSentence(report.cleanup)}`;
  }
  return report;
}

/** Cleanup's final inventory; if cleanup never reported one, every resource the run recorded, unproven. */
function cleanupOf(s: RunState): Report['cleanup'] {
  if (s.cleanup) {
    return {
      status: s.cleanup.status,
      leftovers: s.cleanup.remaining,
      ...(s.cleanup.unlisted.length ? { unlisted: s.cleanup.unlisted } : {}),
    };
  }
  const why = s.cleanupFailure
    ? `cleanup failed (${s.cleanupFailure.Error}${readableCause(s.cleanupFailure.Cause) ? `: ${readableCause(s.cleanupFailure.Cause)}` : ''}): not proven deleted`
    : 'cleanup did not run: not proven deleted';
  const leftovers: Leftover[] = resourcesOf(s).map((r) => ({ ...r, reason: why }));
  return { status: 'incomplete', leftovers, unlisted: [why] };
}

function leftoverSentence(c: Report['cleanup']): string {
  const n = c.leftovers.length;
  const unlisted = c.unlisted?.length ? `; ${c.unlisted.length} list call(s) did not answer` : '';
  return `Cleanup ${c.status}: ${n} resource(s) left behind${unlisted} — see the leftovers list.`;
}

export async function handler(event: BuildReportEvent): Promise<Report | ReportOutput> {
  const parsed = RunStateSchema.safeParse(event.state);
  // The input itself may be what failed validation: report that, not a crash.
  const state: RunState = parsed.success
    ? parsed.data
    : ({ input: lenientInput(event.state), failure: (event.state as RunState)?.failure } as RunState);
  const report = buildReport(state, event.phase);
  if (event.phase === 'verdict') return report;
  return { report, reportJson: JSON.stringify(report) };
}

function lenientInput(state: unknown): RunState['input'] {
  const raw = ((state as { input?: Record<string, unknown> })?.input ?? {}) as Record<string, unknown>;
  return {
    runId: String(raw.runId ?? 'unknown'),
    region: String(raw.region ?? 'unknown'),
    modelId: String(raw.modelId ?? 'unknown'),
  } as RunState['input'];
}
