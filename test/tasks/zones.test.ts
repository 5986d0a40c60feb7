import { describe, expect, it } from 'vitest';
import type { Outcome, ProbeResult } from '../../statemachine/contract.ts';
import type { TimelineEntry } from '../../tasks/lib/probe-runs.ts';
import type { EndpointReading } from '../../tasks/lib/readback.ts';
import { judgeDenyRounds, throughZoneEni, zoneTargets } from '../../tasks/lib/zones.ts';

/**
 * The zone-by-zone judgement of the deny phase and the choice of what to call in each zone, on
 * hand-made observations: each claim beside the world in which it is false.
 */

const A = 'us-east-1a';
const B = 'us-east-1b';
const ID = 'vpce-0123456789abcdef0';
const MODEL_ARN = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
const IP: Record<string, string> = { [A]: '10.42.1.10', [B]: '10.42.2.20' };
const zonal = (z: string) => `${ID}-abcd1234-${z}.bedrock-runtime.us-east-1.vpce.amazonaws.com`;

const reading = (zones = [A, B]): EndpointReading => ({
  vpcEndpointId: ID,
  state: 'available',
  enis: zones.map((z, i) => ({
    networkInterfaceId: `eni-${i}`,
    availabilityZone: z,
    subnetId: `subnet-${i}`,
    privateIp: IP[z]!,
  })),
  dnsNames: [
    `${ID}-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com`,
    ...zones.map(zonal),
    'bedrock-runtime.us-east-1.amazonaws.com',
  ],
});

const result = (outcome: Outcome, zone: string, address = IP[zone]!): ProbeResult => ({
  outcome,
  hostname: zonal(zone),
  resolvedAddresses: [address],
  resolvedPrivate: true,
  modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
  latencyMs: 10,
  at: new Date(0).toISOString(),
  ...(outcome === 'denied-by-endpoint-policy'
    ? {
        httpStatus: 403,
        errorMessage: `User: x is not authorized to perform: bedrock:InvokeModel on resource: ${MODEL_ARN} with an explicit deny in a VPC endpoint policy`,
      }
    : outcome === 'throttled'
      ? { httpStatus: 429 }
      : { httpStatus: 200 }),
});

const targets = zoneTargets(reading(), [A, B]).targets;
const isOwnDeny = (r: ProbeResult, zone: string) =>
  r.outcome === 'denied-by-endpoint-policy' && throughZoneEni(r, targets.find((t) => t.zone === zone)!);

/** Rounds every 5 s from the flip at 0: one letter per zone per round (a allowed, d own Deny, t throttled). */
function rounds(a: string, b: string): { calls: TimelineEntry[]; everywhereAtMs?: number } {
  const calls: TimelineEntry[] = [];
  const of: Record<string, Outcome> = { a: 'allowed', d: 'denied-by-endpoint-policy', t: 'throttled' };
  let everywhereAtMs: number | undefined;
  for (let i = 0; i < a.length; i++) {
    const ra = result(of[a[i]!]!, A);
    const rb = result(of[b[i]!]!, B);
    calls.push({ atMs: i * 5000, zone: A, outcome: ra.outcome, result: ra });
    calls.push({ atMs: i * 5000 + 100, zone: B, outcome: rb.outcome, result: rb });
    if (everywhereAtMs === undefined && isOwnDeny(ra, A) && isOwnDeny(rb, B)) everywhereAtMs = i * 5000 + 100;
  }
  return { calls, ...(everywhereAtMs !== undefined ? { everywhereAtMs } : {}) };
}

const judge = (a: string, b: string) =>
  judgeDenyRounds({ ...rounds(a, b), attempts: a.length * 2, elapsedMs: 0 }, [A, B], isOwnDeny, 0, 20);

describe('what to call in each zone', () => {
  it("finds each zone's ENI and zonal DnsEntries name", () => {
    expect(zoneTargets(reading(), [A, B]).targets.map((t) => [t.zone, t.dnsName, t.eni.privateIp])).toEqual([
      [A, zonal(A), IP[A]],
      [B, zonal(B), IP[B]],
    ]);
  });

  it('a zone of the run with no endpoint ENI is missing, not silently skipped', () => {
    const z = zoneTargets(reading([A]), [A, B]);
    expect(z.targets.map((t) => t.zone)).toEqual([A]);
    expect(z.missing).toEqual([{ zone: B, why: `${ID} has no network interface in ${B}` }]);
  });

  it('a zone with an ENI but no zonal name is missing too', () => {
    const r = reading();
    r.dnsNames = r.dnsNames.filter((n) => !n.includes(`-${B}.`));
    expect(zoneTargets(r, [A, B]).missing.map((m) => m.why)).toEqual([
      `${ID}'s DnsEntries have no zonal name for ${B}`,
    ]);
  });

  it("a call by zone a's name that reached zone b's address is not through zone a's ENI", () => {
    expect(throughZoneEni(result('allowed', A), targets[0]!)).toBe(true);
    expect(throughZoneEni(result('allowed', A, IP[B]), targets[0]!)).toBe(false);
  });
});

describe('the deny phase, zone by zone', () => {
  it('refused in every zone and held there: passed, first refusal and "refused everywhere" apart', () => {
    const f = judge('aadddddddd', 'aaaaaddddd');
    expect(f.status).toBe('passed');
    expect(f.firstRefusalAtMs).toBe(10_000);
    expect(f.everywhereFromMs).toBe(25_100);
    expect(f.reason).toMatch(/first refusal at \+10 s, refused everywhere from \+25\.1 s on/);
  });

  it('refused in one zone only, the other kept allowing: failed, the Deny was not enforced there', () => {
    const f = judge('aadddddddd', 'aaaaaaaaaa');
    expect(f.status).toBe('failed');
    expect(f.reason).toMatch(/refused the call in us-east-1a .* but never in us-east-1b.*not enforced there/);
    expect(f.everywhereFromMs).toBeUndefined();
  });

  it('refused in one zone, the other throttled to the end: could not verify, never a fail', () => {
    const f = judge('aadddddddd', 'aatttttttt');
    expect(f.status).toBe('could-not-verify');
    expect(f.reason).toMatch(/could not be observed in us-east-1b/);
  });

  it('a zone allowed again after its first refusal: Deny not stable, naming the zone', () => {
    const f = judge('aadddddddd', 'aaddddaadd');
    expect(f.status).toBe('failed');
    expect(f.reason).toMatch(
      /^Deny not stable: in us-east-1b, after its first refusal at \+10\.1 s, InvokeModel succeeded again 2 time\(s\) \(first at \+30\.1 s\)/,
    );
    // Refused everywhere only from the refusal after the last break.
    expect(f.everywhereFromMs).toBe(40_100);
  });

  it('a call not answered in the settle window: could not verify stability', () => {
    const f = judge('aadddddddd', 'aadddtdddd');
    expect(f.status).toBe('could-not-verify');
    expect(f.reason).toMatch(/1 of \d+ call\(s\) in the 20 s settle window were not answered/);
  });

  it('no zone ever refused by the run: no reason here (the task explains the miss from the last call)', () => {
    const f = judge('aaaa', 'aaaa');
    expect([f.status, f.reason, f.firstRefusalAtMs]).toEqual(['failed', undefined, undefined]);
  });
});
