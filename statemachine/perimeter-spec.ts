/**
 * The perimeter spec: a team's endpoint policy, workload identity policy and expected-access
 * matrix, kept in their repository (`privatelink-verify.yml`). Part of the contract: the CLI and
 * the action validate it, it travels in the execution input, and the tasks render its templates.
 * The JSON Schema editors use is generated from this module (`npm run schemas`).
 */
import * as z from 'zod';
import { AWS_REGIONS, BEDROCK_CALLS, MODEL_ID_PATTERN } from './aws-names.ts';

export const SPEC_VERSION = 1;
export const DEFAULT_SPEC_FILE = 'privatelink-verify.yml';

/** Bedrock runtime operations a matrix row may call, and the IAM action each is authorized as. */
export const SPEC_ACTIONS = BEDROCK_CALLS;
export type SpecAction = keyof typeof SPEC_ACTIONS;

/**
 * The Bedrock actions the probe permissions boundary grants (infra/probe-boundary.ts builds the
 * boundary from this list): a spec cannot ask the probe for anything else.
 */
export const PROBE_BOUNDARY_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];

export const CALLER_KEYWORDS = ['workload', 'bystander'] as const;
export const FROM_VALUES = ['vpc', 'outside'] as const;
export const PHASES = ['allow-policy', 'after-deny'] as const;
export const EXPECTED_OUTCOMES = [
  'allowed',
  'denied-by-endpoint-policy',
  'denied-by-identity-policy',
] as const;
export type ExpectedOutcome = (typeof EXPECTED_OUTCOMES)[number];

/** `each`: every model of `models`; `unlisted`: a model the spec does not name. */
export const MODEL_KEYWORDS = ['each', 'unlisted'] as const;

/** Placeholders a policy template may use; `${RoleArn:<name>}` names an extra role. */
export const PLACEHOLDERS = {
  WorkloadRoleArn: 'ARN of the probe (workload) role the run creates',
  BystanderRoleArn: 'ARN of the bystander role the run creates inside the same VPC',
  VpcEndpointId: 'id of the interface endpoint the run creates (vpce-…)',
  VpcId: 'id of the VPC the run creates',
  AccountId: 'the AWS account id',
  Region: 'the region of the run',
  Partition: 'the AWS partition (aws)',
  ModelArns: 'the Bedrock ARNs of every listed model (a whole string only: it becomes a list)',
} as const;
export type PlaceholderName = keyof typeof PLACEHOLDERS;
export const PLACEHOLDER_PATTERN = /\$\{([A-Za-z]+)(?::([A-Za-z0-9_-]+))?\}/g;

/**
 * The most a perimeter may take in an execution input: Step Functions passes at most 256 KiB of
 * state (AWS Step Functions Developer Guide, "Quotas": maximum input or result data size for a
 * task, activity or execution, 256 KiB), and the tasks' outputs need the rest.
 */
export const MAX_PERIMETER_INPUT_BYTES = 64 * 1024;

/** Extra roles a spec may declare (each becomes a role of the run, `plv-by-<run id>.x<n>`). */
export const MAX_EXTRA_ROLES = 9;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const PolicySourceSchema = z.union([
  z.strictObject({ file: z.string().min(1, 'file must name a JSON policy file') }),
  z.strictObject({ inline: z.record(z.string(), z.unknown()) }),
]);
export type PolicySource = z.infer<typeof PolicySourceSchema>;

export const ExtraRoleSchema = z.strictObject({
  name: z.string().regex(NAME, 'role name: letters, digits, "-" or "_", at most 64'),
  identityPolicy: PolicySourceSchema,
});

export const MatrixRowSchema = z.strictObject({
  name: z.string().regex(NAME, 'row name: letters, digits, "-" or "_", at most 64').optional(),
  caller: z.string().min(1).default('workload'),
  from: z.enum(FROM_VALUES).default('vpc'),
  model: z.string().min(1).default('each'),
  action: z.enum(Object.keys(SPEC_ACTIONS) as [SpecAction, ...SpecAction[]]).default('InvokeModel'),
  phase: z.enum(PHASES).default('allow-policy'),
  expect: z.enum(EXPECTED_OUTCOMES),
  tags: z.array(z.string().min(1)).default([]),
  /** Kept in the report, not run: say why. */
  skip: z.string().min(1, 'skip needs a reason').optional(),
});
export type MatrixRow = z.output<typeof MatrixRowSchema>;

