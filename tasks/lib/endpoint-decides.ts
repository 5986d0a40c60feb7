/**
 * Obligation 3's calls that show the endpoint policy decides, made while the allow policy is in
 * force and the endpoint carries traffic (VerifyAllow, after its allowed call):
 *
 * - the bystander: another role inside the VPC whose identity policy would allow the run's model
 *   through this endpoint. The verify task assumes it and hands its short-lived credentials to
 *   the probe for one call, so the call leaves from the probe's ENIs like the probe's own.
 * - the unlisted model: the probe role itself, calling a model its identity policy (and the
 *   boundary) allow but the endpoint policy does not name.
 *
 * Each must be refused by the endpoint policy. A success contradicts the claim (failed); a
 * refusal by anything else — the caller's identity policy, an SCP, model access — is no evidence
 * about the endpoint policy, and neither is a call AWS did not answer: could-not-verify.
 */
import type { Observation, Outcome, ProbeEvent, ProbeResult } from '../../statemachine/contract.ts';
import { assumeForOneCall } from './assume.ts';
import type { Logger } from './log.ts';
import { errorCode, explainOutcome, isUnobservedOutcome, refusedResource } from './outcomes.ts';
import { invokeProbe } from './probe-runs.ts';
import type { EndpointReading } from './readback.ts';

const obligation = 'policy-in-force-is-policy-written' as const;

/** Outcomes that answer the question: the endpoint policy refused the call, or nothing did. */
const ENDPOINT_REFUSALS: readonly Outcome[] = ['not-allowed-by-endpoint-policy', 'denied-by-endpoint-policy'];

/** What one call came to: the probe's result, or why the probe could not be invoked. */
export type CallResult = { result: ProbeResult } | { invokeError: string };

/** Worth another call: AWS did not answer, or IAM may still be propagating a fresh role's policy. */
function worthRetrying(c: CallResult): boolean {
  if ('invokeError' in c) return true;
  const r = c.result;
  return isUnobservedOutcome(r.outcome, r.httpStatus) || r.outcome === 'denied-by-identity-policy';
}

/** Call through the probe up to `attempts` times, one probe interval apart, until a call decides. */
export async function callThroughProbe(o: {
  region: string;
  functionName: string;
  event: ProbeEvent;
  attempts?: number;
  intervalMs: number;
}): Promise<CallResult[]> {
  const calls: CallResult[] = [];
  const attempts = o.attempts ?? 3;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, o.intervalMs));
    try {
      calls.push({ result: await invokeProbe(o.region, o.functionName, o.event) });
    } catch (err) {
      calls.push({ invokeError: `${errorCode(err)}: ${(err as Error).message}` });
    }
    if (!worthRetrying(calls[calls.length - 1]!)) break;
  }
  return calls;
}

export function callLine(label: string, c: CallResult): string {
  if ('invokeError' in c) return `${label}: probe not invoked (${c.invokeError})`;
  const r = c.result;
  return `${label}: ${r.modelId} → ${r.outcome}${r.httpStatus !== undefined ? ` (HTTP ${r.httpStatus})` : ''} via ${r.resolvedAddresses.join(', ') || 'no address'}${r.errorMessage ? ` — ${r.errorCode ?? ''} ${r.errorMessage}` : ''}`;
}

/** True when the call went only to this run's endpoint ENIs (a refusal elsewhere is another endpoint's). */
export function throughOwnEnis(r: ProbeResult, reading: EndpointReading): boolean {
  const own = new Set(reading.enis.map((n) => n.privateIp));
  return r.resolvedAddresses.length > 0 && r.resolvedAddresses.every((a) => own.has(a));
}

function refusalKind(outcome: Outcome): string {
  return outcome === 'denied-by-endpoint-policy'
    ? 'an explicit deny in the VPC endpoint policy'
    : 'no VPC endpoint policy allows it';
}

interface Judged {
  /** Who called, in words (`bystander plv-by-…`, `the probe role`). */
  who: string;
  /** What the call asked for, in words (`InvokeModel on <model>`). */
  what: string;
  /** The sentence of a success: the endpoint policy does not decide. */
  allowedSentence: string;
  /** The sentence of a refusal by the endpoint policy. */
  refusedSentence: (kind: string) => string;
  /** Why a refusal by the caller's identity policy is not evidence, for this caller. */
  identitySentence: string;
}

/**
 * The observation a run of calls supports. The last call decides; earlier ones are evidence (a
 * throttled call then a refusal is a refusal).
 */
