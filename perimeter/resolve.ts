/** A loaded spec → the perimeter each region's execution carries (see PerimeterInputSchema). */
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
