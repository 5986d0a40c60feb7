import type { Automation } from './automations.ts';
import { Clock, Rng } from './clock.ts';
import { Faults } from './faults.ts';
import { IdentityRegistry } from './identity.ts';
import { draw, type LatencyProfile, type LatencyRanges, PROFILES } from './latency.ts';
import type { Ec2Model, IamModel, LambdaModel, NetworkModel, PolicyDocument } from './models.ts';

export const DEFAULT_ACCOUNT_ID = '123456789012';

/** Regions where the emulator offers Bedrock (runtime and its endpoint service). */
export const BEDROCK_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'eu-central-1',
  'eu-west-1',
  'eu-west-3',
  'ap-northeast-1',
  'ap-southeast-2',
] as const;

export interface Quotas {
  /** Includes the default VPC and VPCs still being deleted. */
  vpcsPerRegion: number;
  interfaceEndpointsPerVpc: number;
  endpointPolicyMaxChars: number;
}

/** How the simulated world misbehaves, for scenarios the product must detect. */
export interface World {
  /** false: ModifyVpcEndpoint accepts a new policy but traffic keeps the old one (policy not enforced). */
  endpointPolicyUpdatesApply: boolean;
  /**
   * true: the endpoint accepts policy updates that contain a Deny but never enforces them (a
   * broken or misconfigured endpoint that the deny check must catch).
   */
  ignoreDenyPolicyUpdates: boolean;
  /** Model ids (or inference profile ids) whose access is not granted in the account. */
  modelsWithoutAccess: string[];
  /**
   * Service control policies that apply to the account (an organization's member account), root
   * OU first. Empty: the account is in no organization. They bind the root user too.
   */
  serviceControlPolicies: PolicyDocument[];
  /** Another principal acting on new resources (core/automations.ts): how tampered worlds are built. */
  automations: Automation[];
  /**
   * A Deny endpoint policy that takes effect and then stops being enforced for traffic (the
   * previous policy is back in force) `afterSeconds` later; with `forSeconds`, only for that long
   * (a flap). Describe keeps showing the Deny. No AWS source: a fault to prove the settle window.
   */
  denyLapse?: {
    afterSeconds: number;
    forSeconds?: number;
    /** Lapse only in these Availability Zones (the ENIs there); absent: in every zone. */
    zones?: string[];
  };
  /**
   * A Deny endpoint policy reaches only the ENIs in these Availability Zones; the ENIs in the
   * others keep enforcing the previous policy for traffic (Describe shows the Deny). A fault,
   * no AWS source: per-zone state that a probe calling one zone's ENI cannot see.
   */
  denyOnlyInZones?: string[];
  /**
   * Extra propagation, in seconds, of every endpoint-policy change in that Availability Zone's
   * ENI: the change reaches the zones one after another. AWS gives no per-zone figure, only "a
   * few minutes" overall (AWS-FACTS); a correct world, for "refused everywhere from then on".
   */
  zonePolicyLagSeconds?: Record<string, number>;
  /**
   * `no-allow`: traffic enforces a policy with a Deny as if it had no statements, so refusals are
   * implicit ("no VPC endpoint policy allows"), not the explicit Deny the run wrote. A fault.
   */
  denyEnforcedAs: 'explicit' | 'no-allow';
  /**
   * `full-access`: traffic enforces full access for an endpoint policy without a Deny, while
   * DescribeVpcEndpoints shows the policy written (the read-back agrees, the traffic does not).
   * A fault, no AWS behaviour: only calls that the written policy must refuse can tell.
   */
  allowEnforcedAs?: 'written' | 'full-access';
  /** Fixed endpoint-policy propagation in seconds, instead of the latency profile's draw. */
  endpointPolicyPropagationSeconds?: number;
}

export interface EmulatorOptions {
  profile?: LatencyProfile;
  /** Overrides the profile's timeScale (real seconds per virtual second). */
  timeScale?: number;
  seed?: number;
  accountId?: string;
  quotas?: Partial<Quotas>;
  world?: Partial<World>;
  /** Structured log lines (JSON) go here; default: nowhere. */
  log?: (line: Record<string, unknown>) => void;
}

