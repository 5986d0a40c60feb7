import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type {
  EmulatedService,
  InventoryItem,
  OperationCall,
  RestJsonApi,
  RestRequest,
  RestResult,
} from '../core/service.ts';
import {
  FOUNDATION_MODELS,
  type FoundationModel,
  foundationModelArn,
  type InferenceProfile,
  inferenceProfileArn,
  inferenceProfilesIn,
  type ModelTarget,
  resolveModelTarget,
} from '../network/catalog.ts';
import { EmulatedDns } from '../network/dns.ts';
import {
  complete,
  contentText,
  countTokens,
  invokeResponse,
  MalformedInput,
  maxTokensOf,
  parseInvokeBody,
  promptText,
} from '../network/model-bodies.ts';
import { explainBedrockPath, explainPath, type PathDecision } from '../network/path.ts';
import {
  chunkEvents,
  converseStreamEvents,
  EVENT_STREAM_CONTENT_TYPE,
  encodeEventStream,
  type StreamMessage,
  streamChunks,
} from '../network/stream-bodies.ts';

/** Inference profiles were published on this date; a fixed value keeps responses stable. */
const PROFILE_CREATED = '2024-08-27T00:00:00Z';

/**
 * The IAM action each runtime operation is authorized as (Bedrock Runtime API reference: "This
 * operation requires permissions to perform the bedrock:InvokeModelWithResponseStream action";
 * Bedrock User Guide on Converse: Converse needs bedrock:InvokeModel, ConverseStream
 * bedrock:InvokeModelWithResponseStream). The same table as statemachine/aws-names.ts
 * BEDROCK_CALLS, which the emulator does not import; test/emulator/bedrock-actions.test.ts checks
 * that they agree.
 */
export const RUNTIME_ACTIONS = {
  InvokeModel: 'bedrock:InvokeModel',
  Converse: 'bedrock:InvokeModel',
  InvokeModelWithResponseStream: 'bedrock:InvokeModelWithResponseStream',
  ConverseStream: 'bedrock:InvokeModelWithResponseStream',
  CountTokens: 'bedrock:CountTokens',
} as const;
type RuntimeOperation = keyof typeof RUNTIME_ACTIONS;

/** Models that count tokens (see countTokens below): the Claude 3.5 and later generations. */
const COUNTS_TOKENS = /^anthropic\.claude-(3-5-|3-7-|opus-4|sonnet-4|haiku-4)/;

/**
 * Amazon Bedrock: the runtime (InvokeModel, InvokeModelWithResponseStream, Converse,
 * ConverseStream, CountTokens) and the parts of the control plane the
 * product reads (foundation models, inference profiles). Both sign as `bedrock`, so one service
 * serves both. Every call walks the emulated network path first (network/path.ts).
 */
