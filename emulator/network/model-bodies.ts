import type { FoundationModel, ModelFamily } from './catalog.ts';

/**
 * InvokeModel bodies in each model family's own format. Requests are checked against the
 * family's schema the way Bedrock does (JSON-schema style "Malformed input request" messages);
 * answers are deterministic so tests can assert on them.
 */

export class MalformedInput extends Error {}

type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'string|array' | 'any';

interface FamilySchema {
  required: string[];
  properties: Record<string, JsonType>;
}

const SCHEMAS: Record<ModelFamily, FamilySchema> = {
  anthropic: {
    required: ['anthropic_version', 'max_tokens', 'messages'],
    properties: {
      anthropic_version: 'string',
      anthropic_beta: 'array',
      max_tokens: 'integer',
      messages: 'array',
      system: 'string|array',
      temperature: 'number',
      top_p: 'number',
      top_k: 'integer',
      stop_sequences: 'array',
      tools: 'array',
      tool_choice: 'object',
      metadata: 'object',
    },
  },
  'titan-text': {
    required: ['inputText'],
    properties: { inputText: 'string', textGenerationConfig: 'object' },
  },
  nova: {
    required: ['messages'],
    properties: {
      schemaVersion: 'string',
      messages: 'array',
      system: 'array',
      inferenceConfig: 'object',
      toolConfig: 'object',
    },
  },
  llama: {
    required: ['prompt'],
    properties: {
      prompt: 'string',
      temperature: 'number',
      top_p: 'number',
      max_gen_len: 'integer',
      images: 'array',
    },
  },
  mistral: {
    required: ['prompt'],
    properties: {
      prompt: 'string',
      max_tokens: 'integer',
      stop: 'array',
      temperature: 'number',
      top_p: 'number',
      top_k: 'integer',
    },
  },
  'cohere-command-r': {
    required: ['message'],
    properties: {
      message: 'string',
      chat_history: 'array',
      documents: 'array',
      search_queries_only: 'boolean',
      preamble: 'string',
      max_tokens: 'integer',
      temperature: 'number',
      p: 'number',
      k: 'number',
      prompt_truncation: 'string',
      frequency_penalty: 'number',
      presence_penalty: 'number',
      seed: 'integer',
      return_prompt: 'boolean',
      tools: 'array',
      tool_results: 'array',
      stop_sequences: 'array',
      raw_prompting: 'boolean',
    },
  },
};

const TYPE_NAMES: Record<string, string> = {
  string: 'String',
  integer: 'Integer',
  number: 'Number',
  boolean: 'Boolean',
  array: 'JSONArray',
  object: 'JSONObject',
};

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'JSONArray';
  if (v === null) return 'Null';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'BigDecimal';
  if (typeof v === 'object') return 'JSONObject';
  if (typeof v === 'string') return 'String';
  if (typeof v === 'boolean') return 'Boolean';
  return 'Unknown';
}

function matches(v: unknown, t: JsonType): boolean {
  switch (t) {
    case 'any':
      return true;
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return !!v && typeof v === 'object' && !Array.isArray(v);
    case 'string|array':
      return typeof v === 'string' || Array.isArray(v);
  }
}

const MALFORMED = 'Malformed input request';
const TAIL = ', please reformat your input and try again.';

/** Parse and check a request body; throws MalformedInput with Bedrock's message. */
export function parseInvokeBody(family: ModelFamily, body: Buffer): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedInput(`${MALFORMED}${TAIL}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new MalformedInput(`${MALFORMED}: #: expected type: JSONObject, found: ${typeOf(doc)}${TAIL}`);
  }
  const obj = doc as Record<string, unknown>;
  const schema = SCHEMAS[family];
  const problems: string[] = [];
  for (const key of schema.required) if (!(key in obj)) problems.push(`#: required key [${key}] not found`);
  for (const [key, value] of Object.entries(obj)) {
    const t = schema.properties[key];
    if (!t) problems.push(`#: extraneous key [${key}] is not permitted`);
    else if (!matches(value, t)) {
      const want = t === 'string|array' ? 'String or JSONArray' : (TYPE_NAMES[t] ?? t);
      problems.push(`#/${key}: expected type: ${want}, found: ${typeOf(value)}`);
    }
  }
  if (!problems.length) problems.push(...familyChecks(family, obj));
  if (problems.length) throw new MalformedInput(`${MALFORMED}: ${problems.join('')}${TAIL}`);
  return obj;
}

function familyChecks(family: ModelFamily, obj: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (family === 'anthropic' || family === 'nova') {
    const messages = obj.messages as unknown[];
    if (messages.length === 0) problems.push('#/messages: expected minimum item count: 1, found: 0');
    messages.forEach((m, i) => {
      if (!m || typeof m !== 'object' || Array.isArray(m)) {
        problems.push(`#/messages/${i}: expected type: JSONObject, found: ${typeOf(m)}`);
        return;
      }
      const msg = m as Record<string, unknown>;
      if (!('role' in msg)) problems.push(`#/messages/${i}: required key [role] not found`);
      else if (msg.role !== 'user' && msg.role !== 'assistant')
        problems.push(`#/messages/${i}/role: ${JSON.stringify(msg.role)} is not a valid enum value`);
      if (!('content' in msg)) problems.push(`#/messages/${i}: required key [content] not found`);
      else if (family === 'nova' ? !Array.isArray(msg.content) : !matches(msg.content, 'string|array'))
        problems.push(`#/messages/${i}/content: expected type: JSONArray, found: ${typeOf(msg.content)}`);
    });
  }
  if (family === 'anthropic' && typeof obj.max_tokens === 'number' && obj.max_tokens < 1) {
    problems.push(`#/max_tokens: ${obj.max_tokens} is not greater or equal to 1`);
  }
  return problems;
}

