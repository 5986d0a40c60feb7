import {
  type BedrockRuntimeClient,
  BedrockRuntimeClient as Client,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { CreatePolicyCommand, PutRolePermissionsBoundaryCommand } from '@aws-sdk/client-iam';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { explainBedrockPath } from '../../emulator/network/path.ts';
import { RUNTIME_ACTIONS } from '../../emulator/services/bedrock.ts';
import { BEDROCK_CALLS, type BedrockCall } from '../../statemachine/aws-names.ts';
import { classifyInvokeError } from '../../tasks/lib/outcomes.ts';
import { signedFetch } from '../helpers/emulator.ts';
import {
  ACCOUNT,
  build,
  CLIENT_TIMEOUT_MS,
  closePathWorld,
  expectClientTimeout,
  failure,
  MODEL,
  REGION,
} from '../helpers/path-world.ts';

/**
 * Every Bedrock runtime operation a perimeter matrix row may name walks the same network and
 * policy path as InvokeModel, authorized as its own IAM action (Bedrock Runtime API reference:
 * InvokeModelWithResponseStream "requires permissions to perform the
 * bedrock:InvokeModelWithResponseStream action"; Bedrock User Guide, Converse: Converse needs
 * bedrock:InvokeModel and ConverseStream bedrock:InvokeModelWithResponseStream; CountTokens is
 * bedrock:CountTokens, Service Authorization Reference). Refusals use IAM's AccessDenied template
 * with the refused action named twice ("... is not authorized to perform: <action> on resource:
 * <arn> because no <policy type> allows the <action> action", AWS-FACTS "Errors").
 */

const OPS = Object.keys(BEDROCK_CALLS) as BedrockCall[];
const STREAMS: BedrockCall[] = ['InvokeModelWithResponseStream', 'ConverseStream'];
/** Claude 3.5 Sonnet counts tokens (Bedrock User Guide, "Monitor your token usage by counting tokens"); Claude 3 Haiku does not. */
const SONNET = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const SONNET_ARN = `arn:aws:bedrock:${REGION}::foundation-model/${SONNET}`;
const ALL_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream', 'bedrock:CountTokens'];
const PROMPT = 'Say ok';
const ANTHROPIC_BODY = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31',
  max_tokens: 64,
  messages: [{ role: 'user', content: PROMPT }],
});
const MESSAGES = [{ role: 'user' as const, content: [{ text: PROMPT }] }];

const endpointAllowing =
  (actions: string[]) =>
  ({ probeRoleArn }: { probeRoleArn: string }) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: probeRoleArn }, Action: actions, Resource: SONNET_ARN }],
  });
const identityAllowing =
  (actions: string[]) =>
  ({ vpceId }: { vpceId: string }) => ({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: actions,
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceVpce': vpceId } },
      },
    ],
  });

const refusal = (action: string, tail: string) =>
  `User: arn:aws:sts::${ACCOUNT}:assumed-role/probe-role/probe is not authorized to perform: ${action} on resource: ${SONNET_ARN} ${tail}`;

/** One call of `op`, streams read to their end; the decoded events. */
async function call(runtime: BedrockRuntimeClient, op: BedrockCall, modelId = SONNET): Promise<any[]> {
  switch (op) {
    case 'InvokeModel': {
      const out = await runtime.send(
        new InvokeModelCommand({ modelId, contentType: 'application/json', body: ANTHROPIC_BODY }),
      );
      return [JSON.parse(new TextDecoder().decode(out.body))];
    }
    case 'Converse':
      return [await runtime.send(new ConverseCommand({ modelId, messages: MESSAGES }))];
    case 'InvokeModelWithResponseStream': {
      const out = await runtime.send(
        new InvokeModelWithResponseStreamCommand({
          modelId,
          contentType: 'application/json',
          body: ANTHROPIC_BODY,
        }),
      );
      expect(out.contentType).toBe('application/json');
      const events: any[] = [];
      for await (const e of out.body!) events.push(JSON.parse(new TextDecoder().decode(e.chunk!.bytes)));
      return events;
    }
    case 'ConverseStream': {
      const out = await runtime.send(new ConverseStreamCommand({ modelId, messages: MESSAGES }));
      const events: any[] = [];
      for await (const e of out.stream!) events.push(e);
      return events;
    }
    case 'CountTokens':
      return [
        await runtime.send(new CountTokensCommand({ modelId, input: { converse: { messages: MESSAGES } } })),
      ];
  }
}

