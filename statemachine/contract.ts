/**
 * The one contract of privatelink-verify: the execution input, what each task returns, and the
 * final report. The state machine, the tasks, the action, the CLI and the tests import it; nobody
 * re-declares these shapes.
 */
import * as z from 'zod';
import { AWS_REGIONS, BEDROCK_CALLS, MODEL_ID_PATTERN, REGION_PATTERN } from './aws-names.ts';
import { PerimeterInputSchema } from './perimeter-spec.ts';

export const SCHEMA_VERSION = 1;

/** Tag keys every resource of a run carries from creation. */
export const TAG_KEYS = {
  runId: 'privatelink-verify:run-id',
  expiresAt: 'privatelink-verify:expires-at',
  owner: 'privatelink-verify:owner',
} as const;

/**
 * Tags of a pooled network (`privatelink-verify pool create`): long-lived, never a run's, so they
 * carry no run id or expiry and no run's teardown or the sweeper deletes them.
 */
export const POOL_TAG_KEYS = {
  pool: 'privatelink-verify:pool',
  network: 'privatelink-verify:pool-network',
} as const;

/** A pool's name: lower-case letters, digits and "-" (it becomes part of group and Name tags). */
export const POOL_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,23}$/;
/** Name of a pooled network: `pool-<pool>-<n>`, what the report says the run leased. */
export const poolNetworkName = (pool: string, index: number) => `pool-${pool}-${index}`;
/**
 * The lease: a security group of this name in the pooled VPC, created with the run's tags. EC2
 * refuses a second group of the same name in one VPC, so of two runs exactly one holds it.
 */
export const LEASE_GROUP_NAME = 'plv-lease';

/** IAM path that holds every probe role, so the task roles can be scoped to it. */
export const PROBE_ROLE_PATH = '/privatelink-verify/';
export const PROBE_NAME_PREFIX = 'plv-probe-';
/**
 * The bystander role of obligation 3 (`plv-by-<run id>`, under PROBE_ROLE_PATH): another principal
 * whose identity policy would allow the run's model through the endpoint. A prefix of its own
 * keeps it within IAM's 64 characters for any run id the probe accepts, and apart from probe names.
 */
export const BYSTANDER_NAME_PREFIX = 'plv-by-';

/** Step Functions execution names: 1–80 characters; we keep to the set that is also safe in IAM and Lambda names. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;
/** Lambda names are at most 64 characters; the probe name is prefix + run id, so run ids are shorter in practice. */
export const PROBE_RUN_ID_MAX = 64 - PROBE_NAME_PREFIX.length;

/** Hex characters of the input digest an execution name ends with (see workflows-src/action/execution-name.ts). */
export const INPUT_DIGEST_LENGTH = 8;
/** A run id a person chooses: the name adds `-<digest>` and must still fit PROBE_RUN_ID_MAX. */
export const USER_RUN_ID_MAX = PROBE_RUN_ID_MAX - 1 - INPUT_DIGEST_LENGTH;

export {
  AWS_REGIONS,
  BEDROCK_CALLS,
  type BedrockCall,
  MODEL_ID_PATTERN,
  REGION_PATTERN,
} from './aws-names.ts';

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function cidrProblem(cidr: string): string | undefined {
  const m = CIDR_PATTERN.exec(cidr);
  if (!m) return `"${cidr}" is not an IPv4 CIDR block like 10.42.0.0/16`;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return `"${cidr}" has an octet above 255`;
  const prefix = Number(m[5]);
  if (prefix < 16 || prefix > 24)
    return `"${cidr}" must have a prefix between /16 and /24 (two /26+ subnets must fit)`;
  const value = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((value & ~mask) >>> 0 !== 0) return `"${cidr}" has host bits set: use the network address`;
  return undefined;
}

export const DeadlinesSchema = z.object({
  endpointAvailableSeconds: z.number().int().min(30).max(840).default(600),
  probeActiveSeconds: z.number().int().min(30).max(840).default(600),
  verifyAllowSeconds: z.number().int().min(10).max(840).default(300),
  verifyDenySeconds: z.number().int().min(10).max(840).default(600),
  /** Total time cleanup keeps trying before it reports leftovers (Lambda ENIs can take 20+ minutes). */
  cleanupSeconds: z.number().int().min(60).max(7200).default(3600),
});

