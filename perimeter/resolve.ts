/** A loaded spec → the perimeter each region's execution carries (see PerimeterInputSchema). */
import type { ExecutionInputArgs } from '../statemachine/contract.ts';
import { type PerimeterInput, PerimeterInputSchema } from '../statemachine/perimeter-spec.ts';
import type { LoadedSpec } from './load.ts';

export function perimeterInput(loaded: LoadedSpec): PerimeterInput {
  return PerimeterInputSchema.parse({
    specFile: loaded.source.file,
    models: loaded.spec.models,
    endpointPolicy: loaded.endpointPolicy.template,
    identityPolicy: loaded.identityPolicy.template,
    bystanderIdentityPolicy: loaded.bystanderIdentityPolicy.template,
    roles: Object.entries(loaded.roles).map(([name, p]) => ({ name, identityPolicy: p.template })),
    matrix: loaded.matrix.map((m) => m.row),
    options: loaded.spec.options,
  });
}

/**
 * One region's execution input for a perimeter: the caller's base input (run id, owner, pool…),
 * the region, the first model as the run's own, the perimeter, and the spec's options mapped onto
 * the input's. The run id gets the region appended when the spec names several regions, so each
 * execution (and every resource name derived from it) is its own.
 */
export function executionInputFor(
  base: ExecutionInputArgs,
  perimeter: PerimeterInput,
  region: string,
  regionCount: number,
): ExecutionInputArgs {
  const o = perimeter.options;
  return {
    ...base,
    runId: regionCount > 1 ? `${base.runId}-${region}` : base.runId,
    region,
    modelId: perimeter.models[0]!,
    perimeter,
    ...(o.vpcCidr ? { vpcCidr: o.vpcCidr } : {}),
    ...(o.ttlMinutes ? { ttlMinutes: o.ttlMinutes } : {}),
    deadlines: {
      ...base.deadlines,
      ...(o.verifyAllowSeconds ? { verifyAllowSeconds: o.verifyAllowSeconds } : {}),
      ...(o.verifyDenySeconds ? { verifyDenySeconds: o.verifyDenySeconds } : {}),
    },
    options: {
      ...base.options,
      ...(o.probeIntervalSeconds ? { probeIntervalSeconds: o.probeIntervalSeconds } : {}),
      ...(o.settleSeconds !== undefined ? { denySettleSeconds: o.settleSeconds } : {}),
    },
  };
}
