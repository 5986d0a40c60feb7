import {
  BedrockClient,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
  ListFoundationModelsCommand,
  ListInferenceProfilesCommand,
} from '@aws-sdk/client-bedrock';
import { BedrockRuntimeClient, ConverseCommand, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { FOUNDATION_MODELS } from '../../emulator/network/catalog.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let runtime: BedrockRuntimeClient;
let control: BedrockClient;

beforeAll(async () => {
  emu = await startTestEmulator();
  runtime = runtimeClient();
  control = new BedrockClient(adminClientConfig(emu));
});
afterAll(() => emu.close());
afterEach(() => {
  emu.ctx.world.modelsWithoutAccess = [];
  emu.setFaults([]);
});

/**
 * BedrockRuntimeClient defaults to an HTTP/2 handler, which the emulator's HTTP/1.1 listener
 * does not speak (reported to the lead); these tests pin HTTP/1.1.
 */
function runtimeClient(credentials?: {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}) {
  return new BedrockRuntimeClient({
    ...adminClientConfig(emu),
    ...(credentials ? { credentials } : {}),
    requestHandler: new NodeHttpHandler({ requestTimeout: 5000 }),
  });
}

async function invoke(modelId: string, body: unknown, client = runtime): Promise<any> {
  const out = await client.send(
    new InvokeModelCommand({
      modelId,
      contentType: 'application/json',
      accept: 'application/json',
      body: JSON.stringify(body),
    }),
  );
  expect(out.contentType).toBe('application/json');
  return JSON.parse(new TextDecoder().decode(out.body));
}

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

describe('Bedrock control plane: the model catalog', () => {
  it('lists the foundation models of every family in a Bedrock region, with their ARNs', async () => {
    const out = await control.send(new ListFoundationModelsCommand({}));
    const ids = out.modelSummaries?.map((m) => m.modelId) ?? [];
    expect(ids).toEqual(expect.arrayContaining(FOUNDATION_MODELS.map((m) => m.modelId)));
    const haiku = out.modelSummaries?.find((m) => m.modelId === 'anthropic.claude-3-haiku-20240307-v1:0');
    expect(haiku?.modelArn).toBe(
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
    );
    expect(haiku?.providerName).toBe('Anthropic');
    expect(haiku?.modelLifecycle?.status).toBe('ACTIVE');
  });

  it('filters foundation models by provider', async () => {
    const out = await control.send(new ListFoundationModelsCommand({ byProvider: 'Amazon' }));
    expect(out.modelSummaries?.map((m) => m.modelId).sort()).toEqual([
      'amazon.nova-micro-v1:0',
      'amazon.titan-text-express-v1',
    ]);
  });

  it('gets one foundation model and rejects an unknown identifier with ValidationException', async () => {
    const out = await control.send(
      new GetFoundationModelCommand({ modelIdentifier: 'meta.llama3-8b-instruct-v1:0' }),
    );
    expect(out.modelDetails?.modelName).toBe('Llama 3 8B Instruct');
    const err = await failure(
      control.send(new GetFoundationModelCommand({ modelIdentifier: 'acme.nope-v1' })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('lists cross-region inference profiles of the caller geography with the models they route to', async () => {
    const out = await control.send(new ListInferenceProfilesCommand({}));
    const ids = out.inferenceProfileSummaries?.map((p) => p.inferenceProfileId) ?? [];
    expect(ids).toContain('us.anthropic.claude-3-haiku-20240307-v1:0');
    expect(ids.some((id) => id?.startsWith('eu.'))).toBe(false);
    const p = out.inferenceProfileSummaries?.find(
      (x) => x.inferenceProfileId === 'us.amazon.nova-micro-v1:0',
    );
    expect(p?.inferenceProfileArn).toBe(
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0',
    );
    expect(p?.models?.map((m) => m.modelArn)).toContain(
      'arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-micro-v1:0',
    );
    expect(p?.type).toBe('SYSTEM_DEFINED');

    const eu = new BedrockClient(adminClientConfig(emu, 'eu-west-1'));
    const euOut = await eu.send(new ListInferenceProfilesCommand({}));
    expect(euOut.inferenceProfileSummaries?.every((x) => x.inferenceProfileId?.startsWith('eu.'))).toBe(true);
  });

  it('gets an inference profile and answers ResourceNotFoundException for an unknown one', async () => {
    const out = await control.send(
      new GetInferenceProfileCommand({
        inferenceProfileIdentifier: 'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      }),
    );
    expect(out.status).toBe('ACTIVE');
    const err = await failure(
      control.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'us.nope' })),
    );
    expect(err.name).toBe('ResourceNotFoundException');
    expect(err.$metadata.httpStatusCode).toBe(404);
  });
});

describe('Bedrock runtime: InvokeModel in each family body format', () => {
  it('answers Anthropic messages requests with a message object', async () => {
    const out = await invoke('anthropic.claude-3-haiku-20240307-v1:0', {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 200,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hi' }] }],
    });
    expect(out.type).toBe('message');
    expect(out.role).toBe('assistant');
    expect(out.content[0].type).toBe('text');
    expect(out.content[0].text).toContain('Say hi');
    expect(out.stop_reason).toBe('end_turn');
    expect(out.usage.input_tokens).toBeGreaterThan(0);
    expect(out.usage.output_tokens).toBeGreaterThan(0);
  });

  it('gives the same answer for the same model and prompt (deterministic)', async () => {
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'ping' }],
    };
    const a = await invoke('anthropic.claude-3-5-sonnet-20240620-v1:0', body);
    const b = await invoke('anthropic.claude-3-5-sonnet-20240620-v1:0', body);
    expect(a.content).toEqual(b.content);
  });

  it('stops at max_tokens and says so', async () => {
    const out = await invoke('anthropic.claude-3-haiku-20240307-v1:0', {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 2,
      messages: [{ role: 'user', content: 'a long question please' }],
    });
    expect(out.stop_reason).toBe('max_tokens');
    expect(out.usage.output_tokens).toBe(2);
  });

  it('answers Titan text requests with inputTextTokenCount and results', async () => {
    const out = await invoke('amazon.titan-text-express-v1', {
      inputText: 'Hello Titan',
      textGenerationConfig: { maxTokenCount: 100, temperature: 0 },
    });
    expect(out.inputTextTokenCount).toBeGreaterThan(0);
    expect(out.results[0].outputText).toContain('Hello Titan');
    expect(out.results[0].completionReason).toBe('FINISH');
  });

  it('answers Nova requests with output.message and usage', async () => {
    const out = await invoke('amazon.nova-micro-v1:0', {
      schemaVersion: 'messages-v1',
      messages: [{ role: 'user', content: [{ text: 'Hello Nova' }] }],
      inferenceConfig: { max_new_tokens: 100 },
    });
    expect(out.output.message.role).toBe('assistant');
    expect(out.output.message.content[0].text).toContain('Hello Nova');
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage.totalTokens).toBe(out.usage.inputTokens + out.usage.outputTokens);
  });

  it('answers Llama, Mistral and Cohere Command R in their own formats', async () => {
    const llama = await invoke('meta.llama3-8b-instruct-v1:0', { prompt: 'Hi Llama', max_gen_len: 100 });
    expect(llama.generation).toContain('Hi Llama');
    expect(llama.stop_reason).toBe('stop');
    expect(llama.prompt_token_count).toBeGreaterThan(0);

    const mistral = await invoke('mistral.mistral-7b-instruct-v0:2', {
      prompt: '<s>[INST] Hi Mistral [/INST]',
      max_tokens: 100,
    });
    expect(mistral.outputs[0].text).toContain('Hi Mistral');
    expect(mistral.outputs[0].stop_reason).toBe('stop');

    const cohere = await invoke('cohere.command-r-v1:0', { message: 'Hi Cohere', max_tokens: 100 });
    expect(cohere.text).toContain('Hi Cohere');
    expect(cohere.finish_reason).toBe('COMPLETE');
    expect(cohere.chat_history.at(-1).role).toBe('CHATBOT');
  });

  it('accepts a cross-region inference profile id and a foundation-model ARN as modelId', async () => {
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'x' }],
    };
    expect((await invoke('us.anthropic.claude-3-haiku-20240307-v1:0', body)).type).toBe('message');
    const arn = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
    expect((await invoke(arn, body)).type).toBe('message');
  });

  it('answers Converse for any family', async () => {
    const out = await runtime.send(
      new ConverseCommand({
        modelId: 'meta.llama3-8b-instruct-v1:0',
        messages: [{ role: 'user', content: [{ text: 'Converse please' }] }],
        inferenceConfig: { maxTokens: 100 },
      }),
    );
    expect(out.output?.message?.content?.[0]?.text).toContain('Converse please');
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage?.totalTokens).toBeGreaterThan(0);
  });
});

