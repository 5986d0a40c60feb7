/**
 * What each matrix row will observe, predicted from the policies as written: the endpoint policy
 * and the caller's identity policy evaluated together by @cloud-copilot/iam-simulate with the
 * request context AWS supplies (aws:SourceVpce and aws:SourceVpc only through the endpoint).
 * A prediction is never evidence for a verdict: it only stops a run that cannot pass.
 */
import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import { PROBE_ROLE_PATH } from '../statemachine/contract.ts';
import {
  DEFAULT_DENY_ENDPOINT_POLICY,
  type ExpectedOutcome,
  type MatrixRow,
  modelPolicyArns,
  modelRequestArns,
  renderTemplate,
  SPEC_ACTIONS,
  type TemplateValues,
  unlistedModel,
} from '../statemachine/perimeter-spec.ts';
import type { LoadedSpec } from './load.ts';
import { asList, statementsOf } from './policy-checks.ts';

export const STATIC_ACCOUNT = '123456789012';
const SAMPLE_ENDPOINT = 'vpce-0example0static0';
const SAMPLE_VPC = 'vpc-0example0static0';

function roleArn(account: string, name: string): string {
  return `arn:aws:iam::${account}:role${PROBE_ROLE_PATH}${name}`;
}

/** Values a static check renders templates with: stand-ins for what a run creates. */
export function staticTemplateValues(
  spec: LoadedSpec['spec'],
  region: string,
  account = STATIC_ACCOUNT,
): TemplateValues {
  return {
    WorkloadRoleArn: roleArn(account, 'plv-probe-static'),
    BystanderRoleArn: roleArn(account, 'plv-bystander-static'),
    VpcEndpointId: SAMPLE_ENDPOINT,
    VpcId: SAMPLE_VPC,
    AccountId: account,
    Region: region,
    Partition: 'aws',
    ModelArns: spec.models.flatMap((m) => modelPolicyArns(region, account, m)),
    roleArns: Object.fromEntries(
      spec.roles.map((r) => [r.name, roleArn(account, `plv-role-${r.name}-static`)]),
    ),
  };
}

export interface Prediction {
  outcome: ExpectedOutcome;
  /** Why, in words, when refused: which policy and statement decided. */
  because: string;
}

type Doc = Record<string, unknown>;

/**
 * iam-simulate reads endpoint policies as gateway-endpoint policies (Principal must be "*").
 * The caller is known here, so keep only the statements whose Principal names it, as "*".
 */
function forCaller(doc: Doc, principalArn: string, account: string): Doc {
  const names = (p: unknown): boolean => {
    if (p === '*') return true;
    const aws = p && typeof p === 'object' ? asList((p as Doc).AWS) : asList(p);
    return aws.some(
      (a) => a === '*' || a === principalArn || a === account || a === `arn:aws:iam::${account}:root`,
    );
  };
  const kept = statementsOf(doc).flatMap((st) => {
    const { Principal, NotPrincipal, ...rest } = st as Doc;
    if (NotPrincipal !== undefined) return names(NotPrincipal) ? [] : [{ ...rest, Principal: '*' }];
    return names(Principal) ? [{ ...rest, Principal: '*' }] : [];
  });
  return { Version: doc.Version ?? '2012-10-17', Statement: kept };
}

