/**
 * IAM Access Analyzer ValidatePolicy on the policies a run deploys, as findings of the spec: each
 * finding's path inside the rendered policy is mapped back to the line and column of the spec or
 * policy file that declares it (placeholders do not change a policy's shape, so the path holds).
 *
 * Access Analyzer has no VPC endpoint policy type (ValidatePolicyResourceType lists S3, S3 access
 * points, DynamoDB and role trust policies only): the endpoint policy goes as a generic
 * RESOURCE_POLICY, the identity policies as IDENTITY_POLICY.
 */
import {
  type AccessAnalyzerClient,
  type PathElement,
  type PolicyType,
  paginateValidatePolicy,
  type ValidatePolicyFinding,
} from '@aws-sdk/client-accessanalyzer';
import { renderTemplate } from '../statemachine/perimeter-spec.ts';
import type { LoadedSpec, LocatedPolicy } from './load.ts';
import type { Finding } from './policy-checks.ts';
import { staticTemplateValues } from './predict.ts';

/** Finding type → rule id (perimeter/rules.ts). ERROR blocks a run; the others are reported. */
export const ACCESS_ANALYZER_RULES: Record<string, string> = {
  ERROR: 'access-analyzer-error',
  SECURITY_WARNING: 'access-analyzer-security-warning',
  WARNING: 'access-analyzer-warning',
  SUGGESTION: 'access-analyzer-suggestion',
};

export interface AnalyzedPolicy {
  policy: LocatedPolicy;
  policyType: PolicyType;
  label: string;
}

/** The policies a run puts in place: the endpoint policy and every role's identity policy. */
export function analyzedPolicies(loaded: LoadedSpec): AnalyzedPolicy[] {
  return [
    { policy: loaded.endpointPolicy, policyType: 'RESOURCE_POLICY', label: 'endpoint policy' },
    { policy: loaded.identityPolicy, policyType: 'IDENTITY_POLICY', label: 'workload identity policy' },
    {
      policy: loaded.bystanderIdentityPolicy,
      policyType: 'IDENTITY_POLICY',
      label: 'bystander identity policy',
    },
    ...Object.entries(loaded.roles).map(([name, policy]) => ({
      policy,
      policyType: 'IDENTITY_POLICY' as const,
      label: `identity policy of role ${name}`,
    })),
  ];
}

/** A ValidatePolicy path (`{value: Statement}, {index: 0}, {value: Action}`) → a path in the template. */
export function templatePath(path: readonly PathElement[] | undefined): (string | number)[] {
  const out: (string | number)[] = [];
  for (const e of path ?? []) {
    if (e.index !== undefined) out.push(e.index);
    else if (e.value !== undefined) out.push(e.value);
    else if (e.key !== undefined) out.push(e.key);
    else break; // a substring of a string: the string itself is the place
  }
  return out;
}

/** The findings of one ValidatePolicy answer, anchored in the spec. */
export function findingsOf(analyzed: AnalyzedPolicy, answer: ValidatePolicyFinding[]): Finding[] {
  const { policy, label, policyType } = analyzed;
  return answer.map((f) => {
    const type = String(f.findingType);
    const path = templatePath(f.locations?.[0]?.path);
    return {
      rule: ACCESS_ANALYZER_RULES[type] ?? 'access-analyzer-warning',
      level: type === 'ERROR' ? ('error' as const) : ('warning' as const),
      message: `${label}: IAM Access Analyzer ${type} ${f.issueCode} (as ${policyType}): ${f.findingDetails} See ${f.learnMoreLink}`,
      at: policy.source.locate([...policy.path, ...path]),
    };
  });
}

/**
 * ValidatePolicy on every deployed policy, rendered with the static values of the first region
 * (the region changes only `${Region}` strings). Errors of the call (credentials, throttling past
 * the SDK's retries) propagate: the caller decides the exit status.
 */
export async function accessAnalyzerFindings(
  loaded: LoadedSpec,
  client: AccessAnalyzerClient,
): Promise<Finding[]> {
  const values = staticTemplateValues(loaded.spec, loaded.spec.regions[0]!);
  const out: Finding[] = [];
  for (const analyzed of analyzedPolicies(loaded)) {
    const document = JSON.stringify(renderTemplate(analyzed.policy.template, values), null, 2);
    const answer: ValidatePolicyFinding[] = [];
    for await (const page of paginateValidatePolicy(
      { client },
      { policyDocument: document, policyType: analyzed.policyType },
    ))
      answer.push(...(page.findings ?? []));
    out.push(...findingsOf(analyzed, answer));
  }
  return out;
}
