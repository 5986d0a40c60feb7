/**
 * Verify allow: before the first call, read back what the run built (the endpoint's policy and
 * ENIs, the VPC's route tables, the probe role); then invoke the probe until InvokeModel succeeds
 * or the deadline passes. The success counts only if it went to this run's endpoint ENIs, and
 * then only once it also succeeded through the ENI of every zone, each called by its zonal name.
 */
import type { Check, MatrixCell, Observation } from '../statemachine/contract.ts';
import { callAsBystander, callUnlistedModel } from './lib/endpoint-decides.ts';
import { createLogger } from './lib/log.ts';
import { endpointDecidesFromCells, notRunCells } from './lib/matrix-cells.ts';
import { cellDeadlineMs, runMatrixPhase } from './lib/matrix-run.ts';
import {
  noEgressRoutes,
  policyReadback,
  roleAsWritten,
  roleFindings,
  throughTheseEnis,
} from './lib/observations.ts';
import { callFromOutside } from './lib/outside-caller.ts';
import { policiesOfRun } from './lib/perimeter.ts';
import { allowProbeEndpointPolicy, identityPolicy, modelResourceArns } from './lib/policies.ts';
import {
  checkFrom,
  endedUnobserved,
  explainOutcome,
  pollProbe,
  timelineLines,
  unobservedLast,
} from './lib/probe-runs.ts';
import { readEgressRoutes, readEndpoint, readOr, readRole } from './lib/readback.ts';
import { parseRunState, required } from './lib/run-state.ts';
import { budgetMs } from './lib/waiter.ts';
import { proveAllowedInEveryZone } from './lib/zones.ts';
import { TASK_ENV } from './manifest.ts';

