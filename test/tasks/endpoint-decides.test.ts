/**
 * Obligation 3's bystander and unlisted-model calls, judged without AWS: each outcome on the world
 * where the claim "the endpoint policy decides" is false, unobservable or not what the call tests.
 */
import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../statemachine/contract.ts';
import {
  type CallResult,
  callAsBystander,
  callUnlistedModel,
  judgeCalls,
} from '../../tasks/lib/endpoint-decides.ts';
import { createLogger } from '../../tasks/lib/log.ts';
import type { EndpointReading } from '../../tasks/lib/readback.ts';

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';
const reading: EndpointReading = {
  vpcEndpointId: 'vpce-1',
  state: 'available',
  enis: [
    {
      networkInterfaceId: 'eni-a',
      availabilityZone: 'us-east-1a',
      subnetId: 'subnet-a',
      privateIp: '10.42.0.10',
    },
    {
      networkInterfaceId: 'eni-b',
      availabilityZone: 'us-east-1b',
      subnetId: 'subnet-b',
      privateIp: '10.42.1.10',
    },
  ],
  dnsNames: [],
};

const call = (outcome: ProbeResult['outcome'], extra: Partial<ProbeResult> = {}): CallResult => ({
  result: {
    outcome,
    hostname: 'bedrock-runtime.us-east-1.amazonaws.com',
    resolvedAddresses: ['10.42.0.10', '10.42.1.10'],
    resolvedPrivate: true,
    modelId: MODEL,
    latencyMs: 10,
    at: '2026-12-02T00:00:00.000Z',
    ...extra,
  },
});

const judged = {
  who: 'bystander plv-by-x',
  what: `InvokeModel on ${MODEL}`,
  allowedSentence: 'the endpoint policy does not decide: bystander plv-by-x was allowed',
  refusedSentence: (kind: string) => `refused by the endpoint policy (${kind})`,
  identitySentence: 'refused by its own identity policy',
};

const judge = (...calls: CallResult[]) => judgeCalls('bystander', calls, reading, judged);

describe('judging a call the endpoint policy must refuse', () => {
  it('a success contradicts the claim: failed, with the sentence that says so', () => {
    const o = judge(call('allowed', { httpStatus: 200 }));
    expect(o.obligation).toBe('policy-in-force-is-policy-written');
    expect(o.result).toBe('failed');
    expect(o.observed).toMatch(/does not decide: bystander plv-by-x was allowed/);
  });

  it('a refusal by the endpoint policy, through this endpoint, passes and says which kind', () => {
    const implicit = judge(
      call('not-allowed-by-endpoint-policy', {
        httpStatus: 403,
        errorMessage: `User: x is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/${MODEL} because no VPC endpoint policy allows the bedrock:InvokeModel action`,
      }),
    );
    expect(implicit.result).toBe('passed');
    expect(implicit.observed).toMatch(/no VPC endpoint policy allows it/);
    expect(implicit.evidence.join(' ')).toMatch(/refused on resource arn:aws:bedrock/);
    expect(judge(call('denied-by-endpoint-policy', { httpStatus: 403 })).observed).toMatch(/explicit deny/);
  });

  it("an endpoint refusal that did not go only to this endpoint's ENIs is not evidence", () => {
    const o = judge(call('not-allowed-by-endpoint-policy', { resolvedAddresses: ['10.99.0.5'] }));
    expect(o.result).toBe('could-not-verify');
    expect(o.observed).toMatch(/not only to vpce-1's network interfaces/);
  });

  it("a refusal by the caller's own identity policy says nothing about the endpoint policy", () => {
    const o = judge(call('denied-by-identity-policy', { httpStatus: 403 }));
    expect(o.result).toBe('could-not-verify');
    expect(o.observed).toMatch(/own identity policy/);
  });

  it('throttling, 5xx, model access, timeouts and invoke errors are could-not-verify, never pass or fail', () => {
    for (const c of [
      call('throttled', { httpStatus: 429 }),
      call('unknown-error', { httpStatus: 503 }),
      call('model-access-missing', { httpStatus: 403 }),
      call('network-unreachable'),
      call('denied-other', { httpStatus: 403 }),
      { invokeError: 'TooManyRequestsException: Rate exceeded' },
    ] as CallResult[]) {
      expect(judge(c).result, JSON.stringify(c)).toBe('could-not-verify');
    }
    expect(judge().result).toBe('could-not-verify');
  });

  it('the last call decides: throttled, then refused, is a refusal (both in the evidence)', () => {
    const o = judge(call('throttled', { httpStatus: 429 }), call('not-allowed-by-endpoint-policy'));
    expect(o.result).toBe('passed');
    expect(o.evidence.filter((e) => /call \d/.test(e))).toHaveLength(2);
  });
});

describe('when a call cannot be made at all', () => {
  const base = {
    region: 'us-east-1',
    runId: 'r',
    modelId: MODEL,
    functionName: 'plv-probe-r',
    reading,
    intervalMs: 1,
    log: createLogger('test'),
  };

  it('no second model in the stack: the unlisted-model call is could-not-verify, saying what to add', async () => {
    const o = await callUnlistedModel(base);
    expect(o.result).toBe('could-not-verify');
    expect(o.observed).toMatch(/no model the endpoint policy does not name could be tried.*allowedModels/);
  });

  it('no bystander role: could-not-verify, not a pass', async () => {
    const o = await callAsBystander(base);
    expect(o.result).toBe('could-not-verify');
    expect(o.observed).toMatch(/no bystander role was made/);
  });
});
