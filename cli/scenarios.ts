/**
 * The scenario library for `privatelink-verify local --scenario` and the end-to-end tests: worlds
 * where the run's claims are false (tampered), worlds where AWS does not answer (the verdict must
 * be `error`, never a perimeter `fail`), and correct worlds that look unusual (they must pass).
 * A world is emulator settings (world, faults: applied through POST /_emulator/config, as any
 * client would) and the execution input; each names the verdict, the obligation that decides it
 * and the reason a person would read.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Automation } from '../emulator/core/automations.ts';
import type { World } from '../emulator/core/context.ts';
import type { FaultRule } from '../emulator/core/faults.ts';
import type { Emulator } from '../emulator/emulator.ts';
import {
  BYSTANDER_NAME_PREFIX,
  type ExecutionInputArgs,
  type ObligationId,
  type ObligationResult,
  PROBE_ROLE_PATH,
  type Verdict,
} from '../statemachine/contract.ts';
import type { PoolNetwork } from '../tasks/lib/pool.ts';
import { POOL_SCENARIOS } from './pool-scenarios.ts';

export interface ScenarioExpectation {
  verdict: Verdict;
  /** The obligation whose row decides the verdict (absent for pass, and for errors before any observation). */
  obligation?: ObligationId;
  result?: Exclude<ObligationResult, 'passed'>;
  /** What that row's observation (or the report's summary) must say. */
  reason?: RegExp;
  /** "Refused everywhere from then on" comes at least this many seconds after the first refusal. */
  everywhereAfterFirstBySeconds?: number;
}

export interface Scenario {
  name: string;
  description: string;
  kind: 'correct' | 'tampered' | 'unobservable';
  expect: ScenarioExpectation;
  input?: Partial<Pick<ExecutionInputArgs, 'options' | 'vpcCidr' | 'modelId' | 'deadlines'>>;
  /** Deployment settings (the CDK context a user would set). */
  deploy?: {
    vpcCidrPool?: string[];
    /** allowedModels names only the run's model: no second model for the unlisted-model call. */
    singleModel?: boolean;
  };
  /** For a passing world: what a row's warnings must say (a finding that did not fail it). */
  warning?: { obligation: ObligationId; text: RegExp };
  world?: Partial<World>;
  faults?: FaultRule[];
  /** The run leases from a pool the local command creates first (cli/pool-scenarios.ts). */
  pool?: {
    size?: number;
    /** Change the pooled network after the pool built it, as someone with access to the account might. */
    tamper?: (ec2: EC2Client, networks: PoolNetwork[]) => Promise<void>;
  };
}

const BEDROCK_EVERYTHING = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'Wider', Effect: 'Allow', Action: 'bedrock:*', Resource: '*' }],
});

const automations = (...a: Automation[]): Partial<World> => ({ automations: a });