export class BedrockService implements EmulatedService {
  readonly name = 'bedrock' as const;
  readonly api: RestJsonApi;
  private readonly ctx: EmulatorContext;

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    ctx.network = new EmulatedDns(ctx);
    this.api = {
      protocol: 'rest-json',
      routes: [
        {
          method: 'POST',
          path: '/model/{modelId}/invoke',
          operation: 'InvokeModel',
          handler: (r, c) => this.invokeModel(r, c),
        },
        {
          method: 'POST',
          path: '/model/{modelId}/invoke-with-response-stream',
          operation: 'InvokeModelWithResponseStream',
          handler: (r, c) => this.invokeModelWithResponseStream(r, c),
        },
        {
          method: 'POST',
          path: '/model/{modelId}/converse',
          operation: 'Converse',
          handler: (r, c) => this.converse(r, c),
        },
        {
          method: 'POST',
          path: '/model/{modelId}/converse-stream',
          operation: 'ConverseStream',
          handler: (r, c) => this.converseStream(r, c),
        },
        {
          method: 'POST',
          path: '/model/{modelId}/count-tokens',
          operation: 'CountTokens',
          handler: (r, c) => this.countTokens(r, c),
        },
        {
          method: 'GET',
          path: '/foundation-models',
          operation: 'ListFoundationModels',
          handler: (r, c) => this.listFoundationModels(r, c),
        },
        {
          method: 'GET',
          path: '/foundation-models/{modelIdentifier}',
          operation: 'GetFoundationModel',
          handler: (r, c) => this.getFoundationModel(r, c),
        },
        {
          method: 'GET',
          path: '/inference-profiles',
          operation: 'ListInferenceProfiles',
          handler: (r, c) => this.listInferenceProfiles(r, c),
        },
        {
          method: 'GET',
          path: '/inference-profiles/{inferenceProfileIdentifier}',
          operation: 'GetInferenceProfile',
          handler: (r, c) => this.getInferenceProfile(r, c),
        },
      ],
    };
  }

  inventory(): InventoryItem[] {
    return [];
  }

  reset(): void {}

  /** Log the hop that decided, then turn a refusal into what the caller sees. */
  private settle(
    operation: string,
    call: OperationCall,
    modelId: string | undefined,
    d: PathDecision,
  ): RestResult | undefined {
    this.ctx.log({
      level: 'info',
      service: 'bedrock',
      msg: 'network and policy path',
      operation,
      caller: call.caller.sessionArn,
      region: call.region,
      ...(modelId ? { modelId } : {}),
      outcome: d.outcome,
      decidedBy: d.decidedBy,
      via: d.via,
      ...(d.vpcEndpointId ? { vpcEndpointId: d.vpcEndpointId } : {}),
      ...(d.zone ? { zone: d.zone } : {}),
      hops: d.hops,
    });
    switch (d.outcome) {
      case 'allowed':
        return undefined;
      // Without a DNS answer the client never connects: close at once so it fails like ENOTFOUND, not a timeout.
      case 'dns-failure':
        return { holdMs: 0 };
      // The router holds the socket; the SDK's own timeout ends the call, as against AWS.
      case 'black-hole':
        return { holdMs: this.ctx.delay('blackholeHold') };
      default: {
        const e = d.error ?? { code: 'AccessDeniedException', message: 'Access denied', status: 403 };
        throw new AwsError(e.code, e.message, e.status);
      }
    }
  }

  /**
   * The network and policy path of a runtime call, authorized as the operation's own IAM action;
   * the model the call reaches, or what the caller sees instead (a refusal throws).
   */
  private async runtimePath(
    operation: RuntimeOperation,
    req: RestRequest,
    call: OperationCall,
  ): Promise<{ model: FoundationModel; target: ModelTarget } | { refused: RestResult }> {
    const modelId = req.params.modelId!;
    const d = await explainBedrockPath(
      this.ctx,
      call.caller,
      call.region,
      modelId,
      awsHost(req),
      RUNTIME_ACTIONS[operation],
    );
    const refused = this.settle(operation, call, modelId, d);
    if (refused) return { refused };
    return { model: this.modelOf(d.target), target: d.target };
  }

  private async invokeModel(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const p = await this.runtimePath('InvokeModel', req, call);
    if ('refused' in p) return p.refused;
    const body = invokeBody(p.model, req);
    const answer = invokeResponse(p.model, body, call.requestId);
    const usage = usageOf(answer);
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-amzn-bedrock-input-token-count': String(usage.input),
        'x-amzn-bedrock-output-token-count': String(usage.output),
        'x-amzn-bedrock-invocation-latency': '120',
      },
      raw: JSON.stringify(answer),
    };
  }

  /**
   * The body's checks come before the stream, as InvokeModel's do: a refusal or a malformed body
   * is a plain HTTP error, and only a call that will be answered opens the event stream
   * (content type application/vnd.amazon.eventstream; the model's own content type in
   * X-Amzn-Bedrock-Content-Type, InvokeModelWithResponseStream in the Bedrock Runtime API reference).
   */
  private async invokeModelWithResponseStream(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const p = await this.runtimePath('InvokeModelWithResponseStream', req, call);
    if ('refused' in p) return p.refused;
    const body = invokeBody(p.model, req);
    const chunks = streamChunks(p.model, body, maxTokensOf(p.model.family, body), call.requestId);
    return this.stream('InvokeModelWithResponseStream', chunkEvents(chunks), {
      'x-amzn-bedrock-content-type': 'application/json',
    });
  }

  private async converse(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const p = await this.runtimePath('Converse', req, call);
    if ('refused' in p) return p.refused;
    const { c, inputTokens } = this.conversation(p.model, req);
    return {
      json: {
        output: { message: { role: 'assistant', content: [{ text: c.text }] } },
        stopReason: c.truncated ? 'max_tokens' : 'end_turn',
        usage: { inputTokens, outputTokens: c.outputTokens, totalTokens: inputTokens + c.outputTokens },
        metrics: { latencyMs: 120 },
      },
    };
  }

  private async converseStream(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const p = await this.runtimePath('ConverseStream', req, call);
    if ('refused' in p) return p.refused;
    const { c, inputTokens } = this.conversation(p.model, req);
    return this.stream(
      'ConverseStream',
      converseStreamEvents(c, inputTokens, c.truncated ? 'max_tokens' : 'end_turn'),
    );
  }

  /**
   * CountTokens: `{ input: { invokeModel: { body } } | { converse: { messages, system } } }` →
   * `{ inputTokens }` (CountTokens in the Bedrock Runtime API reference). Only some models count
   * tokens (Bedrock User Guide, "Monitor your token usage by counting tokens before running
   * inference": Claude 3.5 Haiku, 3.5 Sonnet and v2, 3.7 Sonnet, Opus 4, Sonnet 4); others, and
   * inference profile ids, are refused with ValidationException "The provided model doesn't
   * support counting tokens." (the service's text as quoted in alchemy.run's Bedrock CountTokens page).
   */
  private async countTokens(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const p = await this.runtimePath('CountTokens', req, call);
    if ('refused' in p) return p.refused;
    if (p.target.kind !== 'foundation-model' || !COUNTS_TOKENS.test(p.model.modelId)) {
      throw new AwsError('ValidationException', "The provided model doesn't support counting tokens.", 400);
    }
    const input = jsonBody(req).input as Record<string, any> | undefined;
    const members = input && typeof input === 'object' ? Object.keys(input) : [];
    if (members.length !== 1) {
      // A union takes exactly one member (Smithy); Coral's validation wording.
      throw new AwsError(
        'ValidationException',
        members.length === 0
          ? "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null"
          : 'Only one member of the input union may be set.',
        400,
      );
    }
    if (input!.invokeModel) {
      const raw = Buffer.from(String(input!.invokeModel.body ?? ''), 'base64');
      const body = parseOrRefuse(p.model, raw);
      return { json: { inputTokens: countTokens(promptText(p.model.family, body)) } };
    }
    if (input!.converse) {
      const { inputTokens } = conversationOf(p.model, input!.converse);
      return { json: { inputTokens } };
    }
    throw new AwsError('ValidationException', 'The provided input is not supported.', 400);
  }

  /** Converse and ConverseStream read the same request. */
  private conversation(model: FoundationModel, req: RestRequest) {
    return conversationOf(model, jsonBody(req));
  }

  /** A 200 event stream; a `stream-error` fault puts an exception in it after the first event. */
  private stream(
    operation: string,
    events: StreamMessage[],
    headers: Record<string, string> = {},
  ): RestResult {
    const fault = this.ctx.faults.take('stream-error', 'bedrock', operation);
    const messages: StreamMessage[] = fault
      ? [
          events[0]!,
          {
            kind: 'exception',
            exceptionType: unionMember(fault.code ?? 'ModelStreamErrorException'),
            message: fault.message ?? 'The model stream was interrupted. Try your request again.',
            ...(fault.status !== undefined ? { extra: { originalStatusCode: fault.status } } : {}),
          },
        ]
      : events;
    return {
      status: 200,
      headers: { 'content-type': EVENT_STREAM_CONTENT_TYPE, ...headers },
      raw: encodeEventStream(messages),
    };
  }

  private modelOf(target: Awaited<ReturnType<typeof explainBedrockPath>>['target']): FoundationModel {
    const id = target.kind === 'foundation-model' ? target.model?.modelId : target.profile?.modelId;
    const model = FOUNDATION_MODELS.find((m) => m.modelId === id);
    if (!model) throw new AwsError('ValidationException', 'The provided model identifier is invalid.', 400);
    return model;
  }

  /** Control-plane calls walk the same path, to the `bedrock` endpoint service. */
  private async controlPlane(
    operation: string,
    call: OperationCall,
    resources: string[],
  ): Promise<RestResult | undefined> {
    const d = await explainPath(this.ctx, call.caller, call.region, {
      endpointService: 'bedrock',
      action: `bedrock:${operation}`,
      resources,
    });
    return this.settle(operation, call, undefined, d);
  }

  private async listFoundationModels(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const refused = await this.controlPlane('ListFoundationModels', call, ['*']);
    if (refused) return refused;
    const q = req.query;
    const provider = q.get('byProvider')?.toLowerCase();
    const output = q.get('byOutputModality');
    const inference = q.get('byInferenceType');
    const customization = q.get('byCustomizationType');
    const models = FOUNDATION_MODELS.filter(
      (m) =>
        (!provider || m.providerName.toLowerCase() === provider || m.modelId.startsWith(`${provider}.`)) &&
        (!output || m.outputModalities.includes(output)) &&
        (!inference || m.inferenceTypesSupported.includes(inference)) &&
        (!customization || m.customizationsSupported.includes(customization)),
    );
    return { json: { modelSummaries: models.map((m) => this.modelSummary(m, call.region)) } };
  }

  private async getFoundationModel(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const ident = req.params.modelIdentifier!;
    const target = resolveModelTarget(
      ident,
      call.region,
      this.ctx.accountId,
      this.ctx.isBedrockRegion(call.region),
    );
    const refused = await this.controlPlane('GetFoundationModel', call, [
      foundationModelArn(call.region, target.id),
    ]);
    if (refused) return refused;
    if (target.kind !== 'foundation-model' || !target.model) {
      throw new AwsError('ValidationException', 'The provided model identifier is invalid.', 400);
    }
    return { json: { modelDetails: this.modelSummary(target.model, call.region) } };
  }

  private async listInferenceProfiles(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const refused = await this.controlPlane('ListInferenceProfiles', call, ['*']);
    if (refused) return refused;
    const type = req.query.get('type');
    const all = type === 'APPLICATION' ? [] : inferenceProfilesIn(call.region);
    const start = Number(req.query.get('nextToken') ?? 0) || 0;
    const max = Math.min(Number(req.query.get('maxResults') ?? 1000) || 1000, 1000);
    const page = all.slice(start, start + max);
    const next = start + max < all.length ? String(start + max) : undefined;
    return {
      json: {
        inferenceProfileSummaries: page.map((p) => this.profileSummary(p, call.region)),
        ...(next ? { nextToken: next } : {}),
      },
    };
  }

  private async getInferenceProfile(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const ident = req.params.inferenceProfileIdentifier!;
    const id = ident.replace(/^arn:aws:bedrock:[^:]*:[^:]*:inference-profile\//, '');
    const refused = await this.controlPlane('GetInferenceProfile', call, [
      inferenceProfileArn(call.region, this.ctx.accountId, id),
    ]);
    if (refused) return refused;
    const profile = this.ctx.isBedrockRegion(call.region)
      ? inferenceProfilesIn(call.region).find((p) => p.inferenceProfileId === id)
      : undefined;
    if (!profile) {
      throw new AwsError('ResourceNotFoundException', `Inference profile ${ident} does not exist.`, 404);
    }
    return { json: this.profileSummary(profile, call.region) };
  }

  private modelSummary(m: FoundationModel, region: string) {
    return {
      modelArn: foundationModelArn(region, m.modelId),
      modelId: m.modelId,
      modelName: m.modelName,
      providerName: m.providerName,
      inputModalities: m.inputModalities,
      outputModalities: m.outputModalities,
      responseStreamingSupported: m.responseStreamingSupported,
      customizationsSupported: m.customizationsSupported,
      inferenceTypesSupported: m.inferenceTypesSupported,
      modelLifecycle: { status: 'ACTIVE' },
    };
  }

  private profileSummary(p: InferenceProfile, region: string) {
    return {
      inferenceProfileName: p.inferenceProfileName,
      description: p.description,
      createdAt: PROFILE_CREATED,
      updatedAt: PROFILE_CREATED,
      inferenceProfileArn: inferenceProfileArn(region, this.ctx.accountId, p.inferenceProfileId),
      models: p.destinationRegions.map((r) => ({ modelArn: foundationModelArn(r, p.modelId) })),
      inferenceProfileId: p.inferenceProfileId,
      status: 'ACTIVE',
      type: 'SYSTEM_DEFINED',
    };
  }
}

