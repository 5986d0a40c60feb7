/**
 * One Bedrock runtime call of any operation a perimeter matrix row may name, with the smallest
 * valid request. The probe (inside the VPC) and the outside caller both make their calls here, so
 * "what InvokeModelWithResponseStream sends" is written once.
 *
 * A streaming call is read to its end: an exception inside the stream (the service answered 200,
 * then sent e.g. a modelStreamErrorException or throttlingException event) is an error of the
 * call, thrown as the SDK raises it, and so classified like any other through tasks/lib/outcomes.ts.
 */
import {
  type BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import type { BedrockCall } from '../../statemachine/aws-names.ts';

const PROMPT = 'Reply with the single word: ok';

/** The smallest valid InvokeModel body for each model family. */
export function requestBody(modelId: string): string {
  const base = modelId.replace(/^(us|eu|apac|us-gov|global)\./, '');
  if (base.startsWith('anthropic.')) {
    return JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 16,
      messages: [{ role: 'user', content: PROMPT }],
    });
  }
  if (base.startsWith('amazon.titan-text'))
    return JSON.stringify({ inputText: PROMPT, textGenerationConfig: { maxTokenCount: 16 } });
  if (base.startsWith('amazon.nova')) {
    return JSON.stringify({
      messages: [{ role: 'user', content: [{ text: PROMPT }] }],
      inferenceConfig: { maxTokens: 16 },
    });
  }
  if (base.startsWith('meta.')) return JSON.stringify({ prompt: PROMPT, max_gen_len: 16 });
  if (base.startsWith('mistral.'))
    return JSON.stringify({ prompt: `<s>[INST] ${PROMPT} [/INST]`, max_tokens: 16 });
  if (base.startsWith('cohere.command-r')) return JSON.stringify({ message: PROMPT, max_tokens: 16 });
  return JSON.stringify({ prompt: PROMPT, max_tokens: 16 });
}

/** The Converse form is the same for every model: one user turn. */
const MESSAGES = [{ role: 'user' as const, content: [{ text: PROMPT }] }];

export interface CallAnswer {
  httpStatus: number;
  /** Events read from a streaming answer, to its end. */
  events?: number;
}

/** Make one call of `action`; resolves only when the service answered it in full, else throws the SDK's error. */
export async function callBedrock(
  client: BedrockRuntimeClient,
  action: BedrockCall,
  modelId: string,
): Promise<CallAnswer> {
  switch (action) {
    case 'InvokeModel': {
      const out = await client.send(
        new InvokeModelCommand({
          modelId,
          contentType: 'application/json',
          accept: 'application/json',
          body: requestBody(modelId),
        }),
      );
      return { httpStatus: out.$metadata.httpStatusCode ?? 200 };
    }
    case 'Converse': {
      const out = await client.send(
        new ConverseCommand({ modelId, messages: MESSAGES, inferenceConfig: { maxTokens: 16 } }),
      );
      return { httpStatus: out.$metadata.httpStatusCode ?? 200 };
    }
    case 'InvokeModelWithResponseStream': {
      const out = await client.send(
        new InvokeModelWithResponseStreamCommand({
          modelId,
          contentType: 'application/json',
          accept: 'application/json',
          body: requestBody(modelId),
        }),
      );
      return { httpStatus: out.$metadata.httpStatusCode ?? 200, events: await drain(out.body) };
    }
    case 'ConverseStream': {
      const out = await client.send(
        new ConverseStreamCommand({ modelId, messages: MESSAGES, inferenceConfig: { maxTokens: 16 } }),
      );
      return { httpStatus: out.$metadata.httpStatusCode ?? 200, events: await drain(out.stream) };
    }
    case 'CountTokens': {
      // The Converse form of the input: valid for every model that counts tokens, whatever its family.
      const out = await client.send(
        new CountTokensCommand({ modelId, input: { converse: { messages: MESSAGES } } }),
      );
      return { httpStatus: out.$metadata.httpStatusCode ?? 200 };
    }
  }
}

/**
 * Read a response stream to its end. The SDK raises an exception event as the error it names
 * (ModelStreamErrorException, ThrottlingException, ...); an event that is only an exception
 * member (no known event) is raised here, so a stream never ends quietly on one.
 */
async function drain(stream: AsyncIterable<object> | undefined): Promise<number> {
  if (!stream) throw new Error('the service answered without an event stream');
  let n = 0;
  for await (const event of stream) {
    const exception = Object.entries(event).find(([k, v]) => /Exception$/.test(k) && v);
    if (exception) {
      const e = exception[1] as { message?: string };
      const name = exception[0].charAt(0).toUpperCase() + exception[0].slice(1);
      throw Object.assign(new Error(e.message ?? name), { name });
    }
    n++;
  }
  return n;
}
