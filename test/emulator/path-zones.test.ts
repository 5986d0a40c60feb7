import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import {
  CreateSecurityGroupCommand,
  CreateVpcEndpointCommand,
  DescribeVpcEndpointsCommand,
  ModifyVpcEndpointCommand,
} from '@aws-sdk/client-ec2';
import { afterEach, describe, expect, it } from 'vitest';
import {
  build,
  closePathWorld,
  denied,
  failure,
  invoke,
  MODEL,
  REGION,
  waitUsable,
} from '../helpers/path-world.ts';

/**
 * The decision table's per-zone rows: an interface endpoint has one ENI per subnet, each answering
 * for its own zone, and each enforcing the endpoint policy as it has reached that zone. A call
 * addressed to a zonal DNS name (DnsEntries: `vpce-<id>-<suffix>-<az>.<service>.<region>.vpce.amazonaws.com`)
 * goes to that zone's ENI; the regional service name goes to the ENI the resolver puts first for
 * the caller (its own subnet's). The world knobs (denyOnlyInZones, zonePolicyLagSeconds,
 * denyLapse.zones) are faults and lags with no AWS figure behind them; they let a test make the
 * zones disagree.
 */

afterEach(closePathWorld);

const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
});

type World = Awaited<ReturnType<typeof build>>;

async function zonalNames(w: World, vpceId = w.vpceId): Promise<{ a: string; b: string }> {
  const out = await w.ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [vpceId] }));
  const names = out.VpcEndpoints?.[0]?.DnsEntries?.map((e) => e.DnsName!) ?? [];
  return {
    a: names.find((n) => n.includes(`-${REGION}a.`))!,
    b: names.find((n) => n.includes(`-${REGION}b.`))!,
  };
}

/** The SDK client (changed in place), addressed to a zonal name: Host (signed) says where the call goes, as on AWS. */
function addressedTo(runtime: BedrockRuntimeClient, host: string): BedrockRuntimeClient {
  runtime.middlewareStack.add(
    (next) => async (args) => {
      (args.request as { headers: Record<string, string> }).headers.host = host;
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'zonalHost' },
  );
  return runtime;
}

const outcomeIn = async (w: World, host: string) => (await w.explain(MODEL, host)).outcome;