/**
 * The AWS name the client connected to, from the request's Host (signed by SigV4): an
 * endpoint-specific name such as the zonal `vpce-…-us-east-1a.bedrock-runtime.us-east-1.vpce.amazonaws.com`
 * takes the call to that zone's endpoint ENI. A request addressed to the emulator itself (the
 * AWS_ENDPOINT_URL convention) stands for the service's regional name.
 */
function awsHost(req: RestRequest): string | undefined {
  const host = String(req.headers.host ?? '')
    .toLowerCase()
    .replace(/:\d+$/, '');
  return /\.amazonaws\.com$/.test(host) ? host : undefined;
}

/** Token counts for the response headers, read back from whichever family's body. */
function usageOf(answer: any): { input: number; output: number } {
  if (answer?.usage?.input_tokens !== undefined)
    return { input: answer.usage.input_tokens, output: answer.usage.output_tokens };
  if (answer?.usage?.inputTokens !== undefined)
    return { input: answer.usage.inputTokens, output: answer.usage.outputTokens };
  if (answer?.inputTextTokenCount !== undefined)
    return { input: answer.inputTextTokenCount, output: answer.results?.[0]?.tokenCount ?? 0 };
  if (answer?.prompt_token_count !== undefined)
    return { input: answer.prompt_token_count, output: answer.generation_token_count };
  return { input: 0, output: 0 };
}