afterAll(closePathWorld);

it('authorizes each operation as the IAM action the contract names for it', () => {
  expect(RUNTIME_ACTIONS).toEqual(BEDROCK_CALLS);
});

describe('both policies allow all three runtime actions', () => {
  let w: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    w = await build({
      endpointPolicy: endpointAllowing(ALL_ACTIONS),
      identityPolicy: identityAllowing(ALL_ACTIONS),
    });
  });
  afterAll(closePathWorld);
  afterEach(() => w.emu.setFaults([]));

  it.each(OPS)('%s is answered through the endpoint', async (op) => {
    const events = await call(w.runtime, op);
    expect(events.length).toBeGreaterThan(0);
    const d = await w.explain(SONNET);
    expect(d.outcome).toBe('allowed');
    expect(d.vpcEndpointId).toBe(w.vpceId);
  });

  it('InvokeModelWithResponseStream delivers the family chunks in order and ends; the text is what InvokeModel answers', async () => {
    const events = await call(w.runtime, 'InvokeModelWithResponseStream');
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types.filter((t) => t === 'content_block_delta').length).toBeGreaterThan(1);
    const streamed = events
      .filter((e) => e.type === 'content_block_delta')
      .map((e) => e.delta.text)
      .join('');
    const [whole] = await call(w.runtime, 'InvokeModel');
    expect(streamed).toBe(whole.content[0].text);
    expect(events.at(-1)['amazon-bedrock-invocationMetrics'].outputTokenCount).toBe(
      whole.usage.output_tokens,
    );
  });

  it('ConverseStream sends messageStart, deltas, contentBlockStop, messageStop, metadata; the text is what Converse answers', async () => {
    const events = await call(w.runtime, 'ConverseStream');
    const kinds = events.map((e) => Object.keys(e).find((k) => k !== '$unknown'));
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    const streamed = events
      .filter((e) => e.contentBlockDelta)
      .map((e) => e.contentBlockDelta.delta.text)
      .join('');
    const [whole] = await call(w.runtime, 'Converse');
    expect(streamed).toBe(whole.output.message.content[0].text);
    expect(events.at(-1).metadata.usage).toEqual(whole.usage);
    expect(events.at(-2).messageStop.stopReason).toBe('end_turn');
  });

  it('the streams are the AWS event stream encoding on the wire', async () => {
    const res = await signedFetch(
      w.emu,
      'bedrock',
      {
        path: `/model/${encodeURIComponent(SONNET)}/invoke-with-response-stream`,
        headers: { 'content-type': 'application/json' },
        body: ANTHROPIC_BODY,
      },
      w.emu.clientConfig().credentials,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    expect(res.headers.get('x-amzn-bedrock-content-type')).toBe('application/json');
    const bytes = Buffer.from(await res.arrayBuffer());
    // Prelude: total length, headers length (big-endian), then the prelude CRC.
    expect(bytes.readUInt32BE(0)).toBeLessThanOrEqual(bytes.length);
    expect(bytes.includes(Buffer.from(':event-type'))).toBe(true);
    expect(bytes.includes(Buffer.from('chunk'))).toBe(true);
  });

  it('the streams work over HTTP/2 too, the runtime client default', async () => {
    const h2 = new Client({ ...w.emu.clientConfig(REGION), maxAttempts: 1 });
    try {
      expect((await call(h2, 'ConverseStream')).length).toBeGreaterThan(3);
      expect((await call(h2, 'InvokeModelWithResponseStream')).length).toBeGreaterThan(3);
    } finally {
      h2.destroy();
    }
  });

  it('CountTokens counts the Converse and the InvokeModel forms of an input alike', async () => {
    const [converse] = await call(w.runtime, 'CountTokens');
    expect(converse.inputTokens).toBeGreaterThan(0);
    const out = await w.runtime.send(
      new CountTokensCommand({
        modelId: SONNET,
        input: { invokeModel: { body: new TextEncoder().encode(ANTHROPIC_BODY) } },
      }),
    );
    expect(out.inputTokens).toBe(converse.inputTokens);
  });

  it('CountTokens refuses a model that does not count tokens, after the policies allowed the call', async () => {
    // The policies name only SONNET: an admin caller, so the refusal is the model's, not IAM's.
    const admin = new Client({
      ...w.emu.clientConfig(REGION),
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ requestTimeout: 5000 }),
    });
    for (const modelId of [MODEL, `us.${SONNET}`]) {
      const err = await failure(call(admin, 'CountTokens', modelId));
      expect(err.name).toBe('ValidationException');
      expect(err.message).toBe("The provided model doesn't support counting tokens.");
      expect(err.$metadata.httpStatusCode).toBe(400);
    }
    admin.destroy();
  });

  it('a malformed body is refused before the stream opens, as InvokeModel refuses it', async () => {
    const err = await failure(
      w.runtime.send(
        new InvokeModelWithResponseStreamCommand({
          modelId: SONNET,
          contentType: 'application/json',
          body: JSON.stringify({ messages: [] }),
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.message).toMatch(/^Malformed input request: #: required key \[anthropic_version\] not found/);
  });

  it.each(STREAMS)('an exception inside a 200 %s ends it as an error of the call', async (op) => {
    w.emu.setFaults([{ kind: 'stream-error', service: 'bedrock', operation: op, times: 1 }]);
    const err = await failure(call(w.runtime, op));
    expect(err.name).toBe('ModelStreamErrorException');
    // Answered 200 already: no HTTP status of its own, unlike a refusal.
    expect(err.$metadata?.httpStatusCode).toBeUndefined();
    expect(classifyInvokeError(err)).toBe('unknown-error');
    w.emu.setFaults([
      { kind: 'stream-error', service: 'bedrock', operation: op, code: 'ThrottlingException', times: 1 },
    ]);
    const throttled = await failure(call(w.runtime, op));
    expect(throttled.name).toBe('ThrottlingException');
    expect(classifyInvokeError(throttled)).toBe('throttled');
    // The next call is whole again.
    expect((await call(w.runtime, op)).length).toBeGreaterThan(3);
  });

  it('outside the VPC the same role is refused every operation by its identity policy (no aws:SourceVpce)', async () => {
    const creds = w.emu.ctx.identities.issueForRole(w.probeRoleArn, 'probe-role', 'probe');
    const outside = new Client({
      ...w.emu.clientConfig(REGION),
      credentials: creds,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ requestTimeout: 5000 }),
    });
    for (const op of OPS) {
      const err = await failure(call(outside, op));
      expect(err.message).toBe(
        refusal(BEDROCK_CALLS[op], `because no identity-based policy allows the ${BEDROCK_CALLS[op]} action`),
      );
      expect(classifyInvokeError(err)).toBe('denied-by-identity-policy');
    }
    outside.destroy();
  });
});

