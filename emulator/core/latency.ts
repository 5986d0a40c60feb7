import type { Rng } from './clock.ts';

/**
 * Every delay the emulator models, in virtual seconds as [min, max]. Figures for `realistic`
 * come from shared/AWS-FACTS.md; `instant` is for tests.
 */
export interface LatencyRanges {
  /** Interface endpoint `pending` → `available`. */
  endpointAvailable: [number, number];
  /** Endpoint actually carries traffic this long after it says `available`. */
  endpointUsable: [number, number];
  /** ModifyVpcEndpoint policy change takes effect. */
  endpointPolicyPropagation: [number, number];
  /** DeleteVpcEndpoints: `deleting` → gone. */
  endpointDelete: [number, number];
  /** Lambda with VpcConfig `Pending` → `Active`. */
  functionActive: [number, number];
  /** UpdateFunctionConfiguration `InProgress` → `Successful`. */
  functionUpdate: [number, number];
  /** A new role cannot be assumed by Lambda for this long after CreateRole. */
  roleAssumable: [number, number];
  /** Lambda ENI stays `in-use` this long after DeleteFunction, then `available`. */
  eniDetach: [number, number];
  /** Lambda itself deletes a detached ENI this long after detaching. */
  eniLambdaDelete: [number, number];
  /** Describe* may answer NotFound this long after Create*. */
  eventualConsistency: [number, number];
  /** A connection into a black hole is held this long before the server gives up on it. */
  blackholeHold: [number, number];
  /**
   * A new Lambda sandbox's cold start (Init) before its first handler runs. AWS: "cold starts
   * typically occur in under 1% of invocations [and] range from under 100 ms to over 1 second"
   * (Lambda Operator Guide, "Understanding the Lambda execution environment lifecycle" /
   * Compute blog "Operating Lambda: Performance optimization – Part 1").
   */
  coldStart: [number, number];
}

export interface LatencyProfile {
  name: LatencyProfileName;
  /**
   * The default cap on the event clock (core/clock.ts): real seconds per virtual second at the
   * fastest, for clients outside the emulator that watch states change. 0: no cap.
   */
  timeScale: number;
  ranges: LatencyRanges;
  /**
   * An intermediate state a client must wait out (endpoint `pending`/`deleting`, a VPC function
   * `Pending` or `InProgress`, a released ENI `in-use`) ends only once a client has been shown
   * it. At instant's timeScale a loaded machine's few real milliseconds between two calls are
   * tens of virtual seconds and would otherwise swallow the state; the delays still apply.
   */
  showsEveryState: boolean;
}

export type LatencyProfileName = 'instant' | 'realistic';

const zero: [number, number] = [0, 0];

export const PROFILES: Record<LatencyProfileName, LatencyProfile> = {
  /**
   * AWS's state machines with short delays: every state AWS shows (endpoint `pending` and
   * `deleting`, the old policy after a change, Lambda `Pending` and `InProgress`, ENIs `in-use`
   * after DeleteFunction) lasts some virtual seconds, a few real milliseconds at this timeScale,
   * so a client that does not wait fails here as on AWS. The delays are long enough that a call
   * made right after the one that started a transition (a loopback round trip, several virtual
   * seconds on a loaded machine) still sees the intermediate state.
   */
  instant: {
    name: 'instant',
    timeScale: 0.001,
    showsEveryState: true,
    ranges: {
      endpointAvailable: [20, 30],
      endpointUsable: [2, 5],
      endpointPolicyPropagation: [15, 25],
      endpointDelete: [15, 25],
      functionActive: [20, 30],
      functionUpdate: [20, 30],
      roleAssumable: zero,
      eniDetach: [20, 30],
      eniLambdaDelete: [3600, 3600],
      eventualConsistency: zero,
      blackholeHold: [600, 600],
      coldStart: [0.1, 0.3],
    },
  },
  realistic: {
    name: 'realistic',
    timeScale: 1,
    showsEveryState: false,
    ranges: {
      endpointAvailable: [60, 150],
      endpointUsable: [20, 30],
      endpointPolicyPropagation: [30, 120],
      endpointDelete: [20, 60],
      functionActive: [45, 75],
      functionUpdate: [60, 180],
      roleAssumable: [5, 12],
      eniDetach: [200, 280],
      eniLambdaDelete: [600, 1200],
      eventualConsistency: [0, 2],
      blackholeHold: [600, 600],
      coldStart: [0.2, 1.2],
    },
  },
};

export function profileNamed(name: string): LatencyProfile {
  if (name !== 'instant' && name !== 'realistic') {
    throw new RangeError(`unknown latency profile "${name}": use instant or realistic`);
  }
  return PROFILES[name];
}

/** Draw one delay in virtual milliseconds. */
export function draw(rng: Rng, range: [number, number]): number {
  return Math.round(rng.between(range[0], range[1]) * 1000);
}
