/**
 * The probe runs inside the run's VPC. It resolves the bedrock-runtime host name (private
 * addresses mean the endpoint's private DNS is in effect), makes one call of the event's `action`
 * (InvokeModel unless a matrix row names another operation; calls.ts, streams read to their end),
 * and returns a classified outcome. It never throws for an expected refusal: refusals are the evidence.
 *
 * Told an endpoint-specific name (`endpointHost`, a zonal name from the endpoint's DnsEntries),
 * it resolves and calls that name instead, so the call goes through that zone's ENI: the way AWS
 * documents reaching one zone of an interface endpoint (the client's endpoint URL set to the
 * zonal name; PrivateLink whitepaper, "zonal-specific DNS hostname"). TLS stays verified: the SDK
 * checks the certificate against the name it connects to, which the endpoint serves for its
 * endpoint-specific names (AWS documents calling them over HTTPS; no page states the certificate's
 * names outright), and SigV4 signs for the `bedrock` service in the region whatever host carries it.
 */
import { lookup } from 'node:dns/promises';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ProbeEventSchema, type ProbeResult } from '../../statemachine/contract.ts';
import { classifyInvokeError, errorCode, httpStatus } from '../lib/outcomes.ts';
import { callBedrock } from './calls.ts';

const clients = new Map<string, BedrockRuntimeClient>();

function client(region: string, timeoutSeconds: number, endpointHost?: string): BedrockRuntimeClient {
  const key = `${region}:${timeoutSeconds}:${endpointHost ?? ''}`;
  let c = clients.get(key);
  if (!c) {
    // One attempt with a short timeout: a black-holed path must show up as a timeout, not eat the
    // Lambda's time. HTTP/1.1 (the client defaults to HTTP/2 for streaming) keeps connect and idle
    // timeouts simple and explicit; the response streams of InvokeModelWithResponseStream and
    // ConverseStream are plain HTTP/1.1 bodies, their event stream framing read by the SDK.
    c = new BedrockRuntimeClient({
      region,
      ...(endpointHost ? { endpoint: `https://${endpointHost}` } : {}),
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeoutSeconds * 1000,
        requestTimeout: timeoutSeconds * 1000,
        // Without this the handler only warns on an idle socket, and the call hangs in the black hole.
        throwOnRequestTimeout: true,
      }),
    });
    clients.set(key, c);
  }
  return c;
}

function bystanderClient(
  region: string,
  timeoutSeconds: number,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string },
): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: timeoutSeconds * 1000,
      requestTimeout: timeoutSeconds * 1000,
      throwOnRequestTimeout: true,
    }),
  });
}

const PRIVATE_RANGES = [/^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./];
export const isPrivateAddress = (ip: string) => PRIVATE_RANGES.some((r) => r.test(ip));

export { requestBody } from './calls.ts';

export async function handler(event: unknown): Promise<ProbeResult> {
  const e = ProbeEventSchema.parse(event);
  const hostname = e.endpointHost ?? `bedrock-runtime.${e.region}.amazonaws.com`;
  const started = Date.now();
  const base = { hostname, modelId: e.modelId, action: e.action, at: new Date(started).toISOString() };

  let resolvedAddresses: string[] = [];
  try {
    resolvedAddresses = (await lookup(hostname, { all: true })).map((a) => a.address);
  } catch (err) {
    return {
      ...base,
      outcome: 'dns-failure',
      resolvedAddresses,
      resolvedPrivate: false,
      errorCode: errorCode(err),
      errorMessage: (err as Error).message,
      latencyMs: Date.now() - started,
    };
  }
  const resolvedPrivate = resolvedAddresses.length > 0 && resolvedAddresses.every(isPrivateAddress);

  // Another principal's short-lived credentials sign only this call, from this sandbox's network
  // position; a client of its own keeps them out of the cached clients.
  const signer = e.credentials ? bystanderClient(e.region, e.timeoutSeconds, e.credentials) : undefined;
  try {
    await callBedrock(signer ?? client(e.region, e.timeoutSeconds, e.endpointHost), e.action, e.modelId);
    return {
      ...base,
      outcome: 'allowed',
      resolvedAddresses,
      resolvedPrivate,
      httpStatus: 200,
      latencyMs: Date.now() - started,
    };
  } catch (err) {
    const status = httpStatus(err);
    return {
      ...base,
      outcome: classifyInvokeError(err),
      resolvedAddresses,
      resolvedPrivate,
      ...(status !== undefined ? { httpStatus: status } : {}),
      errorCode: errorCode(err),
      errorMessage: String((err as Error).message ?? '').slice(0, 1000),
      latencyMs: Date.now() - started,
    };
  } finally {
    signer?.destroy();
  }
}