export const OptionsSchema = z.object({
  /** Turn private DNS off on the endpoint: a deliberate misconfiguration the verification must catch. */
  privateDnsEnabled: z.boolean().default(true),
  /** Leave 443 out of the endpoint security group: a deliberate misconfiguration the verification must catch. */
  endpointAllows443: z.boolean().default(true),
  /** Seconds between probe invocations while verifying. */
  probeIntervalSeconds: z.number().min(1).max(60).default(5),
  /**
   * After the first refusal by the run's Deny, keep calling this long: any success or other kind
   * of refusal in the window means the Deny is not stable. Default: four polls at the default interval.
   */
  denySettleSeconds: z.number().min(0).max(300).default(20),
});

export const ExecutionInputSchema = z
  .object({
    runId: z
      .string()
      .regex(
        RUN_ID_PATTERN,
        'run id must be 1–80 characters of letters, digits, "-" or "_" (a valid execution name)',
      )
      .max(
        PROBE_RUN_ID_MAX,
        `run id must be at most ${PROBE_RUN_ID_MAX} characters (the probe function name is ${PROBE_NAME_PREFIX}<run id>)`,
      ),
    region: z
      .string()
      .regex(REGION_PATTERN, 'region must be an AWS region code such as us-east-1')
      .refine((r) => (AWS_REGIONS as readonly string[]).includes(r), {
        message: 'region is not an AWS region: check the spelling (for example us-east-1, eu-central-1)',
      }),
    modelId: z
      .string()
      .regex(
        MODEL_ID_PATTERN,
        'model id must look like anthropic.claude-3-haiku-20240307-v1:0 or us.anthropic.claude-3-haiku-20240307-v1:0',
      ),
    vpcCidr: z
      .string()
      .default('10.42.0.0/16')
      .superRefine((v, ctx) => {
        const problem = cidrProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: `vpcCidr ${problem}` });
      }),
    owner: z.string().min(1).max(128).default('privatelink-verify'),
    /** Resources left by a crashed run are deleted by the sweeper after this. */
    ttlMinutes: z.number().int().min(15).max(1440).default(180),
    deadlines: DeadlinesSchema.default(DeadlinesSchema.parse({})),
    options: OptionsSchema.default(OptionsSchema.parse({})),
    /**
     * Lease a network of this pool (`privatelink-verify pool create`) instead of building one: the
     * run still creates and deletes its own endpoint and probe. Absent: the run builds its own VPC.
     */
    pool: z
      .string()
      .regex(
        POOL_NAME_PATTERN,
        'pool must be 1–24 lower-case letters, digits or "-" (the name given to pool create)',
      )
      .optional(),
    /**
     * The team's perimeter for this region (its spec, already read and checked): the tasks write
     * its policies instead of the product's own and run its matrix. Absent: the product's own
     * least-privilege pair and proof obligations for `modelId` alone.
     */
    perimeter: PerimeterInputSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.perimeter && !v.perimeter.models.includes(v.modelId))
      ctx.addIssue({
        code: 'custom',
        path: ['modelId'],
        message: `modelId ${v.modelId} is not one of the perimeter's models (${v.perimeter.models.join(', ')})`,
      });
    // A pooled network's groups are built once by the pool: a run cannot leave 443 out of them.
    if (v.pool && !v.options.endpointAllows443)
      ctx.addIssue({
        code: 'custom',
        path: ['options', 'endpointAllows443'],
        message:
          "options.endpointAllows443=false needs a network of the run's own: it cannot be combined with pool",
      });
  });
export type ExecutionInputArgs = z.input<typeof ExecutionInputSchema>;
export type ExecutionInput = z.output<typeof ExecutionInputSchema>;

/** How a probe call ended, in the domain's words. One mapping (tasks/lib/outcomes.ts) produces these. */
export const OutcomeSchema = z.enum([
  'allowed',
  /** An explicit Deny in a VPC endpoint policy ("with an explicit deny in a VPC endpoint policy"). */
  'denied-by-endpoint-policy',
  /** The endpoint policy has no Allow for the call ("because no VPC endpoint policy allows"): not the run's Deny. */
  'not-allowed-by-endpoint-policy',
  'denied-by-identity-policy',
  'denied-other',
  'model-access-missing',
  'network-unreachable',
  'dns-failure',
  'throttled',
  'not-found',
  'invalid-request',
  'unknown-error',
]);
export type Outcome = z.infer<typeof OutcomeSchema>;

