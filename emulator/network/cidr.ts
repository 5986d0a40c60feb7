/** IPv4 address arithmetic for security-group and subnet checks. */

export function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
  const [ip, len] = cidr.split('/');
  const base = ipToInt(ip ?? '');
  const prefix = len === undefined ? 32 : Number(len);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  return { base, prefix };
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** True when `ip` lies inside `cidr`. */
export function cidrContainsIp(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const n = ipToInt(ip);
  if (!c || n === undefined) return false;
  const m = mask(c.prefix);
  return (c.base & m) >>> 0 === (n & m) >>> 0;
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrCovers(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || i.prefix < o.prefix) return false;
  const m = mask(o.prefix);
  return (o.base & m) >>> 0 === (i.base & m) >>> 0;
}