const list: Scenario[] = [
  // ---- correct worlds: must pass ----------------------------------------------------------
  {
    name: 'correct',
    description: 'everything set up right: every obligation is observed and holds',
    kind: 'correct',
    expect: { verdict: 'pass' },
  },
  {
    name: 'cgnat-cidr',
    description: 'the run VPC is in 100.64.0.0/16 (not RFC 1918): valid, and must pass when set up right',
    kind: 'correct',
    expect: { verdict: 'pass' },
    input: { vpcCidr: '100.64.0.0/16' },
    deploy: { vpcCidrPool: ['100.64.0.0/16'] },
  },
  {
    name: 'inference-profile',
    description:
      'the model is called through a cross-region inference profile (us.…): profile and model ARNs',
    kind: 'correct',
    expect: { verdict: 'pass' },
    input: { modelId: 'us.anthropic.claude-3-haiku-20240307-v1:0' },
  },
  {
    name: 'zone-lag',
    description:
      'every endpoint-policy change reaches the ENI in us-east-1b 40 s after the one in us-east-1a: the Deny is proven in each zone, first refusal and "refused everywhere" differ',
    kind: 'correct',
    // Polls are 5 s apart: zone b's first refusal is seen within one interval of its lag.
    expect: { verdict: 'pass', everywhereAfterFirstBySeconds: 35 },
    world: { zonePolicyLagSeconds: { 'us-east-1b': 40 } },
  },
  {
    name: 'slow-propagation',
    description: 'every endpoint-policy change takes 250 s to reach traffic, near the 300 s deadlines',
    kind: 'correct',
    expect: { verdict: 'pass' },
    input: { deadlines: { verifyAllowSeconds: 300, verifyDenySeconds: 300 } },
    world: { endpointPolicyPropagationSeconds: 250 },
  },

  // ---- obligation 1: through this run's endpoint -----------------------------------------
  {
    name: 'private-dns-off',
    description:
      "the endpoint's private DNS is off: the host name resolves to public addresses with no route",
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      reason: /never succeeded: the call never reached Bedrock/,
    },
    input: { options: { privateDnsEnabled: false } },
  },
  {
    name: 'sg-blocks-443',
    description: 'the endpoint security group does not admit 443 from the probe',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      reason: /connection timed out/,
    },
    input: { options: { endpointAllows443: false } },
  },
  {
    name: 'model-access-missing',
    description: 'the account has no access to the model: a 403 that is not a policy deny',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      reason: /no access to this model/,
    },
    world: { modelsWithoutAccess: ['anthropic.claude-3-haiku-20240307-v1:0'] },
  },

  {
    name: 'endpoint-one-zone',
    // The regional name still resolves (to the one ENI left) and the call through it succeeds:
    // only the zone-by-zone proof sees the zone with no ENI.
    description:
      'a script cuts every new endpoint back to its first subnet: the allowed call works in us-east-1a only, the endpoint has no ENI in us-east-1b',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'reached-through-this-endpoint',
      result: 'failed',
      reason: /not in every zone: vpce-\S+ has no network interface in us-east-1b/,
    },
    world: automations({ kind: 'endpoint-in-first-subnet-only' }),
  },

  // ---- obligation 2: no other way out ----------------------------------------------------
  {
    name: 'internet-route',
    description: 'an account automation gives every new VPC an internet gateway and a 0.0.0.0/0 route',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'no-other-way-out',
      result: 'failed',
      reason: /0\.0\.0\.0\/0 → igw-/,
    },
    world: automations({ kind: 'internet-gateway-on-new-vpcs' }),
  },

  {
    name: 'identity-condition-dropped',
    description:
      "an automation rewrites the probe role's identity policy without its aws:SourceVpce condition: the role reaches Bedrock from anywhere",
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'no-other-way-out',
      result: 'failed',
      reason: /reached Bedrock from outside the VPC/,
    },
    world: automations({ kind: 'drop-conditions-from-role-policies', pathPrefix: PROBE_ROLE_PATH }),
  },

  // ---- obligation 3: the policy in force is the policy written ---------------------------
  {
    name: 'endpoint-policy-appended',
    description: 'an automation appends an Allow for every principal to each endpoint policy written',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'policy-in-force-is-policy-written',
      result: 'failed',
      reason: /not the one the run wrote/,
    },
    world: automations({
      kind: 'append-endpoint-policy-statement',
      statement: { Effect: 'Allow', Principal: '*', Action: 'bedrock:ListFoundationModels', Resource: '*' },
    }),
  },
  {
    name: 'endpoint-allows-any-principal',
    description:
      'an automation drops the Condition from every Allow of each endpoint policy written: Principal "*" with no aws:PrincipalArn, so any role in the VPC gets in',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'policy-in-force-is-policy-written',
      result: 'failed',
      reason: /the endpoint policy does not decide: bystander plv-by-\S+ was allowed InvokeModel/,
    },
    world: automations({ kind: 'widen-endpoint-policy-allows', dropConditions: true }),
  },
  {
    name: 'endpoint-allows-any-model',
    description:
      'an automation widens the Resource of every Allow of each endpoint policy written to "*": the probe role may call any model through the endpoint',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'policy-in-force-is-policy-written',
      result: 'failed',
      reason:
        /the endpoint policy does not decide which model: amazon\.titan-text-express-v1, which the policy the run wrote does not name, was allowed/,
    },
    world: automations({ kind: 'widen-endpoint-policy-allows', resource: '*' }),
  },
  {
    // The read-back cannot see this one: only calls the written policy must refuse can.
    name: 'endpoint-enforces-full-access',
    description:
      'DescribeVpcEndpoints shows the allow policy the run wrote, but traffic is under full access (any principal, any model)',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'policy-in-force-is-policy-written',
      result: 'failed',
      // The bystander and the unlisted model fail the row while every read-back passes it.
      reason:
        /the endpoint policy does not decide: bystander plv-by-\S+ was allowed.*does not decide which model.*before the allow phase: the policy of vpce-\S+ read back is the one the run wrote/,
    },
    world: { allowEnforcedAs: 'full-access' },
  },
  {
    name: 'deny-reverted',
    description:
      'a remediation rule resets any endpoint policy with a Deny to full access right after it is written',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'policy-in-force-is-policy-written',
      result: 'failed',
      reason: /after the flip: the policy of vpce-\S+ is not the one the run wrote/,
    },
    world: automations({ kind: 'revert-endpoint-deny' }),
  },

  // ---- obligation 4: the run's own Deny refuses, stably ----------------------------------
  {
    name: 'policy-not-enforced',
    description: 'the endpoint accepts the Deny policy but never enforces it',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /Deny was not enforced/,
    },
    world: { ignoreDenyPolicyUpdates: true },
  },
  {
    name: 'policy-updates-never-apply',
    description:
      'ModifyVpcEndpoint is accepted and Describe shows the new policy, but traffic keeps the first one for ever',
    kind: 'tampered',
    // Which row catches it depends on the policy the endpoint was created with; any pass is wrong.
    expect: { verdict: 'fail', reason: /not enforced|never succeeded|never refused/ },
    world: { endpointPolicyUpdatesApply: false },
  },
  {
    name: 'deny-lapses',
    // The lapse comes well after the first refusal the probe can see (polls are 10 s or more apart,
    // far more on a loaded machine at the instant scale) and inside the settle window: a lapse the
    // product never observed would not contradict its claim.
    description:
      'the Deny takes effect, then 150 s later traffic is under the previous (allow) policy again; settle window 300 s',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /Deny not stable: .*succeeded again/,
    },
    input: { options: { denySettleSeconds: 300 } },
    world: { denyLapse: { afterSeconds: 150 } },
  },
  {
    name: 'deny-flaps',
    description:
      'the Deny takes effect, lapses for 120 s after 150 s, then holds again (a flap); settle window 300 s',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /Deny not stable/,
    },
    input: { options: { denySettleSeconds: 300 } },
    world: { denyLapse: { afterSeconds: 150, forSeconds: 120 } },
  },
  {
    name: 'deny-one-zone',
    // us-east-1a is the zone of the probe's first subnet: the regional name's answer puts that
    // ENI first, so a call by the regional name alone would see the Deny "everywhere".
    description:
      "the Deny reaches the endpoint's ENI in us-east-1a only; the ENI in us-east-1b keeps enforcing the allow policy",
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /refused the call in us-east-1a .* but never in us-east-1b .*Deny was not enforced there/,
    },
    world: { denyOnlyInZones: ['us-east-1a'] },
  },
  {
    name: 'deny-lapses-one-zone',
    description:
      'the Deny takes effect in both zones, then 150 s later the ENI in us-east-1b enforces the previous (allow) policy again; settle window 300 s',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /Deny not stable: in us-east-1b, .*succeeded again/,
    },
    input: { options: { denySettleSeconds: 300 } },
    world: { denyLapse: { afterSeconds: 150, zones: ['us-east-1b'] } },
  },
  {
    name: 'deny-implicit',
    description:
      'traffic refuses the call after the flip, but implicitly ("no VPC endpoint policy allows"), not by the Deny the run wrote',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'own-deny-refuses-stably',
      result: 'failed',
      reason: /never refused the call.*no Allow for the call/,
    },
    world: { denyEnforcedAs: 'no-allow' },
  },

  // ---- obligation 5: the probe role as written --------------------------------------------
  {
    name: 'role-extra-inline-policy',
    description: 'an automation gives every new probe role an inline policy allowing bedrock:* on *',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'probe-role-as-written',
      result: 'failed',
      reason: /inline policy ExtraBedrock was not written by the run/,
    },
    world: automations({
      kind: 'inline-policy-on-new-roles',
      pathPrefix: PROBE_ROLE_PATH,
      policyName: 'ExtraBedrock',
      document: BEDROCK_EVERYTHING,
    }),
  },
  {
    // Obligation 5's rule the other way round from role-extra-inline-policy: the extra grants only
    // logs, and the role's credentials are refused from outside the VPC anyway, so it is a warning.
    name: 'role-extra-managed-policy',
    description:
      'an automation attaches AWSLambdaBasicExecutionRole (logs only) to every new probe role: the outside call is refused anyway, so it is a warning that names it',
    kind: 'correct',
    expect: { verdict: 'pass' },
    warning: {
      obligation: 'probe-role-as-written',
      text: /AWSLambdaBasicExecutionRole was not attached by the run; the role's credentials were refused from outside the VPC anyway/,
    },
    world: automations({
      kind: 'managed-policy-on-new-roles',
      pathPrefix: PROBE_ROLE_PATH,
      policyArn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
    }),
  },
  {
    name: 'role-boundary-stripped',
    description:
      'an automation removes the permissions boundary from probe roles once the run has written their policy',
    kind: 'tampered',
    expect: {
      verdict: 'fail',
      obligation: 'probe-role-as-written',
      result: 'failed',
      reason: /permissions boundary is none/,
    },
    world: automations({ kind: 'strip-boundary-on-new-roles', pathPrefix: PROBE_ROLE_PATH }),
  },

  // ---- obligation 6: AWS did not answer — error, never fail -------------------------------
  {
    name: 'bedrock-throttled',
    description: 'Bedrock throttles every InvokeModel for the whole run',
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'reached-through-this-endpoint',
      result: 'could-not-verify',
      reason: /could not be observed.*throttled/,
    },
    faults: [{ kind: 'throttle', service: 'bedrock', operation: 'InvokeModel' }],
  },
  {
    name: 'bedrock-outage',
    description: 'Bedrock answers 500 to every InvokeModel for the whole run',
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'reached-through-this-endpoint',
      result: 'could-not-verify',
      reason: /could not be observed/,
    },
    faults: [{ kind: 'server-error', service: 'bedrock', operation: 'InvokeModel' }],
  },
  {
    name: 'deny-window-outage',
    description:
      'Bedrock works for the allow phase, then throttles every call from the fifth on (the whole deny window)',
    kind: 'unobservable',
    // Which phase the outage first reaches depends on how many calls the allow phase needed.
    expect: { verdict: 'error', result: 'could-not-verify', reason: /could not be observed/ },
    faults: [{ kind: 'throttle', service: 'bedrock', operation: 'InvokeModel', afterCalls: 4 }],
  },
  {
    name: 'route-tables-throttled',
    description: 'EC2 throttles every DescribeRouteTables: the route read-back cannot be made',
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'no-other-way-out',
      result: 'could-not-verify',
      reason: /could not be read/,
    },
    faults: [{ kind: 'throttle', service: 'ec2', operation: 'DescribeRouteTables' }],
  },
  {
    name: 'iam-reads-failing',
    description: 'IAM answers 500 to every GetRolePolicy: the probe role cannot be read back',
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'probe-role-as-written',
      result: 'could-not-verify',
      reason: /could not be read/,
    },
    faults: [{ kind: 'server-error', service: 'iam', operation: 'GetRolePolicy' }],
  },
  {
    // A refusal by the caller's own identity policy says nothing about the endpoint policy.
    name: 'bystander-identity-denied',
    description:
      'an automation puts an explicit Deny of bedrock:* on every new bystander role: its call is refused by its identity policy, not by the endpoint policy',
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'policy-in-force-is-policy-written',
      result: 'could-not-verify',
      reason: /bystander plv-by-\S+ was refused by its own identity policy, not by the endpoint policy/,
    },
    world: automations({
      kind: 'inline-policy-on-new-roles',
      pathPrefix: PROBE_ROLE_PATH,
      namePrefix: BYSTANDER_NAME_PREFIX,
      policyName: 'DenyBedrock',
      document: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'bedrock:*', Resource: '*' }],
      }),
    }),
  },
  {
    name: 'single-model-stack',
    description:
      "the stack's allowedModels names only the run's model: no model the endpoint policy does not name can be called, so that refusal is unobserved",
    kind: 'unobservable',
    expect: {
      verdict: 'error',
      obligation: 'policy-in-force-is-policy-written',
      result: 'could-not-verify',
      reason: /no model the endpoint policy does not name could be tried/,
    },
    deploy: { singleModel: true },
  },
  {
    name: 'fail-midway',
    description: 'CreateVpcEndpoint is refused after the network exists: cleanup must still leave nothing',
    kind: 'unobservable',
    expect: { verdict: 'error', reason: /the endpoint stage failed/ },
    faults: [
      {
        kind: 'error',
        service: 'ec2',
        operation: 'CreateVpcEndpoint',
        code: 'UnauthorizedOperation',
        status: 403,
        message: 'You are not authorized to perform this operation.',
      },
    ],
  },
];

export const SCENARIOS: Record<string, Scenario> = Object.fromEntries(
  [...list, ...POOL_SCENARIOS].map((s) => [s.name, s]),
);
export const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** Put the scenario's world and faults in place the way any client would: POST /_emulator/config. */
export async function applyScenario(emu: Emulator, scenario: Scenario): Promise<void> {
  if (!scenario.world && !scenario.faults) return;
  const res = await fetch(`${emu.url}/_emulator/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...(scenario.world ? { world: scenario.world } : {}),
      ...(scenario.faults ? { faults: scenario.faults } : {}),
    }),
  });
  if (!res.ok)
    throw new Error(`emulator refused scenario ${scenario.name}: ${res.status} ${await res.text()}`);
}