/** What the in-VPC probe reports for one call. */
export const ProbeResultSchema = z.object({
  outcome: OutcomeSchema,
  hostname: z.string(),
  resolvedAddresses: z.array(z.string()),
  /**
   * True when every resolved address is RFC 1918. Informational only: a 100.64.0.0/10 VPC is valid
   * and another endpoint's ENIs are private too, so the verdict compares with this run's ENI IPs.
   */
  resolvedPrivate: z.boolean(),
  httpStatus: z.number().optional(),
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
  modelId: z.string(),
  /** The operation called; absent in results from before the probe called anything but InvokeModel. */
  action: z.string().optional(),
  latencyMs: z.number(),
  at: z.string(),
});
export type ProbeResult = z.infer<typeof ProbeResultSchema>;

export const ProbeEventSchema = z.object({
  region: z.string(),
  modelId: z.string(),
  /** Per-call network timeout, seconds: a black-holed path must not eat the whole Lambda timeout. */
  timeoutSeconds: z.number().default(8),
  /**
   * Call this endpoint-specific DNS name instead of the service's regional name: a zonal name from
   * the endpoint's DnsEntries (`vpce-…-us-east-1a.bedrock-runtime.us-east-1.vpce.amazonaws.com`)
   * takes the call to that zone's endpoint ENI, whatever the resolver would have picked.
   */
  endpointHost: z
    .string()
    .regex(/^[a-z0-9.-]+\.amazonaws\.com$/)
    .optional(),
  /**
   * Short-lived credentials of another principal (the bystander role) to sign this one call with,
   * from inside the VPC; without them the probe signs with its own role.
   */
  credentials: z
    .object({ accessKeyId: z.string(), secretAccessKey: z.string(), sessionToken: z.string() })
    .optional(),
  /** The Bedrock runtime operation to call (a matrix row's action); the streaming ones read the stream to its end. */
  action: z
    .enum(Object.keys(BEDROCK_CALLS) as [BedrockCallName, ...BedrockCallName[]])
    .default('InvokeModel'),
});
type BedrockCallName = keyof typeof BEDROCK_CALLS;
export type ProbeEvent = z.input<typeof ProbeEventSchema>;

export const ResourceRefSchema = z.object({
  type: z.enum([
    'vpc',
    'subnet',
    'security-group',
    'vpc-endpoint',
    'network-interface',
    'lambda-function',
    'iam-role',
  ]),
  id: z.string(),
});
export type ResourceRef = z.infer<typeof ResourceRefSchema>;

/** A resource cleanup could not remove (or could not prove gone), and why, in words a person can act on. */
export const LeftoverSchema = ResourceRefSchema.extend({ reason: z.string() });
export type Leftover = z.infer<typeof LeftoverSchema>;

// ---- task outputs -------------------------------------------------------------------------

export const PreflightOutputSchema = z.object({
  serviceName: z.string(),
  availabilityZones: z.array(z.string()).length(2),
  /** ARNs the endpoint and identity policies must name (profile and foundation model for `us.` ids). */
  modelResourceArns: z.array(z.string()).min(1),
  accountId: z.string(),
  startedAt: z.string(),
  expiresAt: z.string(),
});
export type PreflightOutput = z.infer<typeof PreflightOutputSchema>;

export const NetworkOutputSchema = z.object({
  vpcId: z.string(),
  subnetIds: z.array(z.string()).length(2),
  workloadSecurityGroupId: z.string(),
  endpointSecurityGroupId: z.string(),
  /** Seconds the run waited for a VPC slot at the region's quota before its VPC was created. */
  quotaWaitSeconds: z.number().optional(),
  /** Set when the network is leased from a pool: the run must not delete it, only release the lease. */
  lease: z
    .object({
      pool: z.string(),
      /** `pool-<pool>-<n>` */
      network: z.string(),
      /** The lease group (LEASE_GROUP_NAME) the run created in the pooled VPC: deleting it releases the lease. */
      leaseGroupId: z.string(),
    })
    .optional(),
  /** What the run observed of a leased network it did not build (its security groups read back). */
  observations: z.array(z.lazy(() => ObservationSchema)).optional(),
});
export type NetworkOutput = z.infer<typeof NetworkOutputSchema>;

