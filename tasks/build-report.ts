/**
 * The report: once when the verdict is known (before teardown, so watchers can say it early) and
 * once at the end with cleanup's result. The verdict is decided here only.
 */
import {
  type Check,
  hasLeftovers,
  type Leftover,
  type Report,
  type ReportOutput,
  type ResourceRef,
  type RunState,
  RunStateSchema,
  SCHEMA_VERSION,
  type StageName,
  type Verdict,
} from '../statemachine/contract.ts';

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

export function decideVerdict(s: RunState): {
  verdict: Verdict;
  summary: string;
  failure?: Report['failure'];
} {
  const endpointId = s.provisioned?.endpoint?.vpcEndpointId ?? 'the endpoint';
  if (s.allow?.status === 'failed') {
    return { verdict: 'fail', summary: `Allow check failed: ${s.allow.reason}.` };
  }
  if (s.allow?.status === 'passed' && s.deny) {
    if (s.deny.status === 'passed') {
      const took =
        s.deny.propagationSeconds !== undefined
          ? ` The Deny took effect ${s.deny.propagationSeconds} s after the policy change.`
          : '';
      return {
        verdict: 'pass',
        summary: `Bedrock was reached only through ${endpointId}, and its policy decided: the allowed call succeeded and, after the flip to Deny, the endpoint policy refused it.${took}`,
      };
    }
    return { verdict: 'fail', summary: `Deny check failed: ${s.deny.reason}.` };
  }
  const stage = firstMissingStage(s);
  const cause = readableCause(s.failure?.Cause);
  return {
    verdict: 'error',
    summary: `Could not verify: the ${stage} stage failed${s.failure ? ` with ${s.failure.Error}` : ''}${cause ? `: ${cause}` : ''}.`,
    failure: { stage, error: s.failure?.Error ?? 'Unknown', ...(cause ? { cause } : {}) },
  };
}

function resourcesOf(s: RunState): ResourceRef[] {
  const r: ResourceRef[] = [];
  if (s.network) {
    r.push({ type: 'vpc', id: s.network.vpcId });
    for (const id of s.network.subnetIds) r.push({ type: 'subnet', id });
    r.push({ type: 'security-group', id: s.network.workloadSecurityGroupId });
    r.push({ type: 'security-group', id: s.network.endpointSecurityGroupId });
  }
  if (s.provisioned?.endpoint) r.push({ type: 'vpc-endpoint', id: s.provisioned.endpoint.vpcEndpointId });
  if (s.provisioned?.probe) {
    r.push({ type: 'lambda-function', id: s.provisioned.probe.functionName });
    r.push({ type: 'iam-role', id: s.provisioned.probe.roleName });
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
  const { verdict, summary, failure } = decideVerdict(s);
  const checks: Check[] = [];
  if (s.allow) checks.push(s.allow);
  if (s.deny) {
    const { propagationSeconds: _p, ...deny } = s.deny;
    checks.push(deny);
  } else if (s.allow?.status === 'failed') {
    checks.push({
      name: 'deny',
      status: 'skipped',
      expected: 'denied-by-endpoint-policy',
      reason: 'skipped: a deny observed without a working allow would prove nothing',
      attempts: 0,
      elapsedSeconds: 0,
      outcomesSeen: [],
    });
  }
  const startedAt = s.preflight?.startedAt ?? now.toISOString();
  const verdictAt =
    phase === 'verdict' ? now.toISOString() : (s.verdict?.timings.verdictAt ?? now.toISOString());
  const report: Report = {
    schemaVersion: SCHEMA_VERSION,
    runId: s.input.runId,
    region: s.input.region,
    modelId: s.input.modelId,
    ...(s.preflight ? { accountId: s.preflight.accountId } : {}),
    verdict,
    summary,
    checks,
    ...(s.deny?.propagationSeconds !== undefined ? { propagationSeconds: s.deny.propagationSeconds } : {}),
    ...(s.network?.quotaWaitSeconds ? { quotaWaitSeconds: s.network.quotaWaitSeconds } : {}),
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