async function decide(req: {
  principalArn: string;
  account: string;
  action: string;
  resource: string;
  context: Record<string, string>;
  identity: Doc;
  endpoint?: Doc;
}): Promise<Prediction> {
  const endpoint = req.endpoint ? forCaller(req.endpoint, req.principalArn, req.account) : undefined;
  if (endpoint && statementsOf(endpoint).length === 0)
    return {
      outcome: 'denied-by-endpoint-policy',
      because: 'no statement of the endpoint policy names this principal',
    };
  const result = await runSimulation(
    {
      request: {
        principal: req.principalArn,
        action: req.action,
        resource: { resource: req.resource, accountId: req.account },
        contextVariables: req.context,
      },
      identityPolicies: [{ name: 'identity', policy: req.identity }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(endpoint ? { vpcEndpointPolicies: [{ name: 'endpoint', policy: endpoint }] } : {}),
    },
    {},
  );
  if (result.resultType === 'error')
    throw new Error(`policy evaluation failed: ${JSON.stringify(result.errors)}`);
  if (result.resultType !== 'single') throw new Error('policy evaluation: expected one resource');
  if (result.overallResult === 'Allowed') return { outcome: 'allowed', because: 'both policies allow it' };
  const reasons = getDenialReasons(result.result.analysis);
  // The order AWS's messages give: explicit denies first, then the endpoint policy not allowing.
  for (const [type, denial] of [
    ['vpce', 'Explicit'],
    ['identity', 'Explicit'],
    ['vpce', 'Implicit'],
    ['identity', 'Implicit'],
  ] as const) {
    const r = reasons.find((x) => x.policyType === type && x.denialType === denial);
    if (!r) continue;
    const policy = type === 'vpce' ? 'endpoint policy' : 'identity policy';
    const because =
      r.denialType === 'Explicit'
        ? `an explicit Deny in the ${policy} (${r.statementId ?? `statement ${(r.statementIndex ?? 0) + 1}`})`
        : `no statement of the ${policy} allows ${req.action} on ${req.resource}`;
    return { outcome: type === 'vpce' ? 'denied-by-endpoint-policy' : 'denied-by-identity-policy', because };
  }
  return { outcome: 'denied-by-identity-policy', because: 'no policy allows it' };
}

export interface RowCell {
  row: MatrixRow;
  index: number;
  region: string;
  model: string;
  prediction: Prediction;
  /** For rows expecting a refusal by the endpoint policy: is it refused even with an allow-all endpoint policy? */
  refusedWithoutEndpointPolicy?: boolean;
}

const ALLOW_ALL: Doc = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
};

/** Predict every runnable cell (row × region × model) of the matrix. */
export async function predictMatrix(
  loaded: LoadedSpec,
  allowedModels: readonly string[],
  account = STATIC_ACCOUNT,
): Promise<RowCell[]> {
  const cells: RowCell[] = [];
  for (const region of loaded.spec.regions) {
    const values = staticTemplateValues(loaded.spec, region, account);
    const render = (t: Doc) => renderTemplate(t, values) as Doc;
    for (const { row, index } of loaded.matrix) {
      if (row.skip) continue;
      const identity =
        row.caller === 'workload'
          ? loaded.identityPolicy
          : row.caller === 'bystander'
            ? loaded.bystanderIdentityPolicy
            : loaded.roles[row.caller];
      if (!identity) continue; // an unknown caller is reported by the row checks
      const principalArn =
        row.caller === 'workload'
          ? values.WorkloadRoleArn
          : row.caller === 'bystander'
            ? values.BystanderRoleArn
            : values.roleArns[row.caller]!;
      const unlisted = unlistedModel(loaded.spec.models, allowedModels);
      const models =
        row.model === 'each'
          ? loaded.spec.models
          : row.model === 'unlisted'
            ? unlisted
              ? [unlisted]
              : []
            : [row.model];
      const endpointDoc =
        row.from === 'outside'
          ? undefined
          : render(
              row.phase === 'after-deny' ? DEFAULT_DENY_ENDPOINT_POLICY : loaded.endpointPolicy.template,
            );
      const context: Record<string, string> = {
        'aws:PrincipalArn': principalArn,
        'aws:PrincipalAccount': account,
        ...(row.from === 'vpc'
          ? { 'aws:SourceVpce': values.VpcEndpointId, 'aws:SourceVpc': values.VpcId }
          : {}),
      };
      for (const model of models) {
        const base = {
          principalArn,
          account,
          action: SPEC_ACTIONS[row.action],
          context,
          identity: render(identity.template),
        };
        let prediction: Prediction = { outcome: 'allowed', because: 'both policies allow it' };
        let refusedAnyway = true;
        for (const resource of modelRequestArns(region, account, model)) {
          const p = await decide({ ...base, resource, ...(endpointDoc ? { endpoint: endpointDoc } : {}) });
          if (prediction.outcome === 'allowed' && p.outcome !== 'allowed') prediction = p;
          if (row.expect === 'denied-by-endpoint-policy' && endpointDoc) {
            const without = await decide({ ...base, resource, endpoint: ALLOW_ALL });
            if (without.outcome === 'allowed') refusedAnyway = false;
          }
        }
        cells.push({
          row,
          index,
          region,
          model,
          prediction,
          ...(row.expect === 'denied-by-endpoint-policy' && endpointDoc
            ? { refusedWithoutEndpointPolicy: refusedAnyway }
            : {}),
        });
      }
    }
  }
  return cells;
}
