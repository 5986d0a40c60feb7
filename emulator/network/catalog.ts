/**
 * The Bedrock model catalog the emulator offers: a handful of real model ids across the families
 * whose request/response bodies differ, plus system-defined cross-region inference profiles.
 */

export type ModelFamily = 'anthropic' | 'titan-text' | 'nova' | 'llama' | 'mistral' | 'cohere-command-r';

export interface FoundationModel {
  modelId: string;
  modelName: string;
  providerName: string;
  family: ModelFamily;
  inputModalities: string[];
  outputModalities: string[];
  responseStreamingSupported: boolean;
  customizationsSupported: string[];
  inferenceTypesSupported: string[];
}

export interface InferenceProfile {
  /** `us.<modelId>` / `eu.<modelId>`. */
  inferenceProfileId: string;
  inferenceProfileName: string;
  description: string;
  modelId: string;
  /** Regions the profile routes requests to. */
  destinationRegions: string[];
}

export const FOUNDATION_MODELS: readonly FoundationModel[] = [
  {
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    modelName: 'Claude 3 Haiku',
    providerName: 'Anthropic',
    family: 'anthropic',
    inputModalities: ['TEXT', 'IMAGE'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND', 'INFERENCE_PROFILE'],
  },
  {
    modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
    modelName: 'Claude 3.5 Sonnet',
    providerName: 'Anthropic',
    family: 'anthropic',
    inputModalities: ['TEXT', 'IMAGE'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND', 'INFERENCE_PROFILE'],
  },
  {
    modelId: 'amazon.titan-text-express-v1',
    modelName: 'Titan Text G1 - Express',
    providerName: 'Amazon',
    family: 'titan-text',
    inputModalities: ['TEXT'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: ['FINE_TUNING', 'CONTINUED_PRE_TRAINING'],
    inferenceTypesSupported: ['ON_DEMAND'],
  },
  {
    modelId: 'amazon.nova-micro-v1:0',
    modelName: 'Nova Micro',
    providerName: 'Amazon',
    family: 'nova',
    inputModalities: ['TEXT'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: ['FINE_TUNING', 'DISTILLATION'],
    inferenceTypesSupported: ['ON_DEMAND', 'INFERENCE_PROFILE'],
  },
  {
    modelId: 'meta.llama3-8b-instruct-v1:0',
    modelName: 'Llama 3 8B Instruct',
    providerName: 'Meta',
    family: 'llama',
    inputModalities: ['TEXT'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND'],
  },
  {
    modelId: 'mistral.mistral-7b-instruct-v0:2',
    modelName: 'Mistral 7B Instruct',
    providerName: 'Mistral AI',
    family: 'mistral',
    inputModalities: ['TEXT'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND'],
  },
  {
    modelId: 'cohere.command-r-v1:0',
    modelName: 'Command R',
    providerName: 'Cohere',
    family: 'cohere-command-r',
    inputModalities: ['TEXT'],
    outputModalities: ['TEXT'],
    responseStreamingSupported: true,
    customizationsSupported: [],
    inferenceTypesSupported: ['ON_DEMAND'],
  },
];

/** Geography prefixes of system-defined inference profiles and the regions each routes to. */
const GEOGRAPHIES: Record<string, { label: string; regions: string[] }> = {
  us: { label: 'US', regions: ['us-east-1', 'us-east-2', 'us-west-2'] },
  eu: { label: 'EU', regions: ['eu-central-1', 'eu-west-1', 'eu-west-3'] },
};

/** Models that have cross-region inference profiles (those with INFERENCE_PROFILE support). */
export const INFERENCE_PROFILES: readonly InferenceProfile[] = FOUNDATION_MODELS.filter((m) =>
  m.inferenceTypesSupported.includes('INFERENCE_PROFILE'),
).flatMap((m) =>
  Object.entries(GEOGRAPHIES).map(([prefix, geo]) => ({
    inferenceProfileId: `${prefix}.${m.modelId}`,
    inferenceProfileName: `${geo.label} ${m.modelName}`,
    description: `Routes requests to ${m.modelName} in ${geo.regions.join(', ')}.`,
    modelId: m.modelId,
    destinationRegions: geo.regions,
  })),
);

export function foundationModelArn(region: string, modelId: string): string {
  return `arn:aws:bedrock:${region}::foundation-model/${modelId}`;
}

export function inferenceProfileArn(region: string, accountId: string, profileId: string): string {
  return `arn:aws:bedrock:${region}:${accountId}:inference-profile/${profileId}`;
}

export function foundationModel(modelId: string): FoundationModel | undefined {
  return FOUNDATION_MODELS.find((m) => m.modelId === modelId);
}

/** Inference profiles callable from a region: the caller's region must be one the profile routes from. */
export function inferenceProfilesIn(region: string): InferenceProfile[] {
  return INFERENCE_PROFILES.filter((p) => p.destinationRegions.includes(region));
}

/** What a `modelId` path parameter names, as Bedrock reads it (a bare id or an ARN). */
export type ModelTarget =
  | { kind: 'foundation-model'; id: string; model: FoundationModel | undefined; resourceArns: string[] }
  | { kind: 'inference-profile'; id: string; profile: InferenceProfile | undefined; resourceArns: string[] };

/**
 * Resolve the model identifier of a runtime call to the resources IAM authorizes. For an
 * inference profile that is the profile ARN and the foundation-model ARN in every region it may
 * route to (AWS-FACTS: the policy must name both; we require every destination so a policy that
 * would fail on some routings fails always rather than sometimes).
 */
export function resolveModelTarget(
  modelIdOrArn: string,
  region: string,
  accountId: string,
  bedrockRegion: boolean,
): ModelTarget {
  let id = modelIdOrArn;
  let kind: 'foundation-model' | 'inference-profile' | undefined;
  const arn = /^arn:aws:bedrock:[^:]*:[^:]*:(foundation-model|inference-profile)\/(.+)$/.exec(modelIdOrArn);
  if (arn) {
    kind = arn[1] as 'foundation-model' | 'inference-profile';
    id = arn[2]!;
  }
  const profile = bedrockRegion
    ? inferenceProfilesIn(region).find((p) => p.inferenceProfileId === id)
    : undefined;
  const looksLikeProfile = /^(us|eu|apac|us-gov|global)\./.test(id);
  if (kind === 'inference-profile' || (kind === undefined && (profile || looksLikeProfile))) {
    const resourceArns = [inferenceProfileArn(region, accountId, id)];
    if (profile)
      resourceArns.push(...profile.destinationRegions.map((r) => foundationModelArn(r, profile.modelId)));
    return { kind: 'inference-profile', id, profile, resourceArns };
  }
  const model = bedrockRegion ? foundationModel(id) : undefined;
  return { kind: 'foundation-model', id, model, resourceArns: [foundationModelArn(region, id)] };
}
