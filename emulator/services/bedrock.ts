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
  resolveModelTarget,
} from '../network/catalog.ts';
import { EmulatedDns } from '../network/dns.ts';
import {
  complete,
  contentText,
  countTokens,
  invokeResponse,
  MalformedInput,
  parseInvokeBody,
} from '../network/model-bodies.ts';
import { explainBedrockPath, explainPath, type PathDecision } from '../network/path.ts';

/** Inference profiles were published on this date; a fixed value keeps responses stable. */
const PROFILE_CREATED = '2024-08-27T00:00:00Z';

/**
 * Amazon Bedrock: the runtime (InvokeModel, Converse) and the parts of the control plane the
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
          path: '/model/{modelId}/converse',
          operation: 'Converse',
          handler: (r, c) => this.converse(r, c),
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

  private async invokeModel(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const modelId = req.params.modelId!;
    const d = await explainBedrockPath(this.ctx, call.caller, call.region, modelId, awsHost(req));
    const refused = this.settle('InvokeModel', call, modelId, d);
    if (refused) return refused;
    const model = this.modelOf(d.target);
    const contentType = String(req.headers['content-type'] ?? 'application/json');
    // The JS SDK sends application/octet-stream when contentType is left out; Bedrock reads the body as JSON either way.
    if (!/^application\/(json|octet-stream)\b/.test(contentType)) {
      throw new AwsError(
        'ValidationException',
        `The provided content type ${contentType} is not supported.`,
        400,
      );
    }
    let body: Record<string, unknown>;
    try {
      body = parseInvokeBody(model.family, req.body);
    } catch (e) {
      if (e instanceof MalformedInput) throw new AwsError('ValidationException', e.message, 400);
      throw e;
    }
    const answer = invokeResponse(model, body, call.requestId);
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

  private async converse(req: RestRequest, call: OperationCall): Promise<RestResult> {
    const modelId = req.params.modelId!;
    const d = await explainBedrockPath(this.ctx, call.caller, call.region, modelId, awsHost(req));
    const refused = this.settle('Converse', call, modelId, d);
    if (refused) return refused;
    const model = this.modelOf(d.target);
    let input: Record<string, any>;
    try {
      input = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
    } catch {
      throw new AwsError('SerializationException', 'Could not parse the request body.', 400);
    }
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
    return {
      json: {
        output: { message: { role: 'assistant', content: [{ text: c.text }] } },
        stopReason: c.truncated ? 'max_tokens' : 'end_turn',
        usage: { inputTokens, outputTokens: c.outputTokens, totalTokens: inputTokens + c.outputTokens },
        metrics: { latencyMs: 120 },
      },
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

export { explainBedrockPath } from '../network/path.ts';
