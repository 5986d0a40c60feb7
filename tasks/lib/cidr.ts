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