export const EndpointOutputSchema = z.object({
  vpcEndpointId: z.string(),
  state: z.string(),
  privateDnsEnabled: z.boolean(),
  dnsNames: z.array(z.string()),
  waitedSeconds: z.number().optional(),
  /**
   * The policy document the endpoint was created with, when it is the policy under test (not a
   * deny-all placeholder): what VerifyAllow's read-back compares with.
   */
  endpointPolicy: z.string().optional(),
});
export type EndpointOutput = z.infer<typeof EndpointOutputSchema>;

export const ProbeFunctionOutputSchema = z.object({
  functionName: z.string(),
  functionArn: z.string(),
  roleName: z.string(),
  roleArn: z.string(),
  state: z.string(),
  /** The inline identity policy CreateProbe put on the role when it created it (bound to aws:SourceVpce). */
  identityPolicyName: z.string().optional(),
  /**
   * A model the endpoint policy does not name but the probe role's identity policy (and boundary)
   * allow, so that only the endpoint policy can refuse it (obligation 3). Absent: the stack
   * allows no second model.
   */
  unlistedModelId: z.string().optional(),
  /** The bystander role CreateProbe made (obligation 3); absent when the deployment names no role that may assume it. */
  bystanderRoleName: z.string().optional(),
  bystanderRoleArn: z.string().optional(),
  /** The perimeter's extra roles (`roles:` of the spec), each created as `plv-x<n>-<run id>`. */
  extraRoles: z.array(z.object({ name: z.string(), roleName: z.string(), roleArn: z.string() })).optional(),
  waitedSeconds: z.number().optional(),
});
export type ProbeFunctionOutput = z.infer<typeof ProbeFunctionOutputSchema>;

export const CheckStatusSchema = z.enum(['passed', 'failed', 'skipped', 'could-not-verify']);

// ---- proof obligations ---------------------------------------------------------------------

/**
 * The claims a pass makes. Each is proven by an observation that would have come out differently
 * were the claim false; "could not observe" is never evidence.
 */
export const ObligationIdSchema = z.enum([
  'reached-through-this-endpoint',
  'no-other-way-out',
  'policy-in-force-is-policy-written',
  'own-deny-refuses-stably',
  'probe-role-as-written',
]);
export type ObligationId = z.infer<typeof ObligationIdSchema>;

/** The claim of each obligation, in plain words: the report's first column and the summary's material. */
export const OBLIGATION_CLAIMS: Record<ObligationId, string> = {
  'reached-through-this-endpoint':
    "Bedrock was reached through this run's endpoint in every zone: the probe's calls went to the private IPs of the endpoint's own network interfaces, and the allowed call succeeded through its interface in each of the run's Availability Zones",
  'no-other-way-out':
    "The probe role's own credentials are refused from outside the VPC, and no route leaves the run's VPC: the endpoint is the only way in",
  'policy-in-force-is-policy-written':
    'The endpoint policy decides and is the one the run wrote: inside the VPC it refused a bystander role and a model it does not name, and it read back as written before the allow phase, after the flip and at the end of the deny window',
  'own-deny-refuses-stably':
    "The run's own explicit Deny refused the call in every zone, and kept refusing there for the whole settle window",
  'probe-role-as-written':
    'The probe role has the policies and boundary the run gave it, and nothing else on it let its credentials reach Bedrock from outside the VPC',
};

/** Claims that read differently when the run carries the team's perimeter: its matrix rows are the calls. */
export const PERIMETER_CLAIMS: Partial<Record<ObligationId, string>> = {
  'policy-in-force-is-policy-written':
    "The endpoint policy decides and is the one the run wrote from the team's perimeter: inside the VPC it refused the calls the perimeter's matrix says it refuses, and it read back as written before the allow phase, after the flip and at the end of the deny window",
};

/** Order of the rows in the report. */
export const OBLIGATION_ORDER: readonly ObligationId[] = ObligationIdSchema.options;

export const ObligationResultSchema = z.enum(['passed', 'failed', 'could-not-verify']);
export type ObligationResult = z.infer<typeof ObligationResultSchema>;

