import { EventStreamCodec } from '@smithy/core/event-streams';
import type { FoundationModel } from './catalog.ts';
import { type Completion, complete, countTokens, promptText } from './model-bodies.ts';

/**
 * What the streaming runtime calls send, and how: the AWS event stream encoding
 * (application/vnd.amazon.eventstream; framing, header types and CRCs from the Smithy codec the
 * SDK itself decodes with), the chunk bodies of InvokeModelWithResponseStream in each model
 * family's own streaming format, and the events of ConverseStream.
 */

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

/** One message of a response stream: an event of the output union, or an exception in the stream. */
export type StreamMessage =
  | { kind: 'event'; eventType: string; payload: unknown }
  | { kind: 'exception'; exceptionType: string; message: string; extra?: Record<string, unknown> };

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

/**
 * Each message carries `:message-type` (`event` or `exception`), `:event-type` or
 * `:exception-type` naming the union member, and `:content-type: application/json` (Smithy
 * "Event streams" spec; awsRestJson1 protocol). An exception in the stream ends it: the service
 * sends nothing after one.
 */
export function encodeEventStream(messages: StreamMessage[]): Buffer {
  const frames: Uint8Array[] = [];
  for (const m of messages) {
    const str = (value: string) => ({ type: 'string' as const, value });
    const headers: Record<string, { type: 'string'; value: string }> =
      m.kind === 'event'
        ? { ':message-type': str('event'), ':event-type': str(m.eventType) }
        : { ':message-type': str('exception'), ':exception-type': str(m.exceptionType) };
    headers[':content-type'] = str('application/json');
    const payload = m.kind === 'event' ? m.payload : { message: m.message, ...m.extra };
    frames.push(codec.encode({ headers, body: new Uint8Array(Buffer.from(JSON.stringify(payload))) }));
    if (m.kind === 'exception') break;
  }
  return Buffer.concat(frames);
}

/**
 * Bedrock pads stream events with a `p` member of varying length so that sizes do not give the
 * text away (seen in real ConverseStream and InvokeModelWithResponseStream events;
 * aws-amplify/amplify-backend#2453 passes it through). Clients ignore it.
 */
function padding(i: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return letters.slice(0, 4 + ((i * 7) % (letters.length - 4)));
}

/** The text in pieces of a few words, spaces kept, as a model streams it. */
export function pieces(text: string): string[] {
  const words = text.split(/(?<= )/);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += 3) out.push(words.slice(i, i + 3).join(''));
  return out.length ? out : [''];
}

/** Bedrock's own figures on the last chunk of every family (Bedrock User Guide, streaming examples). */
function invocationMetrics(c: Completion) {
  return {
    'amazon-bedrock-invocationMetrics': {
      inputTokenCount: c.inputTokens,
      outputTokenCount: c.outputTokens,
      invocationLatency: 120,
      firstByteLatency: 40,
    },
  };
}

/**
 * The decoded `bytes` of each PayloadPart, in the family's streaming format (the model providers'
 * streaming responses as Bedrock relays them: Anthropic Messages events, Titan `outputText`
 * chunks, Nova's Converse-like events, Llama `generation`, Mistral `outputs`, Cohere Command R
 * `event_type` events).
 */
