import { AwsError } from '../../core/errors.ts';
import { listOf } from '../../core/query.ts';

/** Small building blocks of the EC2 emulation: CIDR arithmetic, ids, tags, zones. */

export type TagMap = Map<string, string>;

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIpv4(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(text: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  return { base: (ip & maskOf(prefix)) >>> 0, prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && (inner.base & maskOf(outer.prefix)) >>> 0 === outer.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** `vpc-` + 17 hex digits, the shape of today's EC2 ids. */
export function isIdOf(prefix: string, id: string): boolean {
  return new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`).test(id);
}

export function bool(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return String(v).toLowerCase() === 'true';
}

export function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

export function strings(v: unknown): string[] {
  return listOf(v).map(String);
}

/** A CIDR parameter, with AWS's errors for a missing or malformed one. */
export function cidrParam(input: Record<string, any>, field: string, param: string): Cidr {
  const text = str(input[field]);
  if (!text) throw new AwsError('MissingParameter', `The request must contain the parameter ${param}`);
  const cidr = parseCidr(text);
  if (!cidr) {
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${text}) for parameter ${param} is invalid. This is not a valid CIDR block.`,
    );
  }
  return cidr;
}

/**
 * ClientToken idempotency: the same token with the same parameters returns what it created;
 * with other parameters it is IdempotentParameterMismatch.
 */
export function idempotent<T extends { clientToken?: string; requestFingerprint?: string }>(
  existing: Iterable<T>,
  input: Record<string, any>,
): { clientToken: string | undefined; fingerprint: string; prior?: T } {
  const clientToken = str(input.ClientToken);
  const { ClientToken: _t, DryRun: _d, ...rest } = input;
  const fingerprint = JSON.stringify(rest);
  if (!clientToken) return { clientToken, fingerprint };
  const prior = [...existing].find((r) => r.clientToken === clientToken);
  if (prior && prior.requestFingerprint !== fingerprint) {
    throw new AwsError(
      'IdempotentParameterMismatch',
      `The client token ${clientToken} has already been used with different request parameters.`,
    );
  }
  return { clientToken, fingerprint, ...(prior ? { prior } : {}) };
}

// ---------- tags ----------

export function tagSet(tags: TagMap): { key: string; value: string }[] {
  return [...tags].map(([key, value]) => ({ key, value }));
}

export function tagsRecord(tags: TagMap): Record<string, string> {
  return Object.fromEntries(tags);
}

export function validateTags(pairs: { Key?: unknown; Value?: unknown }[], existing = 0): [string, string][] {
  const out: [string, string][] = [];
  for (const p of pairs) {
    const key = str(p.Key);
    if (!key) throw new AwsError('InvalidParameterValue', 'Tag key must not be empty.');
    if (key.toLowerCase().startsWith('aws:')) {
      throw new AwsError(
        'InvalidParameterValue',
        "Tag keys starting with 'aws:' are reserved for internal use",
      );
    }
    if (key.length > 128)
      throw new AwsError('InvalidParameterValue', `Tag key exceeds the maximum length of 128 characters`);
    const value = str(p.Value) ?? '';
    if (value.length > 256)
      throw new AwsError('InvalidParameterValue', `Tag value exceeds the maximum length of 256 characters`);
    out.push([key, value]);
  }
  if (existing + out.length > 50) {
    throw new AwsError('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
  }
  return out;
}

/**
 * Tags from `TagSpecification.N` for a Create* call. A specification for a resource type the
 * operation does not create is refused, as EC2 does.
 */
export function tagsFromSpecifications(input: Record<string, any>, resourceType: string): TagMap {
  const tags: TagMap = new Map();
  for (const spec of listOf<Record<string, any>>(input.TagSpecification)) {
    const type = str(spec.ResourceType);
    if (type !== resourceType) {
      throw new AwsError(
        'InvalidParameterValue',
        `'${type ?? ''}' is not a valid taggable resource type for this operation.`,
      );
    }
    for (const [k, v] of validateTags(listOf(spec.Tag))) tags.set(k, v);
  }
  return tags;
}

// ---------- regions ----------

/** `us-east-1` → `use1`, `ap-northeast-1` → `apne1`: the prefix of AWS zone ids. */
export function regionCode(region: string): string {
  const [area = '', direction = '', num = ''] = region.split('-');
  const dir = direction
    .replace('north', 'n')
    .replace('south', 's')
    .replace('east', 'e')
    .replace('west', 'w')
    .replace('central', 'c');
  return `${area}${dir}${num}`;
}

export interface Zone {
  zoneName: string;
  zoneId: string;
}

export function zonesOf(region: string): Zone[] {
  return ['a', 'b', 'c'].map((letter, i) => ({
    zoneName: `${region}${letter}`,
    zoneId: `${regionCode(region)}-az${i + 1}`,
  }));
}

/** Stable pseudo-hex from a string, for ids that must not consume the seeded RNG (service ids). */
export function stableHex(seed: string, len: number): string {
  let h = 2166136261;
  let out = '';
  while (out.length < len) {
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
    h = Math.imul(h ^ out.length, 16777619) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, len);
}
