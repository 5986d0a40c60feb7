/**
 * Authentication: only keys the emulator issued are accepted, and only with a SigV4 signature made
 * with their secret. Every refusal uses the service's own error code and HTTP status.
 *
 * Sources (real responses):
 * - EC2 unknown key: `AuthFailure` "AWS was not able to validate the provided access credentials",
 *   HTTP 401 (hashicorp/terraform#17273, aws/aws-sdk-java#2508).
 * - IAM/STS unknown key: `InvalidClientTokenId` "The security token included in the request is
 *   invalid", HTTP 403 (Skyscanner/LambdaGuard#32; botocore models list it for STS).
 * - Lambda unknown key: `UnrecognizedClientException`, HTTP 403 (iann0036/iamlive#58).
 * - awsJson services (Step Functions): `UnrecognizedClientException`, HTTP 400
 *   (aws-azure-login/aws-azure-login#37, ArranJacques/laravel-aws-cognito-auth#25).
 * - IAM Access Analyzer (REST-JSON) is answered like Lambda, `UnrecognizedClientException` 403: no
 *   public response of its own was found (botocore lists no authentication errors for it).
 * - Wrong secret: `SignatureDoesNotMatch` on query services, EC2 included (aws/aws-cli#135);
 *   `InvalidSignatureException` on JSON/REST services (aws/aws-sdk-js#168).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsError } from '../core/errors.ts';
import type { Caller, IdentityRegistry } from '../core/identity.ts';
import type { ServiceName } from '../core/service.ts';

const INVALID_TOKEN = 'The security token included in the request is invalid.';
const BAD_SIGNATURE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

type Refusal = 'unknown-key' | 'unsigned' | 'bad-signature';

/** The error each service answers with, by kind of refusal. */
export function authError(service: ServiceName, kind: Refusal): AwsError {
  const query = service === 'iam' || service === 'sts';
  if (kind === 'unsigned') {
    if (service === 'ec2')
      return new AwsError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
    if (query)
      return new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    return new AwsError(
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
      service === 'states' ? 400 : 403,
    );
  }
  if (kind === 'bad-signature') {
    if (service === 'ec2' || query) return new AwsError('SignatureDoesNotMatch', BAD_SIGNATURE, 403);
    return new AwsError('InvalidSignatureException', BAD_SIGNATURE, service === 'states' ? 400 : 403);
  }
  if (service === 'ec2')
    return new AwsError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401);
  if (query) return new AwsError('InvalidClientTokenId', INVALID_TOKEN, 403);
  return new AwsError('UnrecognizedClientException', INVALID_TOKEN, service === 'states' ? 400 : 403);
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as sent (still percent-encoded). */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(h: string | undefined): ParsedAuthorization | undefined {
  const m =
    /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)/.exec(
      h ?? '',
    );
  if (!m) return undefined;
  const [accessKeyId, date, region, service] = m[1]!.split('/');
  if (!accessKeyId || !date || !region || !service) return undefined;
  return { accessKeyId, date, region, service, signedHeaders: m[2]!.split(';'), signature: m[3]! };
}

/** node:crypto behind the Checksum interface the signer expects (SHA-256, or HMAC-SHA-256 with a key). */
export class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {}
}

function bytes(d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return new Uint8Array(d);
}

/** Signing keys are derived per key/day/region/service: keep the signers. */
const signers = new Map<string, SignatureV4>();

function signerFor(p: ParsedAuthorization, secretAccessKey: string): SignatureV4 {
  const key = `${p.accessKeyId}/${secretAccessKey}/${p.region}/${p.service}`;
  let s = signers.get(key);
  if (!s) {
    if (signers.size > 500) signers.clear();
    s = new SignatureV4({
      credentials: { accessKeyId: p.accessKeyId, secretAccessKey },
      region: p.region,
      service: p.service,
      sha256: Sha256,
      uriEscapePath: true,
      // Verify what the client signed: never add x-amz-content-sha256 of our own.
      applyChecksum: false,
    });
    signers.set(key, s);
  }
  return s;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = name === 'host' ? (headers.host ?? headers[':authority']) : headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** Recompute the request's SigV4 signature with the key's secret (the SDK's own signer, @smithy/signature-v4). */
async function signatureMatches(
  req: SignedRequest,
  p: ParsedAuthorization,
  secret: string,
): Promise<boolean> {
  const amzDate = headerValue(req.headers, 'x-amz-date');
  if (!amzDate) return false;
  const headers: Record<string, string> = {};
  for (const name of p.signedHeaders) {
    const v = headerValue(req.headers, name);
    if (v === undefined) return false;
    headers[name] = v;
  }
  const q = req.rawUrl.indexOf('?');
  const path = q < 0 ? req.rawUrl : req.rawUrl.slice(0, q);
  const query: Record<string, string | string[]> = {};
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(req.rawUrl.slice(q + 1))) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
  }
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signed = await signerFor(p, secret).sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: headers.host ?? 'localhost',
      path,
      query,
      headers,
      body: req.body,
    },
    {
      signingDate,
      signingRegion: p.region,
      signingService: p.service,
      // Sign exactly the headers the client signed, no more, no fewer.
      signableHeaders: new Set(p.signedHeaders),
    },
  );
  const auth = String(signed.headers.authorization ?? signed.headers.Authorization ?? '');
  return auth.endsWith(`Signature=${p.signature}`);
}

/** Who signed this request; refuses unsigned requests, unknown keys and wrong secrets. */
export async function authenticate(
  identities: IdentityRegistry,
  service: ServiceName,
  req: SignedRequest,
): Promise<Caller> {
  const p = parseAuthorization(headerValue(req.headers, 'authorization'));
  if (!p) throw authError(service, 'unsigned');
  const caller = identities.resolve(p.accessKeyId);
  const secret = identities.secretOf(p.accessKeyId);
  if (!caller || secret === undefined) throw authError(service, 'unknown-key');
  if (!(await signatureMatches(req, p, secret))) throw authError(service, 'bad-signature');
  return caller;
}
