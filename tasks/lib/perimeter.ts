/**
 * A run that carries the team's perimeter writes the team's policies, not the product's own: the
 * spec's templates rendered with the ids this run creates. Rendered here only, so the policy a
 * task writes and the policy a read-back compares with are the same text.
 */
import { PROBE_ROLE_PATH, type RunState } from '../../statemachine/contract.ts';
import {
  DEFAULT_DENY_ENDPOINT_POLICY,
  modelPolicyArns,
  type PerimeterInput,
  renderTemplate,
  type TemplateValues,
} from '../../statemachine/perimeter-spec.ts';
import { bystanderName, probeName } from './run-state.ts';

/**
 * Extra role `n` (0-based) of a run: `plv-by-<run id>.x<n+1>`. Under the bystander's prefix, so
 * the task roles' grants for bystanders cover it; the "." cannot occur in a run id, so no run's
 * bystander can be another run's extra role. At most 64 characters for any run id the probe accepts.
 */
export const extraRoleName = (runId: string, index: number) => `${bystanderName(runId)}.x${index + 1}`;

const roleArn = (accountId: string, name: string) =>
  `arn:aws:iam::${accountId}:role${PROBE_ROLE_PATH}${name}`;

/** Every role name a run with this perimeter may create beyond the probe and the bystander. */
export function extraRoleNames(runId: string, perimeter: PerimeterInput | undefined): string[] {
  return (perimeter?.roles ?? []).map((_, i) => extraRoleName(runId, i));
}

/**
 * The values a run's templates are rendered with. Before the endpoint exists its id is unknown:
 * a template that names it then throws (the static checks refuse an endpoint policy that names
 * the endpoint it is attached to).
 */
export function templateValues(
  state: Pick<RunState, 'input' | 'network'> & { preflight: { accountId: string } },
  perimeter: PerimeterInput,
  vpcEndpointId?: string,
): TemplateValues {
  const { input } = state;
  const accountId = state.preflight.accountId;
  const values: TemplateValues = {
    WorkloadRoleArn: roleArn(accountId, probeName(input.runId)),
    BystanderRoleArn: roleArn(accountId, bystanderName(input.runId)),
    VpcEndpointId: vpcEndpointId ?? '',
    VpcId: state.network?.vpcId ?? '',
    AccountId: accountId,
    Region: input.region,
    Partition: 'aws',
    ModelArns: [...new Set(perimeter.models.flatMap((m) => modelPolicyArns(input.region, accountId, m)))],
    roleArns: Object.fromEntries(
      perimeter.roles.map((r, i) => [r.name, roleArn(accountId, extraRoleName(input.runId, i))]),
    ),
  };
  if (vpcEndpointId === undefined) {
    // Unknown yet: rendering must fail loudly rather than write an empty condition value.
    Object.defineProperty(values, 'VpcEndpointId', {
      get() {
        throw new Error(
          '${VpcEndpointId} cannot be used before the endpoint exists (in the endpoint policy)',
        );
      },
      enumerable: true,
    });
  }
  return values;
}

const render = (template: Record<string, unknown>, values: TemplateValues) =>
  JSON.stringify(renderTemplate(template, values));

/** The policies of the run in `state`, once the endpoint (when given) exists: what the tasks write and read back. */
export function policiesOfRun(
  state: Pick<RunState, 'input' | 'network'> & { preflight: { accountId: string } },
  perimeter: PerimeterInput,
  vpcEndpointId?: string,
) {
  return perimeterPolicies(perimeter, templateValues(state, perimeter, vpcEndpointId));
}

/** The policies a perimeter run writes, as the JSON text it writes. */
export function perimeterPolicies(perimeter: PerimeterInput, values: TemplateValues) {
  return {
    endpoint: () => render(perimeter.endpointPolicy, values),
    identity: () => render(perimeter.identityPolicy, values),
    bystanderIdentity: () => render(perimeter.bystanderIdentityPolicy, values),
    role: (index: number) => render(perimeter.roles[index]!.identityPolicy, values),
    /** The run's flip: an explicit Deny of every action a row may call, on every resource. */
    deny: () => render(DEFAULT_DENY_ENDPOINT_POLICY, values),
  };
}
