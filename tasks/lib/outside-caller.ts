/**
 * The outside caller of obligation 2: the verify task (a function with no VpcConfig) assumes the
 * probe role and calls InvokeModel (or the operation a matrix row names) with the same principal
 * from outside the VPC. It must be refused by the identity policy (no aws:SourceVpce outside an
 * endpoint): that refusal is what shows the in-VPC success came through the endpoint's condition
 * and not from the role alone. The call itself is the probe's (tasks/probe/calls.ts).
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { BEDROCK_CALLS, type BedrockCall } from '../../statemachine/aws-names.ts';
import type { Observation, Outcome } from '../../statemachine/contract.ts';
import { callBedrock } from '../probe/calls.ts';
import { assumeForOneCall, type SessionCredentials } from './assume.ts';
import { classifyInvokeError, errorCode, httpStatus, isUnobservedOutcome } from './outcomes.ts';

export async function callFromOutside(o: {
  region: string;
  roleArn: string;
  modelId: string;
  runId: string;
  /** The operation to call; InvokeModel by default. */
  action?: BedrockCall;
}): Promise<Observation> {
  const obligation = 'no-other-way-out' as const;
  const action = o.action ?? 'InvokeModel';
  let credentials: SessionCredentials;
  try {
    credentials = await assumeForOneCall(o.region, o.roleArn, `plv-outside-${o.runId}`);
  } catch (err) {
    return {
      obligation,
      result: 'could-not-verify',
      observed: `the probe role could not be assumed from outside the VPC, so the outside call was not made (${errorCode(err)})`,
      evidence: [`AssumeRole ${o.roleArn}: ${errorCode(err)}: ${(err as Error).message}`],
    };
  }
  const bedrock = new BedrockRuntimeClient({ region: o.region, credentials, maxAttempts: 3 });
  try {
    await callBedrock(bedrock, action, o.modelId);
    return {
      obligation,
      result: 'failed',
      observed: `the probe role's credentials reached Bedrock from outside the VPC: ${action} succeeded without the endpoint, so the endpoint is not the only way in`,
      evidence: [`outside the VPC as ${o.roleArn}: ${action} ${o.modelId} → 200`],
    };
  } catch (err) {
    const outcome = classifyInvokeError(err);
    const evidence = [
      `outside the VPC as ${o.roleArn}: ${action} ${o.modelId} → ${outcome} (HTTP ${httpStatus(err) ?? '?'}) ${errorCode(err)}: ${(err as Error).message}`,
    ];
    if (outcome === 'denied-by-identity-policy')
      return {
        obligation,
        result: 'passed',
        observed:
          'the same role, with the same credentials, was refused from outside the VPC by its identity policy',
        evidence,
      };
    if (isUnobservedOutcome(outcome, httpStatus(err)) || outcome === 'network-unreachable')
      return {
        obligation,
        result: 'could-not-verify',
        observed: `the outside call was not answered (${outcome})`,
        evidence,
      };
    // Refused, but by something else (an SCP, say): the role alone might still reach Bedrock elsewhere.
    return {
      obligation,
      result: 'could-not-verify',
      observed: `the outside call was refused, but not by the probe role's identity policy (${outcome}), so it does not show aws:SourceVpce decides`,
      evidence,
    };
  } finally {
    bedrock.destroy();
  }
}

/**
 * One call from outside the VPC as `roleArn`, for a matrix cell: its classified outcome and one
 * evidence line, or why it was not made (the role could not be assumed). Never throws for an
 * answer of the service.
 */
export async function callOnceFromOutside(o: {
  region: string;
  roleArn: string;
  modelId: string;
  /** A Bedrock runtime operation (BEDROCK_CALLS); a name outside it is refused before any call. */
  action: string;
  sessionName: string;
}): Promise<{ outcome: Outcome; httpStatus?: number; evidence: string } | { assumeError: string }> {
  if (!(o.action in BEDROCK_CALLS)) {
    throw new Error(`${o.action} is not a Bedrock runtime operation the outside caller makes`);
  }
  const action = o.action as BedrockCall;
  let credentials: SessionCredentials;
  try {
    credentials = await assumeForOneCall(o.region, o.roleArn, o.sessionName);
  } catch (err) {
    return { assumeError: `AssumeRole ${o.roleArn}: ${errorCode(err)}: ${(err as Error).message}` };
  }
  const bedrock = new BedrockRuntimeClient({ region: o.region, credentials, maxAttempts: 3 });
  try {
    const answer = await callBedrock(bedrock, action, o.modelId);
    return {
      outcome: 'allowed',
      httpStatus: answer.httpStatus,
      evidence: `outside the VPC as ${o.roleArn}: ${action} ${o.modelId} → allowed${answer.events !== undefined ? ` (${answer.events} events, stream read to its end)` : ''}`,
    };
  } catch (err) {
    const outcome = classifyInvokeError(err);
    const status = httpStatus(err);
    return {
      outcome,
      ...(status !== undefined ? { httpStatus: status } : {}),
      evidence: `outside the VPC as ${o.roleArn}: ${action} ${o.modelId} → ${outcome} (HTTP ${status ?? '?'}) ${errorCode(err)}: ${(err as Error).message}`,
    };
  } finally {
    bedrock.destroy();
  }
}