/** One observation a task made toward an obligation; the report folds them into one row per obligation. */
export const ObservationSchema = z.object({
  obligation: ObligationIdSchema,
  result: ObligationResultSchema,
  /** What was observed, in plain words. */
  observed: z.string(),
  /** Raw evidence: addresses, ENI ids, error codes and messages, timelines. */
  evidence: z.array(z.string()).default([]),
  /** A finding that does not fail the obligation on its own (shown as a warning, with what it names). */
  warning: z.boolean().optional(),
});
export type Observation = z.infer<typeof ObservationSchema>;

/** A row of the report: claim · observation · result · evidence. */
export const ObligationSchema = z.object({
  id: ObligationIdSchema,
  claim: z.string(),
  result: ObligationResultSchema,
  /** The observations, in plain words: the ones that decided the result first. */
  observation: z.string(),
  /** Only the observations that decided the result: what a failure line or the summary quotes. */
  reason: z.string().default(''),
  evidence: z.array(z.string()),
  warnings: z.array(z.string()).default([]),
});
export type Obligation = z.infer<typeof ObligationSchema>;

// ---- the perimeter's matrix ----------------------------------------------------------------

export const CellResultSchema = z.enum(['passed', 'failed', 'could-not-verify', 'skipped']);
export type CellResult = z.infer<typeof CellResultSchema>;
/** The order cells are shown and folded in: failures first, then the unobserved, the passed, the skipped. */
export const CELL_RESULT_ORDER: readonly CellResult[] = ['failed', 'could-not-verify', 'passed', 'skipped'];

/**
 * One cell of the expected-access matrix as observed: a row of the spec for one model. passed:
 * the call ended as the row expects; failed: it ended as a decisive other outcome (allowed where a
 * refusal was expected, refused by a policy where allowed was); could-not-verify: not answered,
 * or refused by something that hides what the row asks about.
 */
export const MatrixCellSchema = z.object({
  /** The row's name, or `row <n>` (1-based, as in the spec). */
  row: z.string(),
  index: z.number().int(),
  caller: z.string(),
  from: z.enum(['vpc', 'outside']),
  model: z.string(),
  action: z.string(),
  phase: z.enum(['allow-policy', 'after-deny']),
  expect: z.enum(['allowed', 'denied-by-endpoint-policy', 'denied-by-identity-policy']),
  result: CellResultSchema,
  observed: OutcomeSchema.optional(),
  reason: z.string(),
  evidence: z.array(z.string()).default([]),
  tags: z.array(z.string()).default([]),
});
export type MatrixCell = z.infer<typeof MatrixCellSchema>;

export const CheckSchema = z.object({
  name: z.enum(['allow', 'deny']),
  status: CheckStatusSchema,
  /** The outcome the check needed. */
  expected: OutcomeSchema,
  /** The last outcome observed. */
  observed: OutcomeSchema.optional(),
  /** Why, in one sentence a person can act on. */
  reason: z.string(),
  attempts: z.number().int(),
  elapsedSeconds: z.number(),
  evidence: ProbeResultSchema.optional(),
  /** Outcomes seen while polling, in order, de-duplicated consecutive runs: evidence of the path taken. */
  outcomesSeen: z.array(OutcomeSchema),
  /** What this check observed toward each proof obligation. */
  observations: z.array(ObservationSchema).default([]),
  /** The perimeter's matrix cells of this check's phase, when the run carries a perimeter. */
  matrix: z.array(MatrixCellSchema).optional(),
});
export type Check = z.infer<typeof CheckSchema>;

export const FlipOutputSchema = z.object({ flippedAt: z.string(), endpointPolicy: z.string() });
export type FlipOutput = z.infer<typeof FlipOutputSchema>;

export const VerifyDenyOutputSchema = CheckSchema.extend({
  /** Seconds from the policy flip to the first refusal by the endpoint policy. */
  propagationSeconds: z.number().optional(),
  /** Seconds from the flip to the refusal after which every call in the window was refused ("refused everywhere from then on"). */
  stableAfterSeconds: z.number().optional(),
});
export type VerifyDenyOutput = z.infer<typeof VerifyDenyOutputSchema>;

