// PLACEHOLDER: being written by a helper; replaced before submission.
import type { EmulatorContext } from '../core/context.ts';
import type { EmulatedService, InventoryItem, RestJsonApi } from '../core/service.ts';

export class IamService implements EmulatedService {
  readonly name = 'iam' as const;
  readonly api: RestJsonApi = { protocol: 'rest-json', routes: [] };
  constructor(readonlyCtx: EmulatorContext) {
    void readonlyCtx;
  }
  inventory(): InventoryItem[] {
    return [];
  }
  reset(): void {}
}
