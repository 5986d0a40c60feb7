/**
 * Named scenarios for `privatelink-verify local`: the world misbehaves (emulator settings) or the
 * input is deliberately wrong (execution options). Each one is something the verification must
 * catch or survive.
 */
import type { Emulator } from '../emulator/emulator.ts';
import type { ExecutionInputArgs } from '../statemachine/contract.ts';

export interface Scenario {
  name: string;
  description: string;
  /** What the verdict should be. */
  expect: 'pass' | 'fail' | 'error';
  input?: Partial<Pick<ExecutionInputArgs, 'options'>>;
  prepare?: (emu: Emulator, input: ExecutionInputArgs) => void;
}

export const SCENARIOS: Record<string, Scenario> = {
  correct: {
    name: 'correct',
    description: 'everything set up right: allow passes, the Deny takes effect',
    expect: 'pass',
  },
  'policy-not-enforced': {
    name: 'policy-not-enforced',
    description: 'the endpoint accepts the Deny policy but never enforces it',
    expect: 'fail',
    prepare: (emu) => {
      emu.ctx.world.ignoreDenyPolicyUpdates = true;
    },
  },
  'private-dns-off': {
    name: 'private-dns-off',
    description:
      "the endpoint's private DNS is off: the host name resolves to public addresses with no route",
    expect: 'fail',
    input: { options: { privateDnsEnabled: false } },
  },
  'sg-blocks-443': {
    name: 'sg-blocks-443',
    description: 'the endpoint security group does not admit 443 from the probe',
    expect: 'fail',
    input: { options: { endpointAllows443: false } },
  },
  'model-access-missing': {
    name: 'model-access-missing',
    description: 'the account has no access to the model: a 403 that is not a policy deny',
    expect: 'fail',
    prepare: (emu, input) => {
      emu.ctx.world.modelsWithoutAccess = [input.modelId];
    },
  },
  'fail-midway': {
    name: 'fail-midway',
    description: 'CreateVpcEndpoint is refused after the network exists: cleanup must still leave nothing',
    expect: 'error',
    prepare: (emu) => {
      emu.setFaults([
        {
          kind: 'error',
          service: 'ec2',
          operation: 'CreateVpcEndpoint',
          code: 'UnauthorizedOperation',
          status: 403,
          message: 'You are not authorized to perform this operation.',
        },
      ]);
    },
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);