/** The text of the last user turn (or the prompt), whatever the family. */
export function promptText(family: ModelFamily, req: Record<string, unknown>): string {
  switch (family) {
    case 'anthropic':
    case 'nova': {
      const messages = req.messages as { role: string; content: unknown }[];
      const last = [...messages].reverse().find((m) => m.role === 'user') ?? messages[messages.length - 1];
      return contentText(last?.content);
    }
    case 'titan-text':
      return String(req.inputText);
    case 'llama':
    case 'mistral':
      return String(req.prompt);
    case 'cohere-command-r':
      return String(req.message);
  }
}

export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b) =>
      b && typeof b === 'object' && typeof (b as { text?: unknown }).text === 'string'
        ? (b as { text: string }).text
        : '',
    )
    .filter(Boolean)
    .join('\n');
}

/** Rough token count: about four characters a token, like the real tokenisers on English. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export interface Completion {
  text: string;
  inputTokens: number;
  outputTokens: number;
  /** The answer was cut at the token limit. */
  truncated: boolean;
}

/** A deterministic answer: the same model and prompt always give the same words. */
export function complete(model: FoundationModel, prompt: string, maxTokens: number | undefined): Completion {
  const trimmed = prompt.trim().replace(/\s+/g, ' ');
  const quoted = trimmed.length > 120 ? `${trimmed.slice(0, 117)}...` : trimmed;
  const full = `Hello from ${model.modelName} on the local Bedrock emulator. You said: "${quoted}". Reply ${hash(model.modelId + prompt)}.`;
  const words = full.split(' ');
  const limit = maxTokens !== undefined && maxTokens > 0 ? maxTokens : Number.POSITIVE_INFINITY;
  const truncated = words.length > limit;
  const text = truncated ? words.slice(0, limit).join(' ') : full;
  return {
    text,
    inputTokens: countTokens(prompt),
    outputTokens: truncated ? limit : countTokens(text),
    truncated,
  };
}

export function maxTokensOf(family: ModelFamily, req: Record<string, unknown>): number | undefined {
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  switch (family) {
    case 'anthropic':
    case 'mistral':
    case 'cohere-command-r':
      return n(req.max_tokens);
    case 'titan-text':
      return n((req.textGenerationConfig as Record<string, unknown> | undefined)?.maxTokenCount);
    case 'nova': {
      // Nova's own examples use both spellings.
      const cfg = req.inferenceConfig as Record<string, unknown> | undefined;
      return n(cfg?.max_new_tokens) ?? n(cfg?.maxTokens);
    }
    case 'llama':
      return n(req.max_gen_len);
  }
}

/** The response body InvokeModel returns for this family. */
export function invokeResponse(
  model: FoundationModel,
  req: Record<string, unknown>,
  requestId: string,
): unknown {
  const family = model.family;
  const prompt = promptText(family, req);
  const c = complete(model, prompt, maxTokensOf(family, req));
  switch (family) {
    case 'anthropic':
      return {
        id: `msg_bdrk_${hash(requestId)}${hash(prompt)}`,
        type: 'message',
        role: 'assistant',
        model: model.modelId.replace(/^anthropic\./, '').replace(/-v\d+:\d+$/, ''),
        content: [{ type: 'text', text: c.text }],
        stop_reason: c.truncated ? 'max_tokens' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: c.inputTokens, output_tokens: c.outputTokens },
      };
    case 'titan-text':
      return {
        inputTextTokenCount: c.inputTokens,
        results: [
          {
            tokenCount: c.outputTokens,
            outputText: c.text,
            completionReason: c.truncated ? 'LENGTH' : 'FINISH',
          },
        ],
      };
    case 'nova':
      return {
        output: { message: { content: [{ text: c.text }], role: 'assistant' } },
        stopReason: c.truncated ? 'max_tokens' : 'end_turn',
        usage: {
          inputTokens: c.inputTokens,
          outputTokens: c.outputTokens,
          totalTokens: c.inputTokens + c.outputTokens,
          cacheReadInputTokenCount: 0,
          cacheWriteInputTokenCount: 0,
        },
      };
    case 'llama':
      return {
        generation: c.text,
        prompt_token_count: c.inputTokens,
        generation_token_count: c.outputTokens,
        stop_reason: c.truncated ? 'length' : 'stop',
      };
    case 'mistral':
      return { outputs: [{ text: c.text, stop_reason: c.truncated ? 'length' : 'stop' }] };
    case 'cohere-command-r':
      return {
        response_id: requestId,
        text: c.text,
        generation_id: `${hash(prompt)}-${hash(requestId)}`,
        chat_history: [
          ...((req.chat_history as unknown[] | undefined) ?? []),
          { role: 'USER', message: prompt },
          { role: 'CHATBOT', message: c.text },
        ],
        finish_reason: c.truncated ? 'MAX_TOKENS' : 'COMPLETE',
      };
  }
}
