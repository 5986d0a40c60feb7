/**
 * IAM Access Analyzer's request context (Service Authorization Reference, IAM Access Analyzer):
 * ValidatePolicy is `access-analyzer:ValidatePolicy` with no resource type, so it is authorized on
 * `*` like every other call that names no resource.
 */
import type { Check } from './authorize.ts';

export function accessAnalyzerChecks(operation: string): Check[] {
  return [{ action: `access-analyzer:${operation}` }];
}
