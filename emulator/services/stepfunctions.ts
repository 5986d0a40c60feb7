import { randomUUID } from 'node:crypto';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { trustAllows } from '../auth/trust.ts';
import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type { Tags } from '../core/models.ts';
import type { EmulatedService, InventoryItem, JsonApi, OperationCall } from '../core/service.ts';
import { validateDefinition } from './stepfunctions/definition.ts';
import {
  Execution,
  type ExecutionStatus,
  type ExecutionStatusChange,
  type HistoryEvent,
} from './stepfunctions/execution.ts';

export type { ExecutionStatusChange } from './stepfunctions/execution.ts';

interface StateMachineRecord {
  arn: string;
  name: string;
  region: string;
  definitionText: string;
  definition: StateMachineDefinition;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  loggingConfiguration: Record<string, unknown>;
  tracingConfiguration: Record<string, unknown>;
  /** Virtual epoch ms. */
  creationDate: number;
  revisionId: string;
  tags: Tags;
  /** Virtual epoch ms at which a DeleteStateMachine completes; until then the machine is DELETING. */
  deletedAt?: number;
  /** A caller has seen it DELETING: on every profile the state is observable at least once. */
  deleteObserved?: boolean;
}

/**
 * DeleteStateMachine only marks the machine for deletion: it is DELETING, then gone, "once all
 * executions are stopped" (Step Functions API reference, DeleteStateMachine).
 */
const DELETE_VIRTUAL_MS = 2_000;

