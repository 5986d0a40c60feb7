/**
 * Emulators shared by the runs of one test file: one emulator and one deployment per deployment
 * the runs need (region, the probe boundary's model, the VPC CIDR pool), reused by the runs that
 * need the same one. One is open at a time (each holds a loaded sandbox per task function, ~34 MB
 * each): a run that needs another deployment closes it and starts or restarts its own. Before each run the emulator's world, faults and quotas go back to what it
 * started with, and the run's scenario puts its own in place, as `runLocal` would in a fresh
 * emulator. Deploying the product costs seconds; each world then pays only for its run.
 */
import type { DeployedProduct } from '../../cli/deploy.ts';
import {
  deployFor,
  type LocalHooks,
  type LocalOptions,
  type LocalResult,
  runInEmulator,
  withScenario,
} from '../../cli/local.ts';
import { SCENARIOS } from '../../cli/scenarios.ts';
import { profileNamed } from '../../emulator/core/latency.ts';
import { Emulator } from '../../emulator/emulator.ts';

interface Shared {
  emu: Emulator;
  deployed: DeployedProduct;
  /** The settings the emulator started with: every run starts from them. */
  pristine: { world: Emulator['ctx']['world']; quotas: Emulator['ctx']['quotas'] };
}

/**
 * Real milliseconds idle sandboxes stay loaded between runs: the next world finds the task
 * functions warm in memory (cold or warm is still decided per run on the virtual clock).
 */
const SANDBOX_IDLE_MS = 30_000;

export class SharedEmulators {
  private current?: { key: string; shared: Promise<Shared> };

  private readonly profile: 'instant' | 'realistic';

  constructor(profile: 'instant' | 'realistic' = 'instant') {
    this.profile = profile;
  }

  /** Run `o` in the emulator its deployment lives in, from the emulator's starting world. */
  async run(o: LocalOptions, hooks: LocalHooks = {}): Promise<LocalResult> {
    const shared = await this.sharedFor(o);
    const { emu, pristine } = shared;
    emu.ctx.world = structuredClone(pristine.world);
    emu.ctx.quotas = { ...pristine.quotas };
    emu.setFaults([]);
    return runInEmulator(emu, shared.deployed, o, () => {}, hooks);
  }

  private sharedFor(o: LocalOptions): Promise<Shared> {
    const input = withScenario(o.input, o.scenario);
    const key = JSON.stringify([
      o.input.region,
      input.modelId,
      SCENARIOS[o.scenario]?.deploy?.vpcCidrPool ?? null,
      SCENARIOS[o.scenario]?.deploy?.singleModel ?? false,
      // A pool world builds (and may tamper with) pooled networks: never share them with another world.
      SCENARIOS[o.scenario]?.pool ? o.scenario : null,
    ]);
    if (this.current?.key === key) return this.current.shared;
    const previous = this.close();
    const shared = (async () => {
      await previous;
      const emu = await Emulator.start({ profile: profileNamed(this.profile), timeScale: 0 });
      emu.lambda.sandboxIdleMs = SANDBOX_IDLE_MS;
      emu.lambda.reclaimOnNextStep = false;
      const pristine = { world: structuredClone(emu.ctx.world), quotas: { ...emu.ctx.quotas } };
      return { emu, deployed: await deployFor(emu, o), pristine };
    })();
    this.current = { key, shared };
    return shared;
  }

  async close(): Promise<void> {
    const open = this.current?.shared;
    this.current = undefined;
    const shared = await open?.catch(() => undefined);
    await shared?.emu.close();
  }
}
