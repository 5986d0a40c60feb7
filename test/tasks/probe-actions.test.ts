import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BEDROCK_CALLS, type BedrockCall } from '../../statemachine/aws-names.ts';
import { callFromOutside, callOnceFromOutside } from '../../tasks/lib/outside-caller.ts';
import { handler } from '../../tasks/probe/handler.ts';
import { ACCOUNT, build, closePathWorld, REGION } from '../helpers/path-world.ts';
import { eventually } from '../helpers/wait.ts';

/**
 * The probe handler and the outside caller make each operation a matrix row may name, against
 * the emulator: the probe from inside the VPC (its DNS answered by the emulator's resolver for
 * the VPC, as the function's sandbox would be), the outside caller from the test process with no
 * VPC, through AWS_ENDPOINT_URL as the product reaches the emulator.
 */

const dns = vi.hoisted(() => ({ resolve: (_host: string): string[] => [] }));
vi.mock('node:dns/promises', () => ({
  lookup: async (host: string) => {
    const addresses = dns.resolve(host);
    if (!addresses.length)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: 4 }));
  },
}));

const OPS = Object.keys(BEDROCK_CALLS) as BedrockCall[];
const SONNET = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const SONNET_ARN = `arn:aws:bedrock:${REGION}::foundation-model/${SONNET}`;
const ALL_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream', 'bedrock:CountTokens'];

let w: Awaited<ReturnType<typeof build>>;
let openRoleArn: string;
const saved = { ...process.env };

beforeAll(async () => {
  w = await build({
    // The endpoint allows only bedrock:InvokeModel: Converse passes, the streams and CountTokens do not.
    endpointPolicy: ({ probeRoleArn }) => ({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: probeRoleArn },
          Action: 'bedrock:InvokeModel',
          Resource: SONNET_ARN,
        },
      ],
    }),
    identityPolicy: ({ vpceId }) => ({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ALL_ACTIONS,
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceVpce': vpceId } },
        },
      ],
    }),
  });
  const network = w.caller.network!;
  dns.resolve = (host) => w.emu.ctx.network.resolve(host, REGION, network);

  // The verify task's own role (a function outside the VPC) assumes the probe role, and a role
  // whose identity policy has no aws:SourceVpce condition, to call from outside.
  const verify = await w.iam.send(
    new CreateRoleCommand({
      RoleName: 'verify-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  await w.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'verify-role',
      PolicyName: 'assume',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
      }),
    }),
  );
  const trustVerify = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: verify.Role!.Arn! }, Action: 'sts:AssumeRole' }],
  });
  await w.iam.send(
    new UpdateAssumeRolePolicyCommand({ RoleName: 'probe-role', PolicyDocument: trustVerify }),
  );
  openRoleArn = (
    await w.iam.send(new CreateRoleCommand({ RoleName: 'open-role', AssumeRolePolicyDocument: trustVerify }))
  ).Role!.Arn!;
  await w.iam.send(
    new PutRolePolicyCommand({
      RoleName: 'open-role',
      PolicyName: 'bedrock',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ALL_ACTIONS, Resource: '*' }],
      }),
    }),
  );

  // The probe signs with its role (the function's environment); the outside caller's STS call
  // with the verify role, through the same environment, as each runs in its own Lambda.
  const probe = w.emu.ctx.identities.issueForRole(w.probeRoleArn, 'probe-role', 'probe', { network });
  const verifier = w.emu.ctx.identities.issueForRole(verify.Role!.Arn!, 'verify-role', 'verify');
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: w.emu.url,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: probe.accessKeyId,
    AWS_SECRET_ACCESS_KEY: probe.secretAccessKey,
    AWS_SESSION_TOKEN: probe.sessionToken,
  });
  process.env.PLV_TEST_VERIFIER = JSON.stringify(verifier);
});

afterAll(async () => {
  process.env = saved;
  await closePathWorld();
});

/** Run `fn` with the verify role's keys in the environment (the outside caller's AssumeRole). */
async function asVerifier<T>(fn: () => Promise<T>): Promise<T> {
  const v = JSON.parse(process.env.PLV_TEST_VERIFIER!);
  const before = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: v.accessKeyId,
    AWS_SECRET_ACCESS_KEY: v.secretAccessKey,
    AWS_SESSION_TOKEN: v.sessionToken,
  });
  try {
    return await fn();
  } finally {
    Object.assign(process.env, before);
  }
}

