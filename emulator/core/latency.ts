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
}

export interface LatencyProfile {
  name: LatencyProfileName;
  /** Real seconds per virtual second. */
  timeScale: number;
  ranges: LatencyRanges;
}

export type LatencyProfileName = 'instant' | 'realistic';

const zero: [number, number] = [0, 0];

export const PROFILES: Record<LatencyProfileName, LatencyProfile> = {
  instant: {
    name: 'instant',
    timeScale: 0.001,
    ranges: {
      endpointAvailable: zero,
      endpointUsable: zero,
      endpointPolicyPropagation: zero,
      endpointDelete: zero,
      functionActive: zero,
      functionUpdate: zero,
      roleAssumable: zero,
      eniDetach: zero,
      eniLambdaDelete: [3600, 3600],
      eventualConsistency: zero,
      blackholeHold: [600, 600],
    },
  },
  realistic: {
    name: 'realistic',
    timeScale: 1,
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
