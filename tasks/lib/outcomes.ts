/**
 * The one place that maps AWS errors to outcomes. The probe, the verify tasks, cleanup and the
 * report all use it, so "what counts as a deny" is decided once.
 */
import type { Outcome } from '../../statemachine/contract.ts';
import { ERROR_NAMES, TaskError } from './errors.ts';

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
  cause?: unknown;
}

export function errorCode(err: unknown): string {
  const e = err as AwsLikeError;
  return String(e?.name ?? e?.Code ?? e?.code ?? 'Error');
}

export function httpStatus(err: unknown): number | undefined {
  return (err as AwsLikeError)?.$metadata?.httpStatusCode;
}

function errorText(err: unknown): string {
  const e = err as AwsLikeError & { errno?: string };
  return `${e?.message ?? ''} ${e?.code ?? ''} ${e?.errno ?? ''}`;
}

const NETWORK_PATTERNS =
  /ETIMEDOUT|ECONNRESET|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EPIPE|socket hang up|timed out|TimeoutError|RequestTimeout/i;
const DNS_PATTERNS = /ENOTFOUND|EAI_AGAIN|getaddrinfo/i;
const THROTTLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'SlowDown',
]);

/** Outcome of one InvokeModel call made by the probe. */
export function classifyInvokeError(err: unknown): Outcome {
  const code = errorCode(err);
  const status = httpStatus(err);
  const message = String((err as AwsLikeError)?.message ?? '');
  if (code === 'AccessDeniedException' || status === 403) {
    // IAM's two templates (AWS-FACTS, "Errors"): only the explicit one is a Deny the run wrote.
    if (/explicit deny in a VPC endpoint policy/i.test(message)) return 'denied-by-endpoint-policy';
    if (/VPC endpoint policy/i.test(message)) return 'not-allowed-by-endpoint-policy';
    if (/identity-based policy/i.test(message)) return 'denied-by-identity-policy';
    if (/access to the model/i.test(message)) return 'model-access-missing';
    return 'denied-other';
  }
  if (THROTTLE_CODES.has(code) || status === 429) return 'throttled';
  if (code === 'ResourceNotFoundException' || status === 404) return 'not-found';
  if (code === 'ValidationException') return 'invalid-request';
  const text = `${code} ${errorText(err)} ${errorText((err as AwsLikeError)?.cause)}`;
  if (DNS_PATTERNS.test(text)) return 'dns-failure';
  if (code === 'TimeoutError' || NETWORK_PATTERNS.test(text)) return 'network-unreachable';
  return 'unknown-error';
}

/** One sentence a person can act on, for an outcome seen where another was expected. */
export function explainOutcome(outcome: Outcome): string {
  switch (outcome) {
    case 'allowed':
      return 'InvokeModel succeeded';
    case 'denied-by-endpoint-policy':
      return 'an explicit Deny in the VPC endpoint policy refused the call';
    case 'not-allowed-by-endpoint-policy':
      return 'the VPC endpoint policy has no Allow for the call (an implicit refusal, not an explicit Deny)';
    case 'denied-by-identity-policy':
      return "the probe role's identity policy refused the call (is aws:SourceVpce set to this endpoint?)";
    case 'denied-other':
      return 'access was denied by something other than the endpoint or identity policy (an SCP or resource policy?)';
    case 'model-access-missing':
      return 'the account has no access to this model (grant it in the Bedrock console); this is not a policy deny';
    case 'network-unreachable':
      return 'the call never reached Bedrock: the connection timed out (private DNS, endpoint state, or security groups for 443)';
    case 'dns-failure':
      return 'the bedrock-runtime host name did not resolve inside the VPC (VPC DNS support off?)';
    case 'throttled':
      return 'Bedrock throttled the call';
    case 'not-found':
      return 'Bedrock answered not found for the model';
    case 'invalid-request':
      return 'Bedrock rejected the request as invalid (model id or request body)';
    case 'unknown-error':
      return 'the call failed with an unexpected error';
  }
}

/**
 * Outcomes that observe nothing about the perimeter: the service did not answer the question
 * (throttled, 5xx). A verdict may never rest on them (obligation 6: could not verify).
 */
export function isUnobservedOutcome(outcome: Outcome, httpStatusCode?: number): boolean {
  if (outcome === 'throttled') return true;
  return outcome === 'unknown-error' && httpStatusCode !== undefined && httpStatusCode >= 500;
}

/** The resource a refusal names (`... on resource: <arn> ...`), from IAM's message template. */
export function refusedResource(message: string | undefined): string | undefined {
  return /on resource: (\S+)/.exec(message ?? '')?.[1];
}

/** Control-plane errors worth retrying: throttling, 5xx, and network blips. */
export function isTransient(err: unknown): boolean {
  const code = errorCode(err);
  const status = httpStatus(err) ?? 0;
  if (THROTTLE_CODES.has(code) || status === 429 || status >= 500) return true;
  if ((err as AwsLikeError)?.$fault === 'server') return true;
  return NETWORK_PATTERNS.test(`${code} ${errorText(err)}`);
}

/** NotFound in any service's spelling: deletes treat it as success. */
export function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code.endsWith('.NotFound') ||
    code.endsWith('NotFoundException') ||
    code === 'NoSuchEntity' ||
    code === 'NoSuchEntityException' ||
    code === 'InvalidVpcEndpoint.NotFound'
  );
}

/**
 * EC2 may not know a VPC, subnet or group it just created for a moment (eventual consistency).
 * Only those codes mean "not yet": InvalidPermission.NotFound, say, is a final answer.
 */
export function isNotYetVisible(err: unknown): boolean {
  return /^Invalid(VpcID|SubnetID|GroupId|Group|VpcEndpointId|NetworkInterfaceID)\.NotFound$/.test(
    errorCode(err),
  );
}

export function isDependencyViolation(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'DependencyViolation' || code === 'InvalidNetworkInterface.InUse';
}

/**
 * Run an AWS call; if it fails transiently after the SDK's own retries, rethrow as
 * PrivateLinkVerify.Transient so the state machine's Retry (backoff, full jitter) takes over.
 */
export async function aws<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isTransient(err))
      throw new TaskError(ERROR_NAMES.transient, `${what}: ${errorCode(err)}: ${(err as Error).message}`);
    throw err;
  }
}