export const SpecOptionsSchema = z.strictObject({
  probeIntervalSeconds: z.number().min(1).max(60).optional(),
  /** How long the Deny must keep refusing after the first refusal. */
  settleSeconds: z.number().int().min(0).max(300).optional(),
  vpcCidr: z.string().min(1).optional(),
  ttlMinutes: z.number().int().min(15).max(1440).optional(),
  verifyAllowSeconds: z.number().int().min(10).max(840).optional(),
  verifyDenySeconds: z.number().int().min(10).max(840).optional(),
});

export const PerimeterSpecSchema = z.strictObject({
  version: z.literal(SPEC_VERSION, { error: `version must be ${SPEC_VERSION}` }),
  regions: z
    .array(z.enum(AWS_REGIONS, { error: 'is not an AWS region (for example us-east-1, eu-central-1)' }))
    .min(1, 'regions must name at least one region')
    .default(['us-east-1']),
  models: z
    .array(
      z
        .string()
        .regex(
          MODEL_ID_PATTERN,
          'must be a model id (anthropic.claude-3-haiku-20240307-v1:0) or an inference profile (us.…)',
        ),
    )
    .min(1, 'models must name at least one model id or inference profile'),
  policies: z
    .strictObject({
      endpoint: PolicySourceSchema.optional(),
      identity: PolicySourceSchema.optional(),
      bystanderIdentity: PolicySourceSchema.optional(),
    })
    .default({}),
  roles: z.array(ExtraRoleSchema).max(MAX_EXTRA_ROLES, `at most ${MAX_EXTRA_ROLES} roles`).default([]),
  matrix: z.array(MatrixRowSchema).optional(),
  options: SpecOptionsSchema.default({}),
});
export type PerimeterSpecInput = z.input<typeof PerimeterSpecSchema>;
export type PerimeterSpec = z.output<typeof PerimeterSpecSchema>;

/** A policy document as a template: any JSON whose strings may hold placeholders. */
export type PolicyTemplate = Record<string, unknown>;

const INVOKE = [SPEC_ACTIONS.InvokeModel, SPEC_ACTIONS.InvokeModelWithResponseStream];

/** Today's least-privilege pair: the workload role may invoke the listed models, only through this endpoint. */
export const DEFAULT_ENDPOINT_POLICY: PolicyTemplate = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'AllowWorkloadRoleToInvokeListedModels',
      Effect: 'Allow',
      // Principal "*" narrowed by aws:PrincipalArn: AWS accepts it before the role exists.
      Principal: '*',
      Action: INVOKE,
      Resource: '${ModelArns}',
      Condition: { ArnEquals: { 'aws:PrincipalArn': '${WorkloadRoleArn}' } },
    },
  ],
};

/**
 * The workload may call Bedrock only through this endpoint. It names every model of the region
 * rather than the listed ones on purpose: the endpoint policy is what decides the model, and the
 * "unlisted model refused" row can only show that if the identity policy would allow the call.
 * The probe permissions boundary still caps it at the stack's allowedModels.
 */
export const DEFAULT_IDENTITY_POLICY: PolicyTemplate = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'InvokeOnlyThroughThisEndpoint',
      Effect: 'Allow',
      Action: INVOKE,
      Resource: [
        'arn:${Partition}:bedrock:*::foundation-model/*',
        'arn:${Partition}:bedrock:${Region}:${AccountId}:inference-profile/*',
      ],
      Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
    },
  ],
};

/** The bystander's identity policy would allow the call: only the endpoint policy can refuse it. */
export const DEFAULT_BYSTANDER_IDENTITY_POLICY: PolicyTemplate = DEFAULT_IDENTITY_POLICY;

/** The run's own flip: an explicit Deny of every action the matrix may call, so a refusal names it. */
export const DEFAULT_DENY_ENDPOINT_POLICY: PolicyTemplate = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'RunDenyOfBedrockRuntime',
      Effect: 'Deny',
      Principal: '*',
      Action: [...new Set(Object.values(SPEC_ACTIONS))],
      Resource: '*',
    },
  ],
};

/** The default matrix: the proof obligations every perimeter must meet. */
export const DEFAULT_MATRIX: MatrixRow[] = [
  { name: 'workload-in-vpc-allowed', expect: 'allowed' },
  { name: 'workload-outside-refused', from: 'outside', expect: 'denied-by-identity-policy' },
  { name: 'bystander-in-vpc-refused', caller: 'bystander', expect: 'denied-by-endpoint-policy' },
  { name: 'unlisted-model-refused', model: 'unlisted', expect: 'denied-by-endpoint-policy' },
  { name: 'run-deny-refuses', phase: 'after-deny', expect: 'denied-by-endpoint-policy' },
].map((r) => MatrixRowSchema.parse(r));