/** Shared state every service sees: time, randomness, identities, faults, settings, and the other services. */
export class EmulatorContext {
  readonly accountId: string;
  readonly profile: LatencyProfile;
  readonly clock: Clock;
  readonly seed: number;
  private readonly globalRng: Rng;
  private readonly streams = new Map<string, Rng>();
  readonly faults: Faults;
  readonly identities: IdentityRegistry;
  quotas: Quotas;
  world: World;
  /** Base URL of this emulator, known once listening: handed to function workers as AWS_ENDPOINT_URL. */
  endpointUrl = '';
  readonly log: (line: Record<string, unknown>) => void;

  /**
   * Set by the Emulator: authorizes an action a service performs with a role it was given (a Step
   * Functions Task invoking Lambda with the state machine's role); throws the refusal.
   */
  authorizeAsRole!: (
    roleArn: string,
    service: 'lambda',
    action: string,
    resourceArn: string,
    region: string,
  ) => Promise<void>;

  // Set by the Emulator once the services exist.
  ec2!: Ec2Model;
  iam!: IamModel;
  lambda!: LambdaModel;
  /** Set by the Bedrock service, which owns the network and policy model. */
  network!: NetworkModel;

  constructor(opts: EmulatorOptions = {}) {
    this.accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
    this.profile = opts.profile ?? PROFILES.instant;
    this.log = opts.log ?? (() => {});
    this.clock = new Clock({
      timeScale: opts.timeScale ?? this.profile.timeScale,
      log: this.log,
    });
    this.seed = opts.seed ?? 20261124;
    this.globalRng = new Rng(this.seed);
    this.faults = new Faults(this.globalRng, () => this.clock.now());
    this.identities = new IdentityRegistry(this.accountId);
    this.quotas = {
      vpcsPerRegion: 5,
      interfaceEndpointsPerVpc: 50,
      endpointPolicyMaxChars: 20480,
      ...opts.quotas,
    };
    this.world = {
      endpointPolicyUpdatesApply: true,
      ignoreDenyPolicyUpdates: false,
      modelsWithoutAccess: [],
      serviceControlPolicies: [],
      automations: [],
      denyEnforcedAs: 'explicit',
      ...opts.world,
    };
  }

  /**
   * Randomness for ids and choices. Work done for a Step Functions execution (its tasks, the
   * sandboxes they run in, the calls those make) draws from that run's own stream, so a run's
   * draws do not depend on what other runs in this emulator do, nor on their interleaving.
   */
  get rng(): Rng {
    const run = this.clock.runKey();
    return run === undefined ? this.globalRng : this.stream(run);
  }

  /**
   * The current run's stream named `key` (the global stream outside any run). One stream per run
   * and kind of draw: concurrent branches of one run (endpoint and probe) cannot swap each other's
   * draws by reaching the emulator in another order.
   */
  rngFor(key: string): Rng {
    const run = this.clock.runKey();
    return run === undefined ? this.globalRng : this.stream(`${run}\u0000${key}`);
  }

  private stream(key: string): Rng {
    let r = this.streams.get(key);
    if (!r) {
      r = new Rng(seedFor(this.seed, key));
      this.streams.set(key, r);
    }
    return r;
  }

  /** Every delay drawn, in order: benchmarks derive the run's critical-path lower bound from it. */
  readonly draws: { key: keyof LatencyRanges; ms: number; at: number }[] = [];

  /** Draw a delay (virtual ms) from the profile. */
  delay(key: keyof LatencyRanges, scope = ''): number {
    const ms = draw(this.rngFor(`${key}\u0000${scope}`), this.profile.ranges[key]);
    if (this.draws.length < 10_000) this.draws.push({ key, ms, at: this.clock.now() });
    return ms;
  }

  now(): number {
    return this.clock.now();
  }

  isBedrockRegion(region: string): boolean {
    return (BEDROCK_REGIONS as readonly string[]).includes(region);
  }
}

/** A 32-bit seed from the emulator's seed and a stream name (FNV-1a). */
function seedFor(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