export async function handler(
  event: unknown,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<Check> {
  const state = parseRunState(event);
  const { input } = state;
  const preflight = required(state.preflight, 'preflight');
  const network = required(state.network, 'network');
  const endpoint = required(state.provisioned?.endpoint, 'endpoint');
  const probe = required(state.provisioned?.probe, 'probe');
  const log = createLogger('VerifyAllow', { runId: input.runId });
  const observations: Observation[] = [];
  const arns = preflight.modelResourceArns;

  // Read-backs before the allow phase (obligations 2, 3, 5).
  const reading = await readOr(
    'policy-in-force-is-policy-written',
    `the endpoint ${endpoint.vpcEndpointId}`,
    () => readEndpoint(input.region, endpoint.vpcEndpointId),
  );
  // CreateEndpoint records the allow policy it created the endpoint with; the builder is the
  // fallback for a state written before it did.
  const writtenAllow = endpoint.endpointPolicy ?? allowProbeEndpointPolicy(probe.roleArn, arns);
  if ('value' in reading)
    observations.push(policyReadback('before the allow phase', reading.value, writtenAllow));
  else
    observations.push(reading.unobserved, {
      ...reading.unobserved,
      obligation: 'reached-through-this-endpoint',
    });

  const routes = await readOr('no-other-way-out', `the route tables of ${network.vpcId}`, () =>
    readEgressRoutes(input.region, network.vpcId),
  );
  observations.push(
    'value' in routes
      ? noEgressRoutes(network.vpcId, routes.value.routeTableIds, routes.value.egress)
      : routes.unobserved,
  );

  const role = await readOr('probe-role-as-written', `the probe role ${probe.roleName}`, () =>
    readRole(input.region, probe.roleName),
  );
  const boundaryArn = process.env[TASK_ENV.probePermissionsBoundaryArn] || undefined;
  const unlistedArns =
    probe.unlistedModelId && !input.perimeter
      ? modelResourceArns(input.region, preflight.accountId, probe.unlistedModelId)
      : [];
  const perimeter = input.perimeter;
  const roleWritten = {
    identityPolicy: perimeter
      ? policiesOfRun({ ...state, preflight }, perimeter, endpoint.vpcEndpointId).identity()
      : identityPolicy(endpoint.vpcEndpointId, arns, unlistedArns),
    ...(boundaryArn ? { boundaryArn } : {}),
  };
  // Read before the allow phase; weighed once the outside call has shown what extras can do.
  const findings = 'value' in role ? roleFindings(probe.roleName, role.value, roleWritten) : undefined;
  if (!('value' in role)) observations.push(role.unobserved);

  const allowBudgetMs = budgetMs(input.deadlines.verifyAllowSeconds, context);
  const p = await pollProbe({
    input,
    functionName: probe.functionName,
    what: 'probe allowed',
    done: (r) => r.outcome === 'allowed',
    timeoutMs: allowBudgetMs,
    log,
  });
  const startedMs = p.timeline[0]?.atMs ?? Date.now();
  const timeline = timelineLines(p.timeline, startedMs, 'allow');
  let status: Check['status'];
  let reason: string;
  if (p.firstMatch) {
    if ('value' in reading) {
      const through = throughTheseEnis('allowed call', p.firstMatch, reading.value);
      observations.push({ ...through, evidence: [...through.evidence, ...timeline] });
      status = through.result;
      reason =
        through.result === 'passed'
          ? `InvokeModel succeeded from inside the VPC through ${endpoint.vpcEndpointId}'s own network interfaces (${p.firstMatch.resolvedAddresses.join(', ')})`
          : `InvokeModel succeeded, but not through this run's endpoint: ${through.observed}`;
      if (through.result === 'passed') {
        // The regional name proved the zone the resolver picked; now every zone, by its zonal name.
        const zones = await proveAllowedInEveryZone({
          input,
          functionName: probe.functionName,
          reading: reading.value,
          zones: preflight.availabilityZones,
          timeoutMs: Math.max(0, allowBudgetMs - (Date.now() - startedMs)),
          startedMs,
          log,
        });
        observations.push(zones.observation);
        if (zones.observation.result !== 'passed') {
          status = zones.observation.result;
          reason = `InvokeModel succeeded through ${endpoint.vpcEndpointId}, but ${zones.observation.observed}`;
        }
      }
    } else {
      status = 'could-not-verify';
      reason = `InvokeModel succeeded, but the endpoint's network interfaces could not be read to show it went through them`;
    }
  } else if (endedUnobserved(p)) {
    status = 'could-not-verify';
    const last = p.timeline[p.timeline.length - 1];
    reason = `the allow phase could not be observed within ${input.deadlines.verifyAllowSeconds} s: ${unobservedLast(last)}`;
    observations.push({
      obligation: 'reached-through-this-endpoint',
      result: 'could-not-verify',
      observed: reason,
      evidence: timeline,
    });
  } else {
    status = 'failed';
    const last = p.last!;
    reason = `InvokeModel did not succeed within ${input.deadlines.verifyAllowSeconds} s: ${explainOutcome(last.outcome)}`;
    observations.push({
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      observed: `the allowed call never succeeded: ${explainOutcome(last.outcome)}`,
      evidence: timeline,
    });
  }
  // Obligation 2's outside caller: only worth making once the inside call is known to work.
  let outside: Observation | undefined;
  if (status === 'passed') {
    outside = await callFromOutside({
      region: input.region,
      roleArn: probe.roleArn,
      modelId: input.modelId,
      runId: input.runId,
    });
    observations.push(outside);
  } else {
    observations.push({
      obligation: 'no-other-way-out',
      result: 'could-not-verify',
      observed:
        'the outside call was not made: the allow phase did not pass, so a refusal outside would prove nothing',
      evidence: [],
    });
  }
  if (findings) observations.push(...roleAsWritten(findings, roleWritten, outside));
  // Obligation 3: the endpoint policy decides. Only while the allow policy is seen to carry traffic:
  // before that, a refusal would prove nothing.
  let matrix: MatrixCell[] | undefined;
  if (perimeter) {
    // The perimeter's rows of this phase; its endpoint-refusal rows are what show the policy decides.
    matrix =
      status === 'passed' && 'value' in reading
        ? await runMatrixPhase({
            input,
            phase: 'allow-policy',
            probe,
            reading: reading.value,
            intervalMs: input.options.probeIntervalSeconds * 1000,
            deadlineMs: cellDeadlineMs(context),
            log,
          })
        : notRunCells(
            perimeter,
            'allow-policy',
            probe.unlistedModelId,
            'not run: the allowed call did not pass through this endpoint, so no other call would prove anything',
          );
  }
  if (matrix && status === 'passed' && 'value' in reading) {
    observations.push(endpointDecidesFromCells(matrix));
  } else if (status === 'passed' && 'value' in reading) {
    const decides = {
      region: input.region,
      runId: input.runId,
      modelId: input.modelId,
      functionName: probe.functionName,
      reading: reading.value,
      intervalMs: input.options.probeIntervalSeconds * 1000,
      log,
    };
    observations.push(
      await callAsBystander({ ...decides, bystanderRoleArn: probe.bystanderRoleArn }),
      await callUnlistedModel({ ...decides, unlistedModelId: probe.unlistedModelId }),
    );
  } else {
    // The row must not pass on its read-backs alone: its claim names these two refusals.
    observations.push({
      obligation: 'policy-in-force-is-policy-written',
      result: 'could-not-verify',
      observed:
        'the bystander and unlisted-model calls were not made: the allowed call did not pass through this endpoint, so a refusal would prove nothing',
      evidence: [],
    });
  }
  const check = {
    ...checkFrom('allow', 'allowed', p, status, reason, observations, p.firstMatch ?? p.last),
    ...(matrix ? { matrix } : {}),
  };
  log.info('allow check finished', { status: check.status, reason: check.reason });
  return check;
}