export const CleanupOutputSchema = z.object({
  /** complete: the final inventory (by tag and by id) is empty and every list call answered. */
  status: z.enum(['complete', 'pending', 'incomplete']),
  attempt: z.number().int(),
  deleted: z.array(ResourceRefSchema),
  /** The final inventory: what is still there (or could not be proven gone), each with its reason. */
  remaining: z.array(LeftoverSchema),
  /** List calls that did not answer: what they would have found is unknown, so cleanup is not complete. */
  unlisted: z.array(z.string()).default([]),
  startedAt: z.string(),
  /** Cleanup stays `pending` until then even when nothing is found: a task still in flight may yet create something. */
  settleUntil: z.string().optional(),
  lastError: z.string().optional(),
});
export type CleanupOutput = z.infer<typeof CleanupOutputSchema>;

export const FailureSchema = z.object({ Error: z.string(), Cause: z.string().optional() });

export const VerdictSchema = z.enum(['pass', 'fail', 'error']);
export type Verdict = z.infer<typeof VerdictSchema>;

/**
 * What a run ends as: the verdict, except that leftovers turn a pass into `pass-with-leftovers`.
 * Every entry point (local, run, the action) exits non-zero and warns for anything but `pass`.
 */
export const RunOutcomeSchema = z.enum(['pass', 'pass-with-leftovers', 'fail', 'error']);
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

export const StageNameSchema = z.enum([
  'preflight',
  'network',
  'endpoint',
  'probe',
  'policies',
  'verify-allow',
  'flip',
  'verify-deny',
  'cleanup',
]);
export type StageName = z.infer<typeof StageNameSchema>;

/** The state document the ASL threads through: the input plus each stage's output under its own key. */
export const RunStateSchema = z.object({
  input: ExecutionInputSchema,
  preflight: PreflightOutputSchema.optional(),
  network: NetworkOutputSchema.optional(),
  provisioned: z
    .object({ endpoint: EndpointOutputSchema.optional(), probe: ProbeFunctionOutputSchema.optional() })
    .optional(),
  allow: CheckSchema.optional(),
  flip: FlipOutputSchema.optional(),
  deny: VerifyDenyOutputSchema.optional(),
  verdict: z.lazy(() => ReportSchema).optional(),
  cleanup: CleanupOutputSchema.optional(),
  failure: FailureSchema.optional(),
  /** Cleanup itself failed past its retries (the Catch on the Cleanup state). */
  cleanupFailure: FailureSchema.optional(),
});
export type RunState = z.infer<typeof RunStateSchema>;

export const ReportSchema = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  runId: z.string(),
  region: z.string(),
  modelId: z.string(),
  accountId: z.string().optional(),
  /**
   * pass: every obligation passed; fail: an observation contradicts a claim; error: the run could
   * not verify (an obligation could not be observed: throttling, 5xx, API timeouts, outages).
   */
  verdict: VerdictSchema,
  /** Built only from obligations that passed (and, otherwise, the one that did not). */
  summary: z.string(),
  /** The proof obligations, one row each: with the matrix (when there is one), what the verdict is decided from. */
  obligations: z.array(ObligationSchema).default([]),
  /** The spec the perimeter came from, when the run carried one. */
  specFile: z.string().optional(),
  /** Every cell of the perimeter's matrix, failures first; a failed cell fails the run, an unobserved one makes it `error`. */
  matrix: z.array(MatrixCellSchema).optional(),
  checks: z.array(CheckSchema),
  propagationSeconds: z.number().optional(),
  /** Seconds from the flip until every call was refused from then on. */
  stableAfterSeconds: z.number().optional(),
  /** Seconds the run queued for a VPC slot (region at its VPC quota). */
  quotaWaitSeconds: z.number().optional(),
  /** The pooled network the run leased (`pool-<pool>-<n>`), when it ran with a pool. */
  leasedNetwork: z.string().optional(),
  failure: z.object({ stage: StageNameSchema, error: z.string(), cause: z.string().optional() }).optional(),
  vpcEndpointId: z.string().optional(),
  resources: z.array(ResourceRefSchema),
  /** The verdict with leftovers folded in; absent in reports from before it existed (read as the verdict). */
  outcome: RunOutcomeSchema.optional(),
  cleanup: z.object({
    status: z.enum(['complete', 'pending', 'incomplete', 'not-started']),
    leftovers: z.array(ResourceRefSchema.extend({ reason: z.string().optional() })),
    /** List calls that did not answer during cleanup: resources of those kinds may remain unseen. */
    unlisted: z.array(z.string()).optional(),
  }),
  timings: z.object({
    startedAt: z.string(),
    verdictAt: z.string().optional(),
    finishedAt: z.string().optional(),
    totalSeconds: z.number().optional(),
  }),
  cost: z.object({
    /** Interface endpoint hours (per AZ, started hour billed whole) and state transitions, list prices in USD. */
    estimatedUsd: z.number(),
    basis: z.string(),
  }),
});
export type Report = z.infer<typeof ReportSchema>;