describe('the probe makes the operation the event names, from inside the VPC', () => {
  it('without an action it calls InvokeModel and reports it, the result otherwise as before', async () => {
    const r = await handler({ region: REGION, modelId: SONNET, timeoutSeconds: 3 });
    expect(r).toMatchObject({
      outcome: 'allowed',
      action: 'InvokeModel',
      httpStatus: 200,
      resolvedPrivate: true,
      modelId: SONNET,
      hostname: `bedrock-runtime.${REGION}.amazonaws.com`,
    });
    expect(Object.keys(r).sort()).toEqual(
      [
        'action',
        'at',
        'hostname',
        'httpStatus',
        'latencyMs',
        'modelId',
        'outcome',
        'resolvedAddresses',
        'resolvedPrivate',
      ].sort(),
    );
  });

  it.each(OPS)(
    '%s: allowed when the endpoint policy allows its action, else refused by the endpoint policy',
    async (action) => {
      const r = await handler({ region: REGION, modelId: SONNET, timeoutSeconds: 3, action });
      expect(r.action).toBe(action);
      if (BEDROCK_CALLS[action] === 'bedrock:InvokeModel') {
        expect(r).toMatchObject({ outcome: 'allowed', httpStatus: 200 });
        return;
      }
      expect(r).toMatchObject({
        outcome: 'not-allowed-by-endpoint-policy',
        httpStatus: 403,
        errorCode: 'AccessDeniedException',
        errorMessage: `User: arn:aws:sts::${ACCOUNT}:assumed-role/probe-role/probe is not authorized to perform: ${BEDROCK_CALLS[action]} on resource: ${SONNET_ARN} because no VPC endpoint policy allows the ${BEDROCK_CALLS[action]} action`,
      });
    },
  );

  it('a stream is read to its end: an exception inside it is the outcome of the call', async () => {
    // The endpoint must let the stream through first: open it for this case only.
    const { ModifyVpcEndpointCommand } = await import('@aws-sdk/client-ec2');
    const { waitUsable } = await import('../helpers/path-world.ts');
    await w.ec2.send(
      new ModifyVpcEndpointCommand({
        VpcEndpointId: w.vpceId,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: w.probeRoleArn }, Action: ALL_ACTIONS, Resource: '*' },
          ],
        }),
      }),
    );
    await waitUsable(w.emu, w.vpceId);
    for (const action of ['InvokeModelWithResponseStream', 'ConverseStream'] as const) {
      // The new policy propagates like any endpoint policy change: wait until it is in force.
      await eventually(
        () => handler({ region: REGION, modelId: SONNET, action }),
        (r) => r.outcome === 'allowed',
        `${action} allowed under the opened policy`,
        30_000,
      );
      w.emu.setFaults([{ kind: 'stream-error', service: 'bedrock', operation: action, times: 1 }]);
      const broken = await handler({ region: REGION, modelId: SONNET, action });
      expect(broken).toMatchObject({ outcome: 'unknown-error', errorCode: 'ModelStreamErrorException' });
      expect(broken.httpStatus).toBeUndefined();
      w.emu.setFaults([
        {
          kind: 'stream-error',
          service: 'bedrock',
          operation: action,
          code: 'ThrottlingException',
          times: 1,
        },
      ]);
      expect((await handler({ region: REGION, modelId: SONNET, action })).outcome).toBe('throttled');
    }
    w.emu.setFaults([]);
  });

  it('a name that does not resolve is a DNS failure for every operation, before any call', async () => {
    const r = await handler({
      region: REGION,
      modelId: SONNET,
      action: 'ConverseStream',
      endpointHost: 'vpce-0000000000000000-nothing.bedrock-runtime.us-east-1.vpce.amazonaws.com',
    });
    expect(r).toMatchObject({ outcome: 'dns-failure', action: 'ConverseStream' });
  });
});

describe('the outside caller makes any operation from outside the VPC', () => {
  it.each(OPS)('%s as the probe role: refused by its identity policy (no aws:SourceVpce)', async (action) => {
    const r = await asVerifier(() =>
      callOnceFromOutside({
        region: REGION,
        roleArn: w.probeRoleArn,
        modelId: SONNET,
        action,
        sessionName: 'plv-t',
      }),
    );
    expect(r).toMatchObject({ outcome: 'denied-by-identity-policy', httpStatus: 403 });
    expect((r as { evidence: string }).evidence).toContain(
      `${action} ${SONNET} → denied-by-identity-policy (HTTP 403)`,
    );
    expect((r as { evidence: string }).evidence).toContain(
      `because no identity-based policy allows the ${BEDROCK_CALLS[action]} action`,
    );
  });

  it.each(OPS)('%s as a role with no aws:SourceVpce condition: answered in full', async (action) => {
    const r = await asVerifier(() =>
      callOnceFromOutside({
        region: REGION,
        roleArn: openRoleArn,
        modelId: SONNET,
        action,
        sessionName: 'plv-t',
      }),
    );
    expect(r).toMatchObject({ outcome: 'allowed', httpStatus: 200 });
    if (action.endsWith('Stream'))
      expect((r as { evidence: string }).evidence).toMatch(/events, stream read to its end\)$/);
  });

  it('a role the caller may not assume is not called at all', async () => {
    const r = await asVerifier(() =>
      callOnceFromOutside({
        region: REGION,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/no-such-role`,
        modelId: SONNET,
        action: 'CountTokens',
        sessionName: 'plv-t',
      }),
    );
    expect(r).toHaveProperty('assumeError');
  });

  it('an operation outside the runtime calls is refused before any call', async () => {
    await expect(
      callOnceFromOutside({
        region: REGION,
        roleArn: openRoleArn,
        modelId: SONNET,
        action: 'ApplyGuardrail',
        sessionName: 'x',
      }),
    ).rejects.toThrow(/not a Bedrock runtime operation/);
  });

  it('callFromOutside keeps its InvokeModel wording and names another operation when asked for one', async () => {
    const plain = await asVerifier(() =>
      callFromOutside({ region: REGION, roleArn: w.probeRoleArn, modelId: SONNET, runId: 'r1' }),
    );
    expect(plain.result).toBe('passed');
    expect(plain.observed).toBe(
      'the same role, with the same credentials, was refused from outside the VPC by its identity policy',
    );
    expect(plain.evidence[0]).toMatch(
      /: InvokeModel anthropic\.claude-3-5-sonnet-20240620-v1:0 → denied-by-identity-policy/,
    );
    const open = await asVerifier(() =>
      callFromOutside({
        region: REGION,
        roleArn: openRoleArn,
        modelId: SONNET,
        runId: 'r1',
        action: 'ConverseStream',
      }),
    );
    expect(open.result).toBe('failed');
    expect(open.observed).toBe(
      "the probe role's credentials reached Bedrock from outside the VPC: ConverseStream succeeded without the endpoint, so the endpoint is not the only way in",
    );
  });
});
