/** Every static rule: id → one-line description (SARIF `rules`, `check --help`). */
export const STATIC_RULES: Record<string, string> = {
  'spec-file': 'The spec file must exist and be readable.',
  'spec-syntax': 'The spec must be valid YAML or JSON.',
  'spec-schema': 'The spec must match the perimeter spec schema (schemas/perimeter-spec.schema.json).',
  'spec-too-large': 'The perimeter must fit in an execution input with room for the run state (64 KiB).',
  'policy-file': 'A policy file must exist inside the repository, relative to the spec.',
  'policy-syntax': 'A policy file must hold one JSON object.',
  'template-placeholder': 'Policy templates may use only the known placeholders.',
  'policy-grammar': 'A policy must follow the IAM policy grammar for its kind.',
  'policy-version': 'A policy should declare Version 2012-10-17.',
  'policy-size': 'A policy must fit AWS size limits once rendered.',
  'endpoint-policy-names-itself':
    'An endpoint policy cannot name its own endpoint id: the endpoint is created with it.',
  'endpoint-broad-action': 'An endpoint policy must not allow every action.',
  'endpoint-any-principal': 'An endpoint policy must not allow any principal without a condition.',
  'endpoint-system-key-wildcard':
    'No wildcards or numeric operators with keys that hold system-generated identifiers.',
  'endpoint-short-wildcard': 'String wildcards need six consecutive characters before or after them.',
  'identity-not-bound-to-endpoint': "The workload's Bedrock permissions must be conditioned on the endpoint.",
  'model-outside-boundary': "Every model must be among the stack's allowedModels (the probe boundary).",
  'action-outside-boundary': 'Every action must be within the probe permissions boundary.',
  'row-unknown-caller': 'A matrix row must name workload, bystander or a declared role.',
  'row-unknown-model': 'A matrix row must name a listed model, each or unlisted.',
  'row-cannot-be-observed': 'A matrix row must be observable by a live run.',
  'row-expects-allowed-after-deny': "No row may expect allowed through the endpoint after the run's Deny.",
  'row-will-fail': 'The policies as written must give the outcome a row expects.',
  'row-proves-nothing':
    'A row expecting an endpoint-policy refusal must be one only the endpoint policy refuses.',
  // check --access-analyzer: IAM Access Analyzer ValidatePolicy, by finding type.
  'access-analyzer-error':
    'IAM Access Analyzer ValidatePolicy must find no ERROR in a policy the run deploys.',
  'access-analyzer-security-warning':
    'IAM Access Analyzer ValidatePolicy security warnings: access it considers overly permissive.',
  'access-analyzer-warning': 'IAM Access Analyzer ValidatePolicy warnings: policy-writing best practices.',
  'access-analyzer-unavailable':
    'IAM Access Analyzer ValidatePolicy could not be asked (the action goes on with the static checks).',
  'access-analyzer-suggestion':
    'IAM Access Analyzer ValidatePolicy suggestions: style that does not change access.',
};

/** Rules of a live run's results (the live SARIF log): a cell of the matrix as observed. */
export const LIVE_RULES: Record<string, string> = {
  'cell-failed':
    'A matrix cell must end as its row expects: a live run observed a decisive other outcome (allowed where a refusal was expected, or refused by another policy).',
  'cell-could-not-verify':
    'A live run must observe every matrix cell: throttling, outages or a refusal that hides the answer left this one unproven.',
};