/** Expect `op` allowed, or refused with `outcome` and IAM's text for its own action. */
async function expectRefusedUnless(
  runtime: BedrockRuntimeClient,
  op: BedrockCall,
  allowed: string[],
  outcome: string,
  tail: (action: string) => string,
) {
  const action = BEDROCK_CALLS[op];
  if (allowed.includes(action)) {
    expect((await call(runtime, op)).length).toBeGreaterThan(0);
    return;
  }
  const err = await failure(call(runtime, op));
  expect(err.name).toBe('AccessDeniedException');
  // A plain HTTP refusal before any stream opens.
  expect(err.$metadata.httpStatusCode).toBe(403);
  expect(err.message).toBe(refusal(action, tail(action)));
  expect(classifyInvokeError(err)).toBe(outcome);
}

describe('the endpoint policy allows only bedrock:InvokeModel', () => {
  let w: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    w = await build({
      endpointPolicy: endpointAllowing(['bedrock:InvokeModel']),
      identityPolicy: identityAllowing(ALL_ACTIONS),
    });
  });
  afterAll(closePathWorld);

  it.each(OPS)(
    '%s: Converse rides on InvokeModel, the streams and CountTokens are refused by the endpoint',
    async (op) => {
      await expectRefusedUnless(
        w.runtime,
        op,
        ['bedrock:InvokeModel'],
        'not-allowed-by-endpoint-policy',
        (a) => `because no VPC endpoint policy allows the ${a} action`,
      );
    },
  );

  it('the refusal is raw JSON with AccessDeniedException in x-amzn-errortype, not an event stream', async () => {
    const creds = w.emu.ctx.identities.issueForRole(w.probeRoleArn, 'probe-role', 'probe', {
      network: w.caller.network!,
    });
    for (const path of ['invoke-with-response-stream', 'converse-stream']) {
      const res = await signedFetch(
        w.emu,
        'bedrock',
        {
          path: `/model/${encodeURIComponent(SONNET)}/${path}`,
          headers: { 'content-type': 'application/json' },
          body: path === 'converse-stream' ? JSON.stringify({ messages: MESSAGES }) : ANTHROPIC_BODY,
        },
        creds,
      );
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      expect(((await res.json()) as { message: string }).message).toMatch(
        /bedrock:InvokeModelWithResponseStream action$/,
      );
    }
  });

  it('the path names the endpoint policy as the hop that refused the streaming action', async () => {
    const d = await explainBedrockPath(
      w.emu.ctx,
      w.caller,
      REGION,
      SONNET,
      undefined,
      'bedrock:InvokeModelWithResponseStream',
    );
    expect(d.outcome).toBe('access-denied');
    expect(d.decidedBy).toBe('endpoint-policy');
    expect((await w.explain(SONNET)).outcome).toBe('allowed');
  });
});