/** An InvokeModel-style body: the content type the caller declared, then the family's schema. */
function invokeBody(model: FoundationModel, req: RestRequest): Record<string, unknown> {
  const contentType = String(req.headers['content-type'] ?? 'application/json');
  // The JS SDK sends application/octet-stream when contentType is left out; Bedrock reads the body as JSON either way.
  if (!/^application\/(json|octet-stream)\b/.test(contentType)) {
    throw new AwsError(
      'ValidationException',
      `The provided content type ${contentType} is not supported.`,
      400,
    );
  }
  return parseOrRefuse(model, req.body);
}

function parseOrRefuse(model: FoundationModel, body: Buffer): Record<string, unknown> {
  try {
    return parseInvokeBody(model.family, body);
  } catch (e) {
    if (e instanceof MalformedInput) throw new AwsError('ValidationException', e.message, 400);
    throw e;
  }
}

function jsonBody(req: RestRequest): Record<string, any> {
  try {
    return req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
  } catch {
    throw new AwsError('SerializationException', 'Could not parse the request body.', 400);
  }
}

/** The Converse request's messages checked as Bedrock checks them, and the model's answer. */
function conversationOf(model: FoundationModel, input: Record<string, any>) {
  const messages: { role?: string; content?: unknown }[] = Array.isArray(input.messages)
    ? input.messages
    : [];
  if (messages.length === 0 || messages[0]?.role !== 'user') {
    throw new AwsError(
      'ValidationException',
      'A conversation must start with a user message. Try again with a conversation that starts with a user message.',
      400,
    );
  }
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const prompt = contentText(lastUser?.content);
  const maxTokens =
    typeof input.inferenceConfig?.maxTokens === 'number' ? input.inferenceConfig.maxTokens : undefined;
  const c = complete(model, prompt, maxTokens);
  const inputTokens = countTokens(messages.map((m) => contentText(m.content)).join('\n'));
  return { c, inputTokens };
}

/** `ModelStreamErrorException` → `modelStreamErrorException`: the member of the stream's union. */
function unionMember(errorName: string): string {
  return errorName.charAt(0).toLowerCase() + errorName.slice(1);
}

export { explainBedrockPath } from '../network/path.ts';