describe('Bedrock runtime: errors as Bedrock returns them', () => {
  it('rejects a body missing required keys with "Malformed input request"', async () => {
    const err = await failure(
      invoke('anthropic.claude-3-haiku-20240307-v1:0', { messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.message).toBe(
      'Malformed input request: #: required key [anthropic_version] not found#: required key [max_tokens] not found, please reformat your input and try again.',
    );
  });

  it('rejects another family body sent to a model (extraneous keys)', async () => {
    const err = await failure(invoke('amazon.titan-text-express-v1', { prompt: 'hi' }));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain('required key [inputText] not found');
    expect(err.message).toContain('extraneous key [prompt] is not permitted');
  });

  it('rejects a body that is not JSON', async () => {
    const err = await failure(
      runtime.send(
        new InvokeModelCommand({
          modelId: 'meta.llama3-8b-instruct-v1:0',
          contentType: 'application/json',
          body: 'not json',
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe('Malformed input request, please reformat your input and try again.');
  });

  it('reads the body as JSON when contentType is left out, and rejects a non-JSON content type', async () => {
    const body = JSON.stringify({ prompt: 'no content type' });
    const out = await runtime.send(new InvokeModelCommand({ modelId: 'meta.llama3-8b-instruct-v1:0', body }));
    expect(JSON.parse(new TextDecoder().decode(out.body)).generation).toContain('no content type');
    const err = await failure(
      runtime.send(
        new InvokeModelCommand({ modelId: 'meta.llama3-8b-instruct-v1:0', contentType: 'text/plain', body }),
      ),
    );
    expect(err.name).toBe('ValidationException');
  });

  it('honours the Nova token limit in either spelling', async () => {
    for (const inferenceConfig of [{ max_new_tokens: 3 }, { maxTokens: 3 }]) {
      const out = await invoke('amazon.nova-micro-v1:0', {
        messages: [{ role: 'user', content: [{ text: 'a b c d e' }] }],
        inferenceConfig,
      });
      expect(out.stopReason).toBe('max_tokens');
      expect(out.usage.outputTokens).toBe(3);
    }
  });

  it('rejects an unknown model id with "The provided model identifier is invalid."', async () => {
    const err = await failure(invoke('acme.imaginary-v1:0', { prompt: 'x' }));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe('The provided model identifier is invalid.');
  });

  it('rejects an eu. inference profile called in a US region as an invalid identifier', async () => {
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    };
    const err = await failure(invoke('eu.anthropic.claude-3-haiku-20240307-v1:0', body));
    expect(err.name).toBe('ValidationException');
  });

  it('refuses a model without model access with AccessDeniedException (not a policy deny)', async () => {
    emu.ctx.world.modelsWithoutAccess = ['anthropic.claude-3-5-sonnet-20240620-v1:0'];
    const body = {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'x' }],
    };
    for (const id of [
      'anthropic.claude-3-5-sonnet-20240620-v1:0',
      'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
    ]) {
      const err = await failure(invoke(id, body));
      expect(err.name).toBe('AccessDeniedException');
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(err.message).toBe("You don't have access to the model with the specified model ID.");
    }
  });

  it('surfaces injected throttling as ThrottlingException 429', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'bedrock', operation: 'InvokeModel', times: 1 }]);
    const err = await failure(invoke('meta.llama3-8b-instruct-v1:0', { prompt: 'x' }));
    expect(err.name).toBe('ThrottlingException');
    expect(err.$metadata.httpStatusCode).toBe(429);
  });

  it('maps an injected ModelNotReadyException to the SDK class of that name', async () => {
    emu.setFaults([
      {
        kind: 'error',
        service: 'bedrock',
        operation: 'InvokeModel',
        code: 'ModelNotReadyException',
        status: 429,
        message: 'Model is not ready',
        times: 1,
      },
    ]);
    const err = await failure(invoke('meta.llama3-8b-instruct-v1:0', { prompt: 'x' }));
    expect(err.name).toBe('ModelNotReadyException');
  });

  it('refuses a role outside any VPC whose identity policies allow nothing, naming identity policies', async () => {
    const creds = emu.ctx.identities.issueForRole('arn:aws:iam::123456789012:role/nobody', 'nobody', 's1');
    const client = runtimeClient(creds);
    const err = await failure(invoke('meta.llama3-8b-instruct-v1:0', { prompt: 'x' }, client));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(
      'User: arn:aws:sts::123456789012:assumed-role/nobody/s1 is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0 because no identity-based policy allows the bedrock:InvokeModel action',
    );
  });
});
