/**
 * The IAM policy language's elements, shared by every service that validates a policy document
 * (EC2 endpoint policies, IAM Access Analyzer): IAM User Guide, "IAM JSON policy element
 * reference" (Version, Id, Statement; in a statement Sid, Effect, Principal/NotPrincipal,
 * Action/NotAction, Resource/NotResource, Condition) and "IAM JSON policy elements: Version".
 */
export const POLICY_VERSIONS = ['2012-10-17', '2008-10-17'];
export const POLICY_ELEMENTS = new Set(['Version', 'Id', 'Statement']);
export const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