describe('path decision table: per-zone state', () => {
  it("each zonal name reaches only its own zone's ENI; the regional name the caller's own zone", async () => {
    const w = await build();
    const z = await zonalNames(w);
    const view = w.emu.ctx.ec2.interfaceEndpointsInVpc(w.vpcId)[0]!;
    const ipIn = (zone: string) => view.privateIps[view.availabilityZones.indexOf(zone)]!;
    const a = await w.explain(MODEL, z.a);
    const b = await w.explain(MODEL, z.b);
    expect([a.outcome, a.zone, a.address, a.addresses]).toEqual([
      'allowed',
      `${REGION}a`,
      ipIn(`${REGION}a`),
      [ipIn(`${REGION}a`)],
    ]);
    expect([b.outcome, b.zone, b.address, b.addresses]).toEqual([
      'allowed',
      `${REGION}b`,
      ipIn(`${REGION}b`),
      [ipIn(`${REGION}b`)],
    ]);
    // The caller's first subnet is in zone a: the resolver puts that ENI first for the regional name.
    const regional = await w.explain();
    expect([regional.zone, regional.address]).toEqual([`${REGION}a`, ipIn(`${REGION}a`)]);
    expect(regional.addresses).toHaveLength(2);
  });

  it('a Deny that reaches one zone only (world.denyOnlyInZones): refused through that ENI, allowed through the other', async () => {
    const w = await build(
      {},
      { world: { endpointPolicyPropagationSeconds: 1, denyOnlyInZones: [`${REGION}a`] } },
    );
    const z = await zonalNames(w);
    await w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, PolicyDocument: DENY_ALL }));
    await w.emu.ctx.clock.sleep(5_000);
    expect(await outcomeIn(w, z.a)).toBe('access-denied');
    expect(await outcomeIn(w, z.b)).toBe('allowed');
    // The regional name lands in zone a for this caller: one call by it would see a Deny "everywhere".
    expect((await w.explain()).outcome).toBe('access-denied');
    // Over the wire, addressed by Host to each zone, with the message AWS gives.
    const err = await failure(invoke(addressedTo(w.runtime, z.a)));
    expect(err.message).toBe(denied('with an explicit deny in a VPC endpoint policy'));
  });

  it('the wire call addressed to zone b is answered by zone b (a Deny only in a, so it succeeds)', async () => {
    const w = await build(
      {},
      { world: { endpointPolicyPropagationSeconds: 1, denyOnlyInZones: [`${REGION}a`] } },
    );
    const z = await zonalNames(w);
    await w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, PolicyDocument: DENY_ALL }));
    await w.emu.ctx.clock.sleep(5_000);
    // By the regional name (zone a for this caller) the Deny refuses; addressed to zone b, it does not.
    await expect(invoke(w.runtime)).rejects.toThrow(/explicit deny in a VPC endpoint policy/);
    expect((await invoke(addressedTo(w.runtime, z.b))).$metadata.httpStatusCode).toBe(200);
  });

  it('a propagation lag in one zone (world.zonePolicyLagSeconds): the Deny reaches zone b 60 s after zone a', async () => {
    const w = await build(
      {},
      { world: { endpointPolicyPropagationSeconds: 10, zonePolicyLagSeconds: { [`${REGION}b`]: 60 } } },
    );
    const z = await zonalNames(w);
    await w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, PolicyDocument: DENY_ALL }));
    await w.emu.ctx.clock.sleep(20_000); // +20 s
    expect([await outcomeIn(w, z.a), await outcomeIn(w, z.b)]).toEqual(['access-denied', 'allowed']);
    await w.emu.ctx.clock.sleep(40_000); // +60 s: zone b's lag is not over (10 + 60)
    expect(await outcomeIn(w, z.b)).toBe('allowed');
    await w.emu.ctx.clock.sleep(15_000); // +75 s
    expect([await outcomeIn(w, z.a), await outcomeIn(w, z.b)]).toEqual(['access-denied', 'access-denied']);
  });

  it('a Deny that flaps in one zone (world.denyLapse.zones): zone b allowed again while zone a keeps refusing', async () => {
    const w = await build(
      {},
      {
        world: {
          endpointPolicyPropagationSeconds: 10,
          denyLapse: { afterSeconds: 30, forSeconds: 40, zones: [`${REGION}b`] },
        },
      },
    );
    const z = await zonalNames(w);
    await w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, PolicyDocument: DENY_ALL }));
    const at = async (s: number) => {
      await w.emu.ctx.clock.sleep(s * 1000);
      return [await outcomeIn(w, z.a), await outcomeIn(w, z.b)];
    };
    expect(await at(20)).toEqual(['access-denied', 'access-denied']); // +20 s: held in both
    expect(await at(30)).toEqual(['access-denied', 'allowed']); // +50 s: lapsed in b only
    expect(await at(40)).toEqual(['access-denied', 'access-denied']); // +90 s: holds again in b
  });

  it('an endpoint with no ENI in a zone: that zone has no zonal name, and calling it by name finds nothing', async () => {
    const w = await build();
    const z = await zonalNames(w);
    await w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, RemoveSubnetIds: [w.subnetB] }));
    expect((await zonalNames(w)).b).toBeUndefined();
    const d = await w.explain(MODEL, z.b);
    expect(d.outcome).toBe('dns-failure');
    expect(d.hops[0]!.detail).toContain(`has no ENI in ${REGION}b`);
    // The regional name now resolves to zone a's ENI only.
    expect((await w.explain()).addresses).toHaveLength(1);
  });

  it('another endpoint in the VPC (private DNS off): its zonal name goes through its ENI and its policy, and aws:SourceVpce names it', async () => {
    const w = await build();
    const sg = (
      await w.ec2.send(
        new CreateSecurityGroupCommand({ VpcId: w.vpcId, GroupName: 'other', Description: 'other' }),
      )
    ).GroupId!;
    const other = await w.ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: w.vpcId,
        VpcEndpointType: 'Interface',
        ServiceName: `com.amazonaws.${REGION}.bedrock-runtime`,
        SubnetIds: [w.subnetA, w.subnetB],
        SecurityGroupIds: [w.endpointSg, sg],
        PrivateDnsEnabled: false,
      }),
    );
    const otherId = other.VpcEndpoint!.VpcEndpointId!;
    await waitUsable(w.emu, otherId);
    const z = await zonalNames(w, otherId);
    const d = await w.explain(MODEL, z.b);
    expect([d.vpcEndpointId, d.zone]).toEqual([otherId, `${REGION}b`]);
    // Its full-access policy lets the call through; the probe's identity policy names the run's endpoint only.
    expect([d.outcome, d.decidedBy]).toEqual(['access-denied', 'identity-policy']);
    expect(d.error?.message).toBe(
      denied('because no identity-based policy allows the bedrock:InvokeModel action'),
    );
    // The run's endpoint still holds the regional name.
    expect((await w.explain()).vpcEndpointId).toBe(w.vpceId);
  });

  it("a service control policy decides the same through every zone's ENI", async () => {
    const w = await build(
      {},
      {
        world: {
          serviceControlPolicies: [
            { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
            {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Deny', Action: 'bedrock:InvokeModel', Resource: '*' }],
            },
          ],
        },
      },
    );
    const z = await zonalNames(w);
    for (const host of [z.a, z.b]) {
      const d = await w.explain(MODEL, host);
      expect([d.outcome, d.decidedBy]).toEqual(['access-denied', 'identity-policy']);
      expect(d.error?.message).toMatch(/service control policy/);
    }
  });
});
