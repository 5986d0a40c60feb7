import {
  CreateVpcEndpointCommand,
  DescribeVpcEndpointsCommand,
  ModifyVpcEndpointCommand,
} from '@aws-sdk/client-ec2';
import { CreatePolicyCommand, PutRolePermissionsBoundaryCommand } from '@aws-sdk/client-iam';
import { afterEach, describe, expect, it } from 'vitest';
import type { Caller } from '../../emulator/core/identity.ts';
import { PROFILES } from '../../emulator/core/latency.ts';
import { explainBedrockPath } from '../../emulator/network/path.ts';
import {
  ACCOUNT,
  allowProbeOnModel,
  build,
  closePathWorld,
  denied,
  expectClientTimeout,
  failure,
  identityRequiringEndpoint,
  invoke,
  MODEL,
  MODEL_ARN,
  REGION,
  waitUsable,
} from '../helpers/path-world.ts';
import { withClockHeld } from '../helpers/wait.ts';

/**
 * The decision table of the network + policy path from inside a VPC: every hop missing or
 * refusing gives the outcome AWS gives, and the fully correct setup succeeds. The world is
 * test/helpers/path-world.ts; per-zone state is in path-zones.test.ts.
 */

afterEach(closePathWorld);

const DENY_ALL = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
});

/** The endpoint policy becomes an explicit Deny of everything (the product's flip, simplified). */
function flipToDenyAll(w: Awaited<ReturnType<typeof build>>) {
  return w.ec2.send(new ModifyVpcEndpointCommand({ VpcEndpointId: w.vpceId, PolicyDocument: DENY_ALL }));
}

