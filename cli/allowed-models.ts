/** The models a stack's probe boundary allows, as `check` and `local --spec` learn them. */
import { existsSync, readFileSync } from 'node:fs';
import { CONTEXT_KEYS, configFromContext, resolveConfig } from '../infra/config.ts';
import { UsageError } from './exit-codes.ts';

/** A comma-separated model list from a flag: at least one id. */
export function parseModelList(listed: string, flag: string): string[] {
  const models = listed
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (!models.length) throw new UsageError(`${flag} needs at least one model id (comma-separated)`);
  return models;
}

/** The stack's allowedModels as configured for `cdk synth` in this directory. */
export function stackAllowedModels(): string[] {
  let context: Record<string, unknown> = {};
  if (existsSync('cdk.json')) {
    try {
      context =
        (JSON.parse(readFileSync('cdk.json', 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
    } catch {
      throw new UsageError('cdk.json is not valid JSON: fix it or pass --allowed-models');
    }
  }
  const allowed = context[CONTEXT_KEYS.allowedModels];
  return resolveConfig(configFromContext((key) => (key === CONTEXT_KEYS.allowedModels ? allowed : undefined)))
    .allowedModels;
}