export function streamChunks(
  model: FoundationModel,
  req: Record<string, unknown>,
  maxTokens: number | undefined,
  requestId: string,
): unknown[] {
  const prompt = promptText(model.family, req);
  const c = complete(model, prompt, maxTokens);
  const parts = pieces(c.text);
  const metrics = invocationMetrics(c);
  const running = (i: number) => countTokens(parts.slice(0, i + 1).join(''));
  switch (model.family) {
    case 'anthropic':
      return [
        {
          type: 'message_start',
          message: {
            id: `msg_bdrk_${requestId.replace(/-/g, '').slice(0, 24)}`,
            type: 'message',
            role: 'assistant',
            model: model.modelId.replace(/^anthropic\./, '').replace(/-v\d+:\d+$/, ''),
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: c.inputTokens, output_tokens: 1 },
          },
        },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        ...parts.map((text) => ({
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text },
        })),
        { type: 'content_block_stop', index: 0 },
        {
          type: 'message_delta',
          delta: { stop_reason: c.truncated ? 'max_tokens' : 'end_turn', stop_sequence: null },
          usage: { output_tokens: c.outputTokens },
        },
        { type: 'message_stop', ...metrics },
      ];
    case 'titan-text':
      return parts.map((outputText, i) => {
        const last = i === parts.length - 1;
        return {
          outputText,
          index: 0,
          totalOutputTextTokenCount: last ? c.outputTokens : running(i),
          completionReason: last ? (c.truncated ? 'LENGTH' : 'FINISH') : null,
          inputTextTokenCount: i === 0 ? c.inputTokens : null,
          ...(last ? metrics : {}),
        };
      });
    case 'nova':
      return [
        { messageStart: { role: 'assistant' } },
        ...parts.map((text) => ({ contentBlockDelta: { delta: { text }, contentBlockIndex: 0 } })),
        { contentBlockStop: { contentBlockIndex: 0 } },
        { messageStop: { stopReason: c.truncated ? 'max_tokens' : 'end_turn' } },
        {
          metadata: { usage: { inputTokens: c.inputTokens, outputTokens: c.outputTokens } },
          ...metrics,
        },
      ];
    case 'llama':
      return parts.map((generation, i) => {
        const last = i === parts.length - 1;
        return {
          generation,
          prompt_token_count: i === 0 ? c.inputTokens : null,
          generation_token_count: last ? c.outputTokens : running(i),
          stop_reason: last ? (c.truncated ? 'length' : 'stop') : null,
          ...(last ? metrics : {}),
        };
      });
    case 'mistral':
      return parts.map((text, i) => {
        const last = i === parts.length - 1;
        return {
          outputs: [{ text, stop_reason: last ? (c.truncated ? 'length' : 'stop') : null }],
          ...(last ? metrics : {}),
        };
      });
    case 'cohere-command-r':
      return [
        { is_finished: false, event_type: 'stream-start', generation_id: requestId },
        ...parts.map((text) => ({ is_finished: false, event_type: 'text-generation', text })),
        {
          is_finished: true,
          event_type: 'stream-end',
          finish_reason: c.truncated ? 'MAX_TOKENS' : 'COMPLETE',
          response: { response_id: requestId, text: c.text, generation_id: requestId },
          ...metrics,
        },
      ];
  }
}

/** InvokeModelWithResponseStream's events: one `chunk` (PayloadPart, base64 `bytes`) per body. */
export function chunkEvents(chunks: unknown[]): StreamMessage[] {
  return chunks.map((chunk, i) => ({
    kind: 'event',
    eventType: 'chunk',
    payload: { bytes: Buffer.from(JSON.stringify(chunk)).toString('base64'), p: padding(i) },
  }));
}

/**
 * ConverseStream's events, in the order the service sends them: messageStart, a
 * contentBlockDelta per piece, contentBlockStop, messageStop, metadata (ConverseStreamOutput in
 * the Bedrock Runtime API reference).
 */
export function converseStreamEvents(
  c: Completion,
  inputTokens: number,
  stopReason: string,
): StreamMessage[] {
  const ev = (eventType: string, payload: Record<string, unknown>, i: number): StreamMessage => ({
    kind: 'event',
    eventType,
    payload: { ...payload, p: padding(i) },
  });
  const parts = pieces(c.text);
  return [
    ev('messageStart', { role: 'assistant' }, 0),
    ...parts.map((text, i) => ev('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }, i + 1)),
    ev('contentBlockStop', { contentBlockIndex: 0 }, parts.length + 1),
    ev('messageStop', { stopReason }, parts.length + 2),
    {
      kind: 'event',
      eventType: 'metadata',
      payload: {
        usage: { inputTokens, outputTokens: c.outputTokens, totalTokens: inputTokens + c.outputTokens },
        metrics: { latencyMs: 120 },
      },
    },
  ];
}
