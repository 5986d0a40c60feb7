/** Parse what the state machine hands a task, with the contract, once, at the edge. */
import {
  BYSTANDER_NAME_PREFIX,
  describeInputProblem,
  type ExecutionInput,
  ExecutionInputSchema,
  PROBE_NAME_PREFIX,
  PROBE_ROLE_PATH,
  type RunState,
  RunStateSchema,
} from '../../statemachine/contract.ts';
import { invalidInput } from './errors.ts';

export function parseRunState(event: unknown): RunState {
  const parsed = RunStateSchema.safeParse(event);
  if (!parsed.success) throw invalidInput(describeInputProblem(parsed.error));
  return parsed.data;
}

export function parseInput(raw: unknown): ExecutionInput {
  const parsed = ExecutionInputSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(describeInputProblem(parsed.error));
  return parsed.data;
}

/** A stage's output, or a clear error when an earlier stage did not produce it. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw invalidInput(`${what} is missing from the state: an earlier stage did not run`);
  return value;
}

/** The probe function and its role share one name, derived from the run id. */
export const probeName = (runId: string) => `${PROBE_NAME_PREFIX}${runId}`;

/** The bystander role of obligation 3, derived from the run id so teardown and the sweeper find it. */
export const bystanderName = (runId: string) => `${BYSTANDER_NAME_PREFIX}${runId}`;

/**
 * The probe role's ARN, known before the role exists: CreateEndpoint writes it into the endpoint
 * policy while CreateProbe is still to create the role (CreateProbe checks the role it gets matches).
 */
export const probeRoleArn = (accountId: string, runId: string) =>
  `arn:aws:iam::${accountId}:role${PROBE_ROLE_PATH}${probeName(runId)}`;

export const serviceNameFor = (region: string) => `com.amazonaws.${region}.bedrock-runtime`;
export const bedrockRuntimeHost = (region: string) => `bedrock-runtime.${region}.amazonaws.com`;