/** State machine and execution names: 1–80 characters, none of AWS's forbidden ones (nor control characters). */
const FORBIDDEN_IN_NAMES = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
function isValidName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 80 || FORBIDDEN_IN_NAMES.test(name))
    return false;
  for (const ch of name) {
    const code = ch.codePointAt(0)!;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/.+$/;
const STATUSES: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

/** The SDK reads awsJson timestamps as epoch seconds. */
function epochSeconds(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : ms / 1000;
}

function validation(field: string, value: unknown, constraint: string): AwsError {
  return new AwsError(
    'ValidationException',
    `1 validation error detected: Value ${value === undefined ? 'null' : `'${String(value)}'`} at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

/** Offset-based pages; the token is opaque to callers, as AWS's are. */
function page<T>(
  items: T[],
  input: Record<string, any>,
  defaultMax: number,
): { items: T[]; nextToken?: string } {
  const max =
    input.maxResults === undefined || input.maxResults === 0 ? defaultMax : Number(input.maxResults);
  if (!Number.isInteger(max) || max < 0 || max > 1000)
    throw validation('maxResults', input.maxResults, 'Member must have value less than or equal to 1000');
  let start = 0;
  if (input.nextToken !== undefined && input.nextToken !== null) {
    const decoded = Number(Buffer.from(String(input.nextToken), 'base64url').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0)
      throw new AwsError('InvalidToken', `Invalid Token: '${input.nextToken}'`);
    start = decoded;
  }
  const slice = items.slice(start, start + max);
  const next =
    start + max < items.length ? Buffer.from(String(start + max), 'utf8').toString('base64url') : undefined;
  return next === undefined ? { items: slice } : { items: slice, nextToken: next };
}

function tagList(tags: Tags): { key: string; value: string }[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/**
 * Step Functions (awsJson1_0): state machines and Standard-workflow executions run by
 * aws-local-stepfunctions, with Task states invoking the emulator's Lambda and all waiting on the
 * virtual clock.
 */
export class StepFunctionsService implements EmulatedService {
  readonly name = 'states' as const;
  readonly api: JsonApi;
  private readonly ctx: EmulatorContext;
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, Execution>();
  private readonly listeners = new Set<(e: ExecutionStatusChange) => void>();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    this.api = {
      protocol: 'json',
      targetPrefix: 'AWSStepFunctions',
      operations: {
        CreateStateMachine: async (input, call) => {
          await this.checkRoleAssumable(
            input.roleArn,
            `arn:aws:states:${call.region}:${this.ctx.accountId}:stateMachine:${String(input.name)}`,
          );
          return this.createStateMachine(input, call);
        },
        DescribeStateMachine: (input) => this.describeStateMachine(input),
        UpdateStateMachine: async (input) => {
          if (input.roleArn !== undefined)
            await this.checkRoleAssumable(input.roleArn, input.stateMachineArn);
          return this.updateStateMachine(input);
        },
        DeleteStateMachine: (input) => this.deleteStateMachine(input),
        ListStateMachines: (input, call) => this.listStateMachines(input, call),
        StartExecution: (input) => this.startExecution(input),
        DescribeExecution: (input) => this.describeExecution(input),
        DescribeStateMachineForExecution: (input) => this.describeStateMachineForExecution(input),
        GetExecutionHistory: (input) => this.getExecutionHistory(input),
        StopExecution: (input) => this.stopExecution(input),
        ListExecutions: (input) => this.listExecutions(input),
        TagResource: (input) => this.tagResource(input),
        UntagResource: (input) => this.untagResource(input),
        ListTagsForResource: (input) => ({ tags: tagList(this.taggable(input.resourceArn).tags) }),
      },
    };
  }

  /** Execution status changes (RUNNING at start, then the final status), as EventBridge would deliver them. Returns an unsubscribe. */
  onExecutionStatusChange(listener: (e: ExecutionStatusChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  inventory(): InventoryItem[] {
    const items: InventoryItem[] = [];
    for (const m of this.liveMachines()) {
      items.push({
        service: 'states',
        type: 'state-machine',
        id: m.arn,
        region: m.region,
        state: m.deletedAt !== undefined ? 'DELETING' : 'ACTIVE',
        tags: { ...m.tags },
      });
    }
    for (const e of this.executions.values()) {
      if (e.status === 'RUNNING')
        items.push({
          service: 'states',
          type: 'execution',
          id: e.arn,
          region: e.region,
          state: e.status,
          tags: {},
        });
    }
    return items;
  }

  reset(): void {
    this.stopAll();
    this.machines.clear();
    this.executions.clear();
  }

  async close(): Promise<void> {
    this.stopAll();
  }

  private stopAll(): void {
    // Not a status change anyone should react to (no EventBridge-style cleanup on shutdown).
    for (const e of this.executions.values()) {
      e.stop('Emulator.Shutdown', 'The emulator stopped this execution.', { notify: false });
    }
  }

  private notify(e: Execution): void {
    const change = e.snapshot();
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.ctx.log({ level: 'error', msg: 'execution status listener failed', error: String(err) });
      }
    }
  }

  // ---- state machines ----

  private createStateMachine(input: Record<string, any>, call: OperationCall) {
    const name = input.name;
    if (!isValidName(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const roleArn = input.roleArn;
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn))
      throw new AwsError('InvalidArn', `Invalid Arn: '${roleArn}'`);
    const type = input.type ?? 'STANDARD';
    if (type !== 'STANDARD' && type !== 'EXPRESS')
      throw validation('type', type, 'Member must satisfy enum value set: [STANDARD, EXPRESS]');
    const definition = validateDefinition(input.definition);
    const arn = `arn:aws:states:${call.region}:${this.ctx.accountId}:stateMachine:${name}`;
    const loggingConfiguration = input.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false };
    const tracingConfiguration = input.tracingConfiguration ?? { enabled: false };
    const existing = this.machines.get(arn);
    if (existing?.deletedAt !== undefined)
      throw new AwsError('StateMachineDeleting', `State Machine is being deleted: '${arn}'`);
    if (existing) {
      // Idempotency is decided by name, definition, type, logging and tracing: a different roleArn
      // (or tags) is ignored and not applied (Step Functions API reference, CreateStateMachine).
      const same =
        existing.definitionText === input.definition &&
        existing.type === type &&
        JSON.stringify(existing.loggingConfiguration) === JSON.stringify(loggingConfiguration) &&
        JSON.stringify(existing.tracingConfiguration) === JSON.stringify(tracingConfiguration);
      if (!same) throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
      return { stateMachineArn: arn, creationDate: epochSeconds(existing.creationDate) };
    }
    const tags: Tags = {};
    for (const t of (input.tags ?? []) as { key: string; value?: string }[]) tags[t.key] = t.value ?? '';
    const record: StateMachineRecord = {
      arn,
      name,
      region: call.region,
      definitionText: input.definition,
      definition,
      roleArn,
      type,
      loggingConfiguration,
      tracingConfiguration,
      creationDate: Math.floor(this.ctx.now()),
      revisionId: randomUUID(),
      tags,
    };
    this.machines.set(arn, record);
    return { stateMachineArn: arn, creationDate: epochSeconds(record.creationDate) };
  }

  private machine(arn: unknown): StateMachineRecord {
    if (typeof arn !== 'string' || !/^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:/.test(arn)) {
      throw new AwsError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`,
      );
    }
    const m = this.machines.get(arn);
    if (m && this.gone(m)) this.machines.delete(arn);
    const live = this.machines.get(arn);
    if (!live) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return live;
  }

  /** Machines not yet gone (DELETING ones until their deletion completes). */
  private liveMachines(): StateMachineRecord[] {
    const now = this.ctx.now();
    for (const [arn, m] of this.machines) if (this.gone(m, now)) this.machines.delete(arn);
    return [...this.machines.values()];
  }

  /** Deletion completes once its time has come and DELETING was seen (or long after, unseen). */
  private gone(m: StateMachineRecord, now = this.ctx.now()): boolean {
    if (m.deletedAt === undefined || now < m.deletedAt) return false;
    return m.deleteObserved === true || now >= m.deletedAt + 30 * DELETE_VIRTUAL_MS;
  }

  /**
   * The role must exist and trust states.amazonaws.com; AWS answers otherwise with the message
   * quoted in lumigo-io/lumigo-CLI#83 and awsdocs/aws-step-functions-developer-guide#23.
   */
  private async checkRoleAssumable(roleArn: unknown, stateMachineArn: unknown): Promise<void> {
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) return; // validated as InvalidArn later
    const role = this.ctx.iam.role(roleArn);
    if (
      !role ||
      role.arn !== roleArn ||
      !(await trustAllows(this.ctx, role, {
        service: 'states.amazonaws.com',
        sourceArn: String(stateMachineArn),
      }))
    )
      throw new AwsError(
        'AccessDeniedException',
        'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.',
      );
  }

  private describeMachine(m: StateMachineRecord) {
    if (m.deletedAt !== undefined) m.deleteObserved = true;
    return {
      stateMachineArn: m.arn,
      name: m.name,
      status: m.deletedAt !== undefined ? 'DELETING' : 'ACTIVE',
      definition: m.definitionText,
      roleArn: m.roleArn,
      type: m.type,
      creationDate: epochSeconds(m.creationDate),
      loggingConfiguration: m.loggingConfiguration,
      tracingConfiguration: m.tracingConfiguration,
      revisionId: m.revisionId,
    };
  }

  private describeStateMachine(input: Record<string, any>) {
    return this.describeMachine(this.machine(input.stateMachineArn));
  }

  private updateStateMachine(input: Record<string, any>) {
    const m = this.machine(input.stateMachineArn);
    if (
      input.definition === undefined &&
      input.roleArn === undefined &&
      input.loggingConfiguration === undefined &&
      input.tracingConfiguration === undefined
    ) {
      throw new AwsError(
        'MissingRequiredParameter',
        'Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified',
      );
    }
    if (input.roleArn !== undefined && !ROLE_ARN.test(String(input.roleArn)))
      throw new AwsError('InvalidArn', `Invalid Arn: '${input.roleArn}'`);
    // Running executions keep the definition they started with.
    if (input.definition !== undefined) {
      m.definition = validateDefinition(input.definition);
      m.definitionText = input.definition;
    }
    if (input.roleArn !== undefined) m.roleArn = input.roleArn;
    if (input.loggingConfiguration !== undefined) m.loggingConfiguration = input.loggingConfiguration;
    if (input.tracingConfiguration !== undefined) m.tracingConfiguration = input.tracingConfiguration;
    m.revisionId = randomUUID();
    return { updateDate: epochSeconds(this.ctx.now()), revisionId: m.revisionId };
  }

  private deleteStateMachine(input: Record<string, any>) {
    const arn = input.stateMachineArn;
    if (typeof arn !== 'string' || !arn.includes(':stateMachine:'))
      throw new AwsError('InvalidArn', `Invalid Arn: '${String(arn)}'`);
    const m = this.machines.get(arn);
    if (!m || m.deletedAt !== undefined) return {};
    m.deletedAt = this.ctx.now() + DELETE_VIRTUAL_MS;
    // Deleting a state machine ends its running executions.
    for (const e of this.executions.values()) {
      if (e.stateMachineArn === arn) e.stop('States.Deleted', 'The state machine was deleted.');
    }
    return {};
  }

  private listStateMachines(input: Record<string, any>, call: OperationCall) {
    const all = this.liveMachines()
      .filter((m) => m.region === call.region)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => ({
        stateMachineArn: m.arn,
        name: m.name,
        type: m.type,
        creationDate: epochSeconds(m.creationDate),
      }));
    const { items, nextToken } = page(all, input, 100);
    return { stateMachines: items, nextToken };
  }

  // ---- executions ----

  private startExecution(input: Record<string, any>) {
    const m = this.machine(input.stateMachineArn);
    if (m.deletedAt !== undefined)
      throw new AwsError('StateMachineDeleting', `State Machine is being deleted: '${m.arn}'`);
    const name = input.name ?? randomUUID();
    if (!isValidName(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
    const text = input.input ?? '{}';
    try {
      JSON.parse(text);
    } catch (e) {
      throw new AwsError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(e as Error).message}'`,
      );
    }
    if (Buffer.byteLength(text) > 256 * 1024) {
      throw new AwsError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: the input exceeds the maximum size of 262144 bytes',
      );
    }
    const arn = `arn:aws:states:${m.region}:${this.ctx.accountId}:execution:${m.name}:${name}`;
    const existing = this.executions.get(arn);
    if (existing) {
      // A retried StartExecution (same name, same input, still running) gets the same execution back.
      if (existing.status === 'RUNNING' && existing.input === text) {
        return { executionArn: existing.arn, startDate: epochSeconds(existing.startDate) };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const execution = new Execution(
      this.ctx,
      {
        executionArn: arn,
        name,
        stateMachineArn: m.arn,
        stateMachineName: m.name,
        roleArn: m.roleArn,
        region: m.region,
        definition: m.definition,
        input: text,
      },
      (e) => this.notify(e),
    );
    this.executions.set(arn, execution);
    execution.start();
    return { executionArn: arn, startDate: epochSeconds(execution.startDate) };
  }

  private execution(arn: unknown): Execution {
    if (
      typeof arn !== 'string' ||
      !/^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/.test(arn)
    ) {
      throw new AwsError(
        'InvalidArn',
        `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`,
      );
    }
    const e = this.executions.get(arn);
    if (!e) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return e;
  }

  private describeExecution(input: Record<string, any>) {
    const e = this.execution(input.executionArn);
    return {
      executionArn: e.arn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: epochSeconds(e.startDate),
      stopDate: epochSeconds(e.stopDate),
      input: e.input,
      inputDetails: { included: true },
      output: e.output,
      outputDetails: e.output === undefined ? undefined : { included: true },
      error: e.error,
      cause: e.cause,
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
    };
  }

  private describeStateMachineForExecution(input: Record<string, any>) {
    const e = this.execution(input.executionArn);
    const m = this.machines.get(e.stateMachineArn);
    if (!m) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${e.arn}'`);
    const d = this.describeMachine(m);
    return {
      stateMachineArn: d.stateMachineArn,
      name: d.name,
      definition: d.definition,
      roleArn: d.roleArn,
      updateDate: d.creationDate,
      revisionId: d.revisionId,
    };
  }

  private getExecutionHistory(input: Record<string, any>) {
    const e = this.execution(input.executionArn);
    const includeData = input.includeExecutionData !== false;
    let events: HistoryEvent[] = [...e.events];
    if (input.reverseOrder === true) events.reverse();
    const { items, nextToken } = page(events, input, 100);
    events = items.map((ev) => {
      const out: Record<string, unknown> = { ...ev, timestamp: epochSeconds(ev.timestamp) };
      if (!includeData) {
        for (const [k, v] of Object.entries(out)) {
          if (k.endsWith('EventDetails') && v && typeof v === 'object') {
            const { input: _i, output: _o, ...rest } = v as Record<string, unknown>;
            out[k] = rest;
          }
        }
      }
      return out as HistoryEvent;
    });
    return { events, nextToken };
  }

  private stopExecution(input: Record<string, any>) {
    const e = this.execution(input.executionArn);
    e.stop(input.error, input.cause);
    return { stopDate: epochSeconds(e.stopDate ?? this.ctx.now()) };
  }

  private listExecutions(input: Record<string, any>) {
    const m = this.machine(input.stateMachineArn);
    const filter = input.statusFilter;
    if (filter !== undefined && !STATUSES.includes(filter)) {
      throw validation(
        'statusFilter',
        filter,
        `Member must satisfy enum value set: [${STATUSES.join(', ')}]`,
      );
    }
    const all = [...this.executions.values()]
      .filter((e) => e.stateMachineArn === m.arn && (filter === undefined || e.status === filter))
      .reverse()
      .map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: epochSeconds(e.startDate),
        stopDate: epochSeconds(e.stopDate),
      }));
    const { items, nextToken } = page(all, input, 100);
    return { executions: items, nextToken };
  }

  // ---- tags ----

  private taggable(arn: unknown): StateMachineRecord {
    const m = typeof arn === 'string' ? this.machines.get(arn) : undefined;
    if (!m) throw new AwsError('ResourceNotFound', `Resource not found: '${String(arn)}'`);
    return m;
  }

  private tagResource(input: Record<string, any>) {
    const m = this.taggable(input.resourceArn);
    for (const t of (input.tags ?? []) as { key: string; value?: string }[]) m.tags[t.key] = t.value ?? '';
    return {};
  }

  private untagResource(input: Record<string, any>) {
    const m = this.taggable(input.resourceArn);
    for (const k of (input.tagKeys ?? []) as string[]) delete m.tags[k];
    return {};
  }
}
