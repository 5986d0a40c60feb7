/** Carve the run's two private subnets out of the VPC CIDR. */
function toInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}
function toIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Two subnets, each a sixteenth of the VPC (at most /28), at the start of the block. */
export function twoSubnets(vpcCidr: string): [string, string] {
  const [ip, prefixText] = vpcCidr.split('/');
  const prefix = Number(prefixText);
  const subnetPrefix = Math.min(prefix + 4, 28);
  const size = 2 ** (32 - subnetPrefix);
  const base = toInt(ip!);
  return [`${toIp(base)}/${subnetPrefix}`, `${toIp(base + size)}/${subnetPrefix}`];
}

/** True when `inner` lies entirely inside `outer` (both IPv4 CIDR blocks). */
export function cidrWithin(inner: string, outer: string): boolean {
  const [ia, ip] = inner.split('/');
  const [oa, op] = outer.split('/');
  const innerPrefix = Number(ip);
  const outerPrefix = Number(op);
  if (!(innerPrefix >= outerPrefix)) return false;
  const mask = outerPrefix === 0 ? 0 : (0xffffffff << (32 - outerPrefix)) >>> 0;
  return (toInt(ia!) & mask) >>> 0 === (toInt(oa!) & mask) >>> 0;
}