describe('the identity policy allows only bedrock:InvokeModel', () => {
  let w: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    w = await build({
      endpointPolicy: endpointAllowing(ALL_ACTIONS),
      identityPolicy: identityAllowing(['bedrock:InvokeModel']),
    });
  });
  afterAll(closePathWorld);

  it.each(OPS)(
    '%s: refused by the identity policy unless it is authorized as bedrock:InvokeModel',
    async (op) => {
      await expectRefusedUnless(
        w.runtime,
        op,
        ['bedrock:InvokeModel'],
        'denied-by-identity-policy',
        (a) => `because no identity-based policy allows the ${a} action`,
      );
    },
  );
});

describe('a permissions boundary without bedrock:CountTokens', () => {
  let w: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    w = await build({
      endpointPolicy: endpointAllowing(ALL_ACTIONS),
      identityPolicy: identityAllowing(ALL_ACTIONS),
    });
    const b = await w.iam.send(
      new CreatePolicyCommand({
        PolicyName: 'no-count-tokens',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    await w.iam.send(
      new PutRolePermissionsBoundaryCommand({ RoleName: 'probe-role', PermissionsBoundary: b.Policy!.Arn! }),
    );
  });
  afterAll(closePathWorld);

  it.each(OPS)('%s: only CountTokens is refused, by the boundary', async (op) => {
    await expectRefusedUnless(
      w.runtime,
      op,
      ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
      'denied-other',
      (a) => `because no permissions boundary allows the ${a} action`,
    );
  });
});

describe('a service control policy denying bedrock:InvokeModelWithResponseStream', () => {
  let w: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    w = await build(
      { endpointPolicy: endpointAllowing(ALL_ACTIONS), identityPolicy: identityAllowing(ALL_ACTIONS) },
      {
        world: {
          serviceControlPolicies: [
            { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
            {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Deny', Action: 'bedrock:InvokeModelWithResponseStream', Resource: '*' }],
            },
          ],
        },
      },
    );
  });
  afterAll(closePathWorld);

  it.each(OPS)('%s: the streams are refused by the SCP, the rest answered', async (op) => {
    await expectRefusedUnless(
      w.runtime,
      op,
      ['bedrock:InvokeModel', 'bedrock:CountTokens'],
      'denied-other',
      () => 'with an explicit deny in a service control policy',
    );
  });
});

describe('the network decides for every operation alike', () => {
  afterEach(closePathWorld);

  it('private DNS off, no internet route: every operation hangs until the client gives up', async () => {
    const w = await build({
      privateDns: false,
      endpointPolicy: endpointAllowing(ALL_ACTIONS),
      identityPolicy: identityAllowing(ALL_ACTIONS),
    });
    for (const op of OPS) expectClientTimeout(await failure(call(w.runtime, op)));
    expect(CLIENT_TIMEOUT_MS).toBeLessThan(1000);
  });

  it('an explicit Deny of bedrock:* in the endpoint policy refuses every operation', async () => {
    const w = await build({
      endpointPolicy: ({ probeRoleArn }) => ({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: probeRoleArn }, Action: ALL_ACTIONS, Resource: '*' },
          { Effect: 'Deny', Principal: '*', Action: 'bedrock:*', Resource: '*' },
        ],
      }),
      identityPolicy: identityAllowing(ALL_ACTIONS),
    });
    for (const op of OPS) {
      const err = await failure(call(w.runtime, op));
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(classifyInvokeError(err)).toBe('denied-by-endpoint-policy');
    }
  });
});