/** The values placeholders stand for in one run. */
export interface TemplateValues {
  WorkloadRoleArn: string;
  BystanderRoleArn: string;
  VpcEndpointId: string;
  VpcId: string;
  AccountId: string;
  Region: string;
  Partition: string;
  ModelArns: string[];
  /** Extra roles by spec name. */
  roleArns: Record<string, string>;
}

/**
 * Render a template: each `${Name}` in a string becomes its value; a string that is exactly
 * `${ModelArns}` becomes the list. Unknown placeholders throw (the static checks report them first).
 */
export function renderTemplate(template: unknown, values: TemplateValues): unknown {
  if (typeof template === 'string') {
    if (template === '${ModelArns}') return [...values.ModelArns];
    return template.replace(PLACEHOLDER_PATTERN, (whole, name: string, arg?: string) => {
      if (name === 'RoleArn' && arg && values.roleArns[arg]) return values.roleArns[arg];
      const v = (values as unknown as Record<string, unknown>)[name];
      if (typeof v === 'string' && !arg) return v;
      if (Array.isArray(v)) throw new Error(`${whole} stands for a list: use it as a whole string`);
      throw new Error(`unknown placeholder ${whole}`);
    });
  }
  if (Array.isArray(template)) return template.map((t) => renderTemplate(t, values));
  if (template && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderTemplate(v, values)]));
  return template;
}

/** A cross-region inference profile id starts with its geography (`us.`, `eu.`, …). */
export const INFERENCE_PROFILE_PREFIX = /^(us|eu|apac|us-gov|global)\./;

/**
 * The ARNs a policy must name for `modelId`: a cross-region inference profile is authorized on the
 * profile ARN and on the foundation-model ARN in every destination region (AWS-FACTS.md).
 */
export function modelPolicyArns(region: string, accountId: string, modelId: string): string[] {
  const m = INFERENCE_PROFILE_PREFIX.exec(modelId);
  if (!m) return [`arn:aws:bedrock:${region}::foundation-model/${modelId}`];
  return [
    `arn:aws:bedrock:${region}:${accountId}:inference-profile/${modelId}`,
    `arn:aws:bedrock:*::foundation-model/${modelId.slice(m[0].length)}`,
  ];
}

/** The ARNs one call to `modelId` from `region` is authorized against (one destination: the region itself). */
export function modelRequestArns(region: string, accountId: string, modelId: string): string[] {
  const m = INFERENCE_PROFILE_PREFIX.exec(modelId);
  if (!m) return [`arn:aws:bedrock:${region}::foundation-model/${modelId}`];
  return [
    `arn:aws:bedrock:${region}:${accountId}:inference-profile/${modelId}`,
    `arn:aws:bedrock:${region}::foundation-model/${modelId.slice(m[0].length)}`,
  ];
}

/**
 * The model a row marked `unlisted` calls: one the probe boundary allows (`allowedModels`) but the
 * spec does not name, so only the endpoint policy can refuse it. None when every allowed model is
 * listed: such a row cannot be observed and is reported so.
 */
export function unlistedModel(
  models: readonly string[],
  allowedModels: readonly string[],
): string | undefined {
  const base = (m: string) => m.replace(INFERENCE_PROFILE_PREFIX, '');
  const listed = new Set(models.map(base));
  return allowedModels.find((c) => !listed.has(base(c)));
}

/**
 * The perimeter as it travels in one region's execution input: policy files already read (a task
 * never reads the repository), the matrix made explicit. Templates stay templates: the tasks
 * render them with the ids the run creates.
 */
export const PerimeterInputSchema = z.strictObject({
  /** Where the spec came from, for the report (e.g. `privatelink-verify.yml`). */
  specFile: z.string().min(1),
  models: z.array(z.string().regex(MODEL_ID_PATTERN)).min(1),
  endpointPolicy: z.record(z.string(), z.unknown()),
  identityPolicy: z.record(z.string(), z.unknown()),
  bystanderIdentityPolicy: z.record(z.string(), z.unknown()),
  roles: z
    .array(
      z.strictObject({ name: z.string().regex(NAME), identityPolicy: z.record(z.string(), z.unknown()) }),
    )
    .max(MAX_EXTRA_ROLES),
  matrix: z.array(MatrixRowSchema).min(1),
  options: SpecOptionsSchema,
});
export type PerimeterInput = z.output<typeof PerimeterInputSchema>;
