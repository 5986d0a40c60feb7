/** The slice of the GitHub workflow syntax these workflows use, typed so a typo fails `tsc`. */

export type Permission = 'read' | 'write' | 'none';
export type Permissions = Partial<
  Record<
    | 'contents'
    | 'id-token'
    | 'pull-requests'
    | 'issues'
    | 'actions'
    | 'checks'
    | 'statuses'
    | 'security-events',
    Permission
  >
>;

export interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  with?: Record<string, string | number | boolean>;
  run?: string;
  env?: Record<string, string>;
  shell?: string;
}

export interface Job {
  name?: string;
  if?: string;
  'runs-on': string;
  'timeout-minutes'?: number;
  permissions: Permissions;
  needs?: string[];
  outputs?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, string>;
  steps: Step[];
}

export interface WorkflowDispatchInput {
  description: string;
  required: boolean;
  type: 'string' | 'choice' | 'boolean';
  default?: string;
  options?: string[];
}

export interface Workflow {
  /** File name under .github/workflows. */
  file: string;
  name: string;
  on: Record<string, unknown>;
  /** Always empty at the top: each job asks for what it uses. */
  permissions: Record<string, never>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** A GitHub expression, `${{ … }}`, written without a template-looking string literal. */
export function expr(expression: string): string {
  return `$\{{ ${expression} }}`;
}