/**
 * Several runs' outcome (a spec's regions): the worst. fail outranks error, as within one run: an
 * observation that contradicts a claim fails the perimeter whatever else could not be observed;
 * leftovers outrank a clean pass. No run at all is error: nothing was verified.
 */
export const RUN_OUTCOME_ORDER: readonly RunOutcome[] = ['fail', 'error', 'pass-with-leftovers', 'pass'];
export function worstRunOutcome(outcomes: readonly RunOutcome[]): RunOutcome {
  if (!outcomes.length) return 'error';
  return RUN_OUTCOME_ORDER.find((o) => outcomes.includes(o)) ?? 'error';
}

/** True when the report says something may be left behind: leftovers, unanswered lists, or cleanup not finished. */
export function hasLeftovers(report: Report): boolean {
  if (report.cleanup.status === 'not-started') return false;
  return (
    report.cleanup.leftovers.length > 0 ||
    (report.cleanup.unlisted?.length ?? 0) > 0 ||
    report.cleanup.status !== 'complete'
  );
}

/** The run's outcome: a final report's verdict, with leftovers turning a pass into `pass-with-leftovers`. */
export function runOutcomeOf(report: Report): RunOutcome {
  if (report.outcome) return report.outcome;
  return report.verdict === 'pass' && hasLeftovers(report) ? 'pass-with-leftovers' : report.verdict;
}

/** Every obligation as could-not-verify, for a report written without observations (the run ended without one). */
export function unobservedObligations(why: string): Obligation[] {
  return OBLIGATION_ORDER.map((id) => ({
    id,
    claim: OBLIGATION_CLAIMS[id],
    result: 'could-not-verify' as const,
    observation: `not observed: ${why}`,
    reason: `not observed: ${why}`,
    evidence: [],
    warnings: [],
  }));
}

/** What the Report task returns: the document, and its JSON for the Fail state's Cause. */
export const ReportOutputSchema = z.object({ report: ReportSchema, reportJson: z.string() });
export type ReportOutput = z.infer<typeof ReportOutputSchema>;

/** Names of the ASL states the action and the CLI watch (the verdict is known at VerdictKnown). */
export const STATE_NAMES = {
  verdictKnown: 'VerdictKnown',
  report: 'Report',
} as const;

/** Error names the execution fails with: status alone tells verification failure from infrastructure. */
export const EXECUTION_ERRORS = {
  verificationFailed: 'PrivateLinkVerify.VerificationFailed',
  infrastructure: 'PrivateLinkVerify.InfrastructureError',
  /** The checks passed but cleanup left resources (or could not prove it left none). */
  resourcesLeft: 'PrivateLinkVerify.ResourcesLeft',
} as const;

/**
 * One field of the execution input checked by the same rule the execution input uses, so every
 * entry point (local, run, sweep, emulator, the action) refuses the same values with the same words.
 */
export function inputFieldProblem(
  field: 'runId' | 'region' | 'modelId' | 'vpcCidr' | 'pool',
  value: unknown,
): string | undefined {
  const r = ExecutionInputSchema.shape[field].safeParse(value);
  // The first reason is the one to fix; a second ("is not a region" after "is not a region code") repeats it.
  return r.success ? undefined : r.error.issues[0]?.message;
}

/** The input with defaults filled in, as canonical JSON (sorted keys): what digests and re-attach compare. */
export function canonicalInput(
  input: ExecutionInputArgs | ExecutionInput,
  opts: { withoutRunId?: boolean } = {},
): string {
  const parsed = ExecutionInputSchema.safeParse(input);
  const value: Record<string, unknown> = { ...(parsed.success ? parsed.data : (input as object)) };
  if (opts.withoutRunId) delete value.runId;
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

/** Turn a zod error into one line that says what to fix. */
export function describeInputProblem(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const where = i.path.length ? `${i.path.join('.')}: ` : '';
      return `${where}${i.message}`;
    })
    .join('; ');
}