describe('path decision table, from inside a VPC', () => {
  it('fully correct setup: private DNS → available endpoint → SGs → both policies → model answers', async () => {
    const w = await build();
    const out = await invoke(w.runtime);
    expect(JSON.parse(new TextDecoder().decode(out.body)).type).toBe('message');
    const d = await w.explain();
    expect(d.outcome).toBe('allowed');
    expect(d.via).toBe('endpoint');
    expect(d.vpcEndpointId).toBe(w.vpceId);
    expect(d.hops.map((h) => [h.hop, h.ok])).toEqual([
      ['dns', true],
      ['endpoint', true],
      ['security-groups', true],
      ['endpoint-policy', true],
      ['identity-policy', true],
      ['model', true],
      ['model-access', true],
    ]);
    // The name resolves to the endpoint ENIs' private IPs inside the VPC.
    const ips = w.emu.ctx.network.resolve(
      `bedrock-runtime.${REGION}.amazonaws.com`,
      REGION,
      w.caller.network,
    );
    expect(ips.every((ip) => ip.startsWith('10.20.'))).toBe(true);
  });

  it('endpoint-specific DNS names answer with the endpoint IPs even when private DNS is off', async () => {
    const w = await build({ privateDns: false });
    const out = await w.ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [w.vpceId] }));
    const names = out.VpcEndpoints?.[0]?.DnsEntries?.map((e) => e.DnsName!) ?? [];
    expect(names.length).toBeGreaterThan(1);
    const regional = w.emu.ctx.network.resolve(names[0]!, REGION, w.caller.network);
    expect(regional).toHaveLength(2);
    expect(regional.every((ip) => ip.startsWith('10.20.'))).toBe(true);
    const zonal = names.find((n) => n.includes(`-${REGION}a.`))!;
    const zonalIps = w.emu.ctx.network.resolve(zonal, REGION, w.caller.network);
    expect(zonalIps).toHaveLength(1);
    expect(zonalIps[0]!.startsWith('10.20.1.')).toBe(true);
    // The regional service name still answers publicly: private DNS is what makes it private.
    const publicIps = w.emu.ctx.network.resolve(
      `bedrock-runtime.${REGION}.amazonaws.com`,
      REGION,
      w.caller.network,
    );
    expect(publicIps.some((ip) => ip.startsWith('10.'))).toBe(false);
  });

  it('DNS support off: the name does not resolve and the call never reaches Bedrock', async () => {
    const w = await build({ enableDnsSupport: false });
    expect(
      w.emu.ctx.network.resolve(`bedrock-runtime.${REGION}.amazonaws.com`, REGION, w.caller.network),
    ).toEqual([]);
    const err = await failure(invoke(w.runtime));
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(err.name).not.toBe('AccessDeniedException');
    expect((await w.explain()).outcome).toBe('dns-failure');
  });

  it('DNS hostnames off: private DNS does not apply, public IPs, no internet route → client timeout', async () => {
    const w = await build({ enableDnsHostnames: false });
    expectClientTimeout(await failure(invoke(w.runtime)));
    const d = await w.explain();
    expect(d.outcome).toBe('black-hole');
    expect(d.via).toBe('public');
    expect(d.decidedBy).toBe('route');
    expect(d.addresses.some((ip) => ip.startsWith('10.'))).toBe(false);
  });

  it('private DNS off on the endpoint: public IPs, black hole → client timeout', async () => {
    const w = await build({ privateDns: false });
    expectClientTimeout(await failure(invoke(w.runtime)));
    expect((await w.explain()).decidedBy).toBe('route');
  });

  it('endpoint still pending: connections hang; once available and usable the same call succeeds', async () => {
    const w = await build({ waitForEndpoint: false }, { profile: PROFILES.realistic, timeScale: 0.001 });
    const first = await w.explain();
    expect(first.outcome).toBe('black-hole');
    expect(first.decidedBy).toBe('endpoint');
    expectClientTimeout(await failure(invoke(w.runtime)));
    await waitUsable(w.emu, w.vpceId);
    const out = await invoke(w.runtime);
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  it('workload SG has no egress to the endpoint: black hole → client timeout', async () => {
    const w = await build({ workloadEgress: false });
    expectClientTimeout(await failure(invoke(w.runtime)));
    const d = await w.explain();
    expect(d.decidedBy).toBe('security-groups');
    expect(d.hops.at(-1)?.detail).toContain('egress');
  });

  it('endpoint SG admits the workload on a port other than 443: black hole → client timeout', async () => {
    const w = await build({ endpointIngressPort: 80 });
    expectClientTimeout(await failure(invoke(w.runtime)));
    const d = await w.explain();
    expect(d.decidedBy).toBe('security-groups');
    expect(d.hops.at(-1)?.detail).toContain('ingress');
  });

  it('endpoint policy denies all: 403 naming an explicit deny in a VPC endpoint policy', async () => {
    const w = await build({
      endpointPolicy: () => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
      }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.$metadata.httpStatusCode).toBe(403);
    expect(err.message).toBe(denied('with an explicit deny in a VPC endpoint policy'));
    expect((await w.explain()).decidedBy).toBe('endpoint-policy');
  });

  it('endpoint policy allows only another role: 403 because no VPC endpoint policy allows', async () => {
    const w = await build({
      endpointPolicy: () => allowProbeOnModel({ probeRoleArn: `arn:aws:iam::${ACCOUNT}:role/someone-else` }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(denied('because no VPC endpoint policy allows the bedrock:InvokeModel action'));
  });

  it('endpoint policy allows another model only: 403 from the endpoint policy for this model', async () => {
    const w = await build({
      endpointPolicy: ({ probeRoleArn }) => ({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: probeRoleArn },
            Action: 'bedrock:InvokeModel',
            Resource: `arn:aws:bedrock:${REGION}::foundation-model/amazon.titan-text-express-v1`,
          },
        ],
      }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('because no VPC endpoint policy allows the bedrock:InvokeModel action'));
  });

  it('identity policy requires a different aws:SourceVpce: 403 because no identity-based policy allows', async () => {
    const w = await build({
      identityPolicy: () => identityRequiringEndpoint({ vpceId: 'vpce-0ffffffffffffffff' }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(
      denied('because no identity-based policy allows the bedrock:InvokeModel action'),
    );
    const d = await w.explain();
    expect(d.hops.find((h) => h.hop === 'endpoint-policy')?.ok).toBe(true);
    expect(d.decidedBy).toBe('identity-policy');
  });

  it('explicit deny in an identity policy: 403 naming an identity-based policy', async () => {
    const w = await build({
      extraIdentityPolicy: () => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'bedrock:*', Resource: '*' }],
      }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('with an explicit deny in an identity-based policy'));
  });

  it('explicit deny in the endpoint policy wins over an identity allow', async () => {
    const w = await build({
      endpointPolicy: ({ probeRoleArn }) => ({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: probeRoleArn }, Action: 'bedrock:InvokeModel', Resource: '*' },
        ],
      }),
    });
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('with an explicit deny in a VPC endpoint policy'));
  });

  it('model access not granted: AccessDeniedException about model access, after the policies pass', async () => {
    const w = await build();
    w.emu.ctx.world.modelsWithoutAccess = [MODEL];
    const err = await failure(invoke(w.runtime));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe("You don't have access to the model with the specified model ID.");
    const d = await w.explain();
    expect(d.hops.find((h) => h.hop === 'identity-policy')?.ok).toBe(true);
    expect(d.decidedBy).toBe('model-access');
  });

  it('internet path via an IGW and no endpoint: arrives without aws:SourceVpce, so the identity policy refuses', async () => {
    const w = await build({ noEndpoint: true, internetGateway: true });
    const err = await failure(invoke(w.runtime));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(
      denied('because no identity-based policy allows the bedrock:InvokeModel action'),
    );
    const d = await w.explain();
    expect(d.via).toBe('public');
    expect(d.hops.find((h) => h.hop === 'route')?.ok).toBe(true);
    expect(d.hops.some((h) => h.hop === 'endpoint-policy')).toBe(false);
  });

  it('private DNS off but an IGW route: public path, the endpoint is bypassed and its policy never applies', async () => {
    const w = await build({
      privateDns: false,
      internetGateway: true,
      identityPolicy: () => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: '*' }],
      }),
      endpointPolicy: () => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
      }),
    });
    // This is the leak the product exists to catch: the call succeeds around the endpoint.
    const out = await invoke(w.runtime);
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect((await w.explain()).via).toBe('public');
  });

  it('inference profile: the endpoint policy must allow the profile ARN and the foundation-model ARNs', async () => {
    const profileId = `us.${MODEL}`;
    const profileArn = `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/${profileId}`;
    const onlyProfile = await build({
      endpointPolicy: ({ probeRoleArn }) => ({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: probeRoleArn },
            Action: 'bedrock:InvokeModel',
            Resource: profileArn,
          },
        ],
      }),
    });
    const err = await failure(invoke(onlyProfile.runtime, profileId));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toContain('because no VPC endpoint policy allows');
    expect(err.message).toContain(':foundation-model/');
    await closePathWorld();

    const both = await build({
      endpointPolicy: ({ probeRoleArn }) => ({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: probeRoleArn },
            Action: 'bedrock:InvokeModel',
            Resource: [profileArn, `arn:aws:bedrock:*::foundation-model/${MODEL}`],
          },
        ],
      }),
    });
    const out = await invoke(both.runtime, profileId);
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  it('an endpoint policy flip to Deny takes effect only after propagation, then names the endpoint policy', async () => {
    const w = await build({}, { profile: PROFILES.realistic, timeScale: 0.005 });
    await withClockHeld(w.emu, async () => {
      await flipToDenyAll(w);
      // Propagation takes 30 s or more of virtual time: the old policy still decides right after the change.
      expect((await w.explain()).outcome).toBe('allowed');
    });
    let d = await w.explain();
    for (let i = 0; i < 300 && d.outcome === 'allowed'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      d = await w.explain();
    }
    expect(d.decidedBy).toBe('endpoint-policy');
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('with an explicit deny in a VPC endpoint policy'));
  });

  it('a world where endpoint policy updates never apply keeps answering with the old policy', async () => {
    const w = await build({}, { world: { endpointPolicyUpdatesApply: false } });
    await flipToDenyAll(w);
    await w.emu.ctx.clock.sleep(600_000);
    const out = await invoke(w.runtime);
    expect(out.$metadata.httpStatusCode).toBe(200);
  });

  it('the account administrator is still subject to the endpoint policy when it comes through the endpoint', async () => {
    const w = await build({
      endpointPolicy: () => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }],
      }),
    });
    const admin: Caller = { ...w.emu.ctx.identities.admin('AKIAADMIN'), network: w.caller.network! };
    const d = await explainBedrockPath(w.emu.ctx, admin, REGION, MODEL);
    expect(d.outcome).toBe('access-denied');
    expect(d.error?.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: bedrock:InvokeModel on resource: ${MODEL_ARN} with an explicit deny in a VPC endpoint policy`,
    );
  });

  it('a Deny that flaps (world.denyLapse with forSeconds): refused, then allowed again, then refused', async () => {
    const w = await build(
      {},
      {
        timeScale: 0.01,
        world: { endpointPolicyPropagationSeconds: 40, denyLapse: { afterSeconds: 80, forSeconds: 120 } },
      },
    );
    await flipToDenyAll(w);
    const at = async (s: number) => {
      await w.emu.ctx.clock.sleep(s * 1000);
      return (await w.explain()).outcome;
    };
    expect(await at(20)).toBe('allowed'); // +20 s: not yet propagated
    expect(await at(40)).toBe('access-denied'); // +60 s: the Deny holds
    expect(await at(100)).toBe('allowed'); // +160 s: lapsed (the previous policy is back for traffic)
    expect(await at(140)).toBe('access-denied'); // +300 s: holds again
    // Describe shows the Deny throughout: only traffic lapses.
    const d = await w.ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: [w.vpceId] }));
    expect(JSON.parse(d.VpcEndpoints![0]!.PolicyDocument!)).toEqual(JSON.parse(DENY_ALL));
  });

  it('a Deny enforced as "no allow" (world.denyEnforcedAs): the refusal is implicit, not the explicit Deny', async () => {
    const w = await build({}, { world: { endpointPolicyPropagationSeconds: 1, denyEnforcedAs: 'no-allow' } });
    await flipToDenyAll(w);
    await w.emu.ctx.clock.sleep(5_000);
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('because no VPC endpoint policy allows the bedrock:InvokeModel action'));
  });

  it('a service control policy denying Bedrock refuses the call after both policies allow it', async () => {
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
    const d = await w.explain();
    expect(d.outcome).toBe('access-denied');
    expect(d.decidedBy).toBe('identity-policy');
    expect(d.error?.message).toMatch(/service control policy/);
  });

  it('a permissions boundary without Bedrock refuses the call after both policies allow it', async () => {
    const w = await build();
    const b = await w.iam.send(
      new CreatePolicyCommand({
        PolicyName: 'no-bedrock',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }],
        }),
      }),
    );
    await w.iam.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: 'probe-role', PermissionsBoundary: b.Policy!.Arn! }),
    );
    const err = await failure(invoke(w.runtime));
    expect(err.message).toBe(denied('because no permissions boundary allows the bedrock:InvokeModel action'));
  });

  it('another private-DNS endpoint for the same service in the same VPC is refused (one per VPC)', async () => {
    const w = await build();
    const second = await failure(
      w.ec2.send(
        new CreateVpcEndpointCommand({
          VpcId: w.vpcId,
          VpcEndpointType: 'Interface',
          ServiceName: `com.amazonaws.${REGION}.bedrock-runtime`,
          SubnetIds: [w.subnetA],
          SecurityGroupIds: [w.endpointSg],
          PrivateDnsEnabled: true,
        }),
      ),
    );
    expect(second.name).toBe('InvalidParameter');
    // The run's endpoint still answers the name, and its policy still decides.
    expect((await w.explain()).vpcEndpointId).toBe(w.vpceId);
  });
});