export function judgeCalls(
  label: string,
  calls: CallResult[],
  reading: EndpointReading,
  j: Judged,
  extraEvidence: string[] = [],
): Observation {
  const evidence = [...extraEvidence, ...calls.map((c, i) => callLine(`${label} call ${i + 1}`, c))];
  const last = calls[calls.length - 1];
  if (!last || 'invokeError' in last)
    return {
      obligation,
      result: 'could-not-verify',
      observed: `${label}: the probe could not be invoked, so ${j.who}'s call was not made`,
      evidence,
    };
  const r = last.result;
  if (r.outcome === 'allowed')
    return { obligation, result: 'failed', observed: `${label}: ${j.allowedSentence}`, evidence };
  if (ENDPOINT_REFUSALS.includes(r.outcome)) {
    const resource = refusedResource(r.errorMessage);
    if (resource) evidence.push(`${label}: refused on resource ${resource}`);
    // Another endpoint's policy refusing would say nothing about this one's.
    if (!throughOwnEnis(r, reading))
      return {
        obligation,
        result: 'could-not-verify',
        observed: `${label}: ${j.who} was refused by an endpoint policy, but the call went to ${r.resolvedAddresses.join(', ') || 'no address'}, not only to ${reading.vpcEndpointId}'s network interfaces`,
        evidence,
      };
    return {
      obligation,
      result: 'passed',
      observed: `${label}: ${j.refusedSentence(refusalKind(r.outcome))}`,
      evidence,
    };
  }
  if (r.outcome === 'denied-by-identity-policy')
    return { obligation, result: 'could-not-verify', observed: `${label}: ${j.identitySentence}`, evidence };
  if (isUnobservedOutcome(r.outcome, r.httpStatus))
    return {
      obligation,
      result: 'could-not-verify',
      observed: `${label}: ${j.who}'s ${j.what} was not answered (${explainOutcome(r.outcome)})`,
      evidence,
    };
  // Model access, an SCP, a timeout: refused or lost before or beside the endpoint policy, or in
  // an order AWS does not document — not a refusal by the endpoint policy, and not a success.
  return {
    obligation,
    result: 'could-not-verify',
    observed: `${label}: ${j.who}'s ${j.what} ended ${r.outcome}, not refused by the endpoint policy: ${explainOutcome(r.outcome)}`,
    evidence,
  };
}

export interface EndpointDecidesOptions {
  region: string;
  runId: string;
  modelId: string;
  functionName: string;
  reading: EndpointReading;
  intervalMs: number;
  log: Logger;
}

/** The bystander, inside the VPC, with its own short-lived credentials: refused by the endpoint policy? */
export async function callAsBystander(
  o: EndpointDecidesOptions & { bystanderRoleArn?: string },
): Promise<Observation> {
  const label = 'bystander';
  if (!o.bystanderRoleArn)
    return {
      obligation,
      result: 'could-not-verify',
      observed: `${label}: no bystander role was made (the deployment names no verify role that may assume one), so no other principal was tried`,
      evidence: [],
    };
  const roleName = o.bystanderRoleArn.split('/').pop()!;
  let credentials: ProbeEvent['credentials'];
  try {
    // The credentials serve one call and travel in one invoke payload.
    credentials = await assumeForOneCall(o.region, o.bystanderRoleArn, `plv-bystander-${o.runId}`);
  } catch (err) {
    return {
      obligation,
      result: 'could-not-verify',
      observed: `${label}: ${roleName} could not be assumed, so its call was not made (${errorCode(err)})`,
      evidence: [`AssumeRole ${o.bystanderRoleArn}: ${errorCode(err)}: ${(err as Error).message}`],
    };
  }
  const calls = await callThroughProbe({
    region: o.region,
    functionName: o.functionName,
    event: { region: o.region, modelId: o.modelId, credentials },
    intervalMs: o.intervalMs,
  });
  o.log.info('bystander observed', {
    outcomes: calls.map((c) => ('result' in c ? c.result.outcome : 'invoke-error')),
  });
  return judgeCalls(
    label,
    calls,
    o.reading,
    {
      who: `bystander ${roleName}`,
      what: `InvokeModel on ${o.modelId}`,
      allowedSentence: `the endpoint policy does not decide: bystander ${roleName} was allowed InvokeModel on ${o.modelId} from inside the VPC, though the policy the run wrote names only the probe role`,
      refusedSentence: (kind) =>
        `${roleName}, another role whose identity policy allows ${o.modelId} through ${o.reading.vpcEndpointId}, was refused inside the VPC by the endpoint policy (${kind})`,
      identitySentence: `bystander ${roleName} was refused by its own identity policy, not by the endpoint policy, so the refusal says nothing about what the endpoint policy decides (was the bystander role changed, or its policy not yet in effect?)`,
    },
    [
      `bystander: ${o.bystanderRoleArn} (session credentials from AssumeRole, 900 s), from the probe ${o.functionName} inside the VPC`,
    ],
  );
}

/** The probe role, inside the VPC, calling a model the endpoint policy does not name: refused by it? */
export async function callUnlistedModel(
  o: EndpointDecidesOptions & { unlistedModelId?: string },
): Promise<Observation> {
  const label = 'unlisted model';
  if (!o.unlistedModelId)
    return {
      obligation,
      result: 'could-not-verify',
      observed: `${label}: no model the endpoint policy does not name could be tried: the stack allows no model but ${o.modelId} (add a second model to the stack's allowedModels, so the probe role may call one the endpoint policy must refuse)`,
      evidence: [],
    };
  const model = o.unlistedModelId;
  const calls = await callThroughProbe({
    region: o.region,
    functionName: o.functionName,
    event: { region: o.region, modelId: model },
    intervalMs: o.intervalMs,
  });
  o.log.info('unlisted model observed', {
    outcomes: calls.map((c) => ('result' in c ? c.result.outcome : 'invoke-error')),
  });
  return judgeCalls(label, calls, o.reading, {
    who: 'the probe role',
    what: `InvokeModel on ${model}`,
    allowedSentence: `the endpoint policy does not decide which model: ${model}, which the policy the run wrote does not name, was allowed for the probe role from inside the VPC`,
    refusedSentence: (kind) =>
      `${model}, which the endpoint policy does not name and the probe role's identity policy allows, was refused inside the VPC by the endpoint policy (${kind})`,
    identitySentence: `${model} was refused by the probe role's identity policy, not by the endpoint policy (the run's identity policy allows it), so the refusal says nothing about what the endpoint policy decides`,
  });
}
