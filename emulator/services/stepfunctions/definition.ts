import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { privateCacheDir } from '../../core/cache-dir.ts';
import { AwsError } from '../../core/errors.ts';

/** One state of an ASL definition, as written (JSONPath only). */
export type AslState = Record<string, any> & { Type: string };

export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'NONE' | 'FULL';
}

/** Resource the emulator gives the Wait states it turns into local tasks (never invoked on AWS). */
const LOCAL_WAIT_RESOURCE = 'arn:aws:states:::emulator:wait';
/** Resource of the gate the emulator puts at the start of each branch of a retried Parallel/Map. */
const LOCAL_RETRY_GATE_RESOURCE = 'arn:aws:states:::emulator:retry-gate';
const RETRY_GATE_PREFIX = '__EmulatorRetryGate:';

/** Names of the retry gates of a Parallel/Map state (one per branch; none without Retry). */
export function retryGateNames(name: string, state: AslState): string[] {
  if (!Array.isArray(state.Retry) || state.Retry.length === 0) return [];
  if (state.Type === 'Parallel')
    return (state.Branches as unknown[]).map((_b, i) => `${RETRY_GATE_PREFIX}${name}:${i}`);
  if (state.Type === 'Map') return [`${RETRY_GATE_PREFIX}${name}:0`];
  return [];
}

export function isRetryGate(stateName: string): boolean {
  return stateName.startsWith(RETRY_GATE_PREFIX);
}

/** The largest task timeout setTimeout accepts (2^31-1 ms): the library's own timer must never fire. */
const NEVER_SECONDS = 2_147_483;

/**
 * Parse and validate a definition the way CreateStateMachine does, with the library's validator
 * (asl-validator: schema, transitions, JSONPaths, ARNs).
 */
export function validateDefinition(text: unknown): StateMachineDefinition {
  if (typeof text !== 'string' || text.length === 0) {
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'definition' failed to satisfy constraint: Member must not be null",
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new AwsError(
      'InvalidDefinition',
      `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ${(e as Error).message}'`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AwsError(
      'InvalidDefinition',
      "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The definition must be a JSON object'",
    );
  }
  let def = parsed as Record<string, unknown>;
  if (def.QueryLanguage === 'JSONata' || JSON.stringify(def).includes('"QueryLanguage":"JSONata"')) {
    throw new AwsError(
      'InvalidDefinition',
      "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: JSONata is not supported by this emulator'",
    );
  }
  try {
    def = librarySchemaCheck(text, def);
  } catch (e) {
    const detail = String((e as Error).message)
      .replace(/^State machine definition is invalid, see error\(s\) below:\s*/, '')
      .trim()
      .replace(/\n+/g, ', ');
    throw new AwsError(
      'InvalidDefinition',
      `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ${detail}'`,
    );
  }
  // asl-validator lets any string through as a Task resource; AWS wants an ARN (an unsubstituted `${X}` is the usual slip).
  for (const [name, state] of indexStates(def as unknown as StateMachineDefinition)) {
    if (state.Type === 'Task' && !TASK_RESOURCE.test(String(state.Resource))) {
      throw new AwsError(
        'InvalidDefinition',
        `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Value is not a valid resource ARN at /States/${name}/Resource'`,
      );
    }
  }
  return def as unknown as StateMachineDefinition;
}

/**
 * Definitions the library's validator accepted, by text. asl-validator compiles its JSON schemas
 * anew on every call (about 0.3 s; ~0.2 s of every `npm start`'s deploy by --cpu-prof), and the
 * same definition is deployed again and again (every test emulator, every `npm start`); the
 * verdict depends on the text and the library alone. Kept in memory, and on disk across
 * processes in this user's own cache directory (core/cache-dir.ts), keyed by both.
 */
const ACCEPTED = new Map<string, string>();
const ACCEPTED_MAX = 64;
const acceptedDir = () => join(privateCacheDir('plv-emulator-cache'), 'asl-accepted');

function libraryVersions(): string {
  const require = createRequire(import.meta.url);
  const version = (name: string, from = require) => {
    try {
      return (JSON.parse(readFileSync(from.resolve(`${name}/package.json`), 'utf8')) as { version: string })
        .version;
    } catch {
      return 'unknown';
    }
  };
  let local: NodeJS.Require = require;
  try {
    local = createRequire(require.resolve('aws-local-stepfunctions'));
  } catch {
    // keep the emulator's own resolution
  }
  return `aws-local-stepfunctions@${version('aws-local-stepfunctions')} asl-validator@${version('asl-validator', local)}`;
}
let versions: string | undefined;

/** Validate `def` (parsed from `text`) as the library does, and leave it as validation leaves it. */
function librarySchemaCheck(text: string, def: Record<string, unknown>): Record<string, unknown> {
  // The validator fills in defaults (each state's QueryLanguage): a hit returns the same result.
  const seen = ACCEPTED.get(text);
  if (seen !== undefined) return JSON.parse(seen) as Record<string, unknown>;
  versions ??= libraryVersions();
  const file = join(
    acceptedDir(),
    `${createHash('sha256').update(versions).update('\0').update(text).digest('hex')}.json`,
  );
  try {
    const stored = readFileSync(file, 'utf8');
    const out = JSON.parse(stored) as Record<string, unknown>;
    remember(text, stored);
    return out;
  } catch {
    // not accepted before (or an unreadable entry): validate
  }
  new StateMachine(def as unknown as StateMachineDefinition);
  const result = JSON.stringify(def);
  remember(text, result);
  try {
    mkdirSync(acceptedDir(), { recursive: true });
    // Written then renamed: a concurrent reader sees the whole entry or none.
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    writeFileSync(temp, result);
    renameSync(temp, file);
  } catch {
    // a cache that cannot be written only costs the next process the validation
  }
  return def;
}

function remember(text: string, result: string): void {
  if (ACCEPTED.size >= ACCEPTED_MAX) ACCEPTED.clear();
  ACCEPTED.set(text, result);
}

const TASK_RESOURCE = /^arn:aws[\w-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:[^\s${}]+$/;

/** Every state of the machine by name, including Parallel branches and Map iterators (names are unique machine-wide). */
export function indexStates(def: StateMachineDefinition): Map<string, AslState> {
  const out = new Map<string, AslState>();
  const walk = (machine: { States?: Record<string, unknown> }) => {
    for (const [name, raw] of Object.entries(machine.States ?? {})) {
      const state = raw as AslState;
      out.set(name, state);
      if (state.Type === 'Parallel') for (const b of (state.Branches ?? []) as object[]) walk(b);
      if (state.Type === 'Map') {
        const inner = state.ItemProcessor ?? state.Iterator;
        if (inner) walk(inner);
      }
    }
  };
  walk(def as unknown as { States: Record<string, unknown> });
  return out;
}

/** Context-object paths the library fills with its own (wall-clock, per-branch) values: the emulator supplies them. */
const CONTEXT_REWRITES: [RegExp, string][] = [
  [/\$\$\.Execution\.StartTime/g, '$$$$.Execution.EmulatorStartTime'],
  [/\$\$\.Execution\.Input/g, '$$$$.Execution.EmulatorInput'],
];

function rewriteContextPaths(v: unknown): unknown {
  if (typeof v === 'string') {
    let s = v;
    for (const [re, to] of CONTEXT_REWRITES) s = s.replace(re, to);
    return s;
  }
  if (Array.isArray(v)) return v.map(rewriteContextPaths);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, rewriteContextPaths(val)]));
  }
  return v;
}

/**
 * The definition the library runs. Time-dependent behaviour moves to the emulator so it follows
 * the virtual clock: Task states keep their data flow but lose Retry and timeouts (the local
 * task handler owns them), Wait states become local tasks that sleep on the virtual clock, and the
 * machine-level TimeoutSeconds is enforced by the execution.
 */
export function prepareForLibrary(def: StateMachineDefinition): StateMachineDefinition {
  const prepareMachine = (machine: Record<string, any>): Record<string, any> => {
    const { TimeoutSeconds: _t, ...rest } = machine;
    const states: Record<string, any> = {};
    for (const [name, state] of Object.entries(rest.States as Record<string, AslState>)) {
      states[name] = prepareState(name, state);
    }
    return { ...rest, States: states };
  };
  // A retried Parallel/Map re-runs its branches at once; the gate (a local task) waits out the
  // retry interval on the virtual clock before the branch's first state.
  const gated = (machine: Record<string, any>, gate: string | undefined): Record<string, any> => {
    if (!gate) return machine;
    const gateState = {
      Type: 'Task',
      Resource: LOCAL_RETRY_GATE_RESOURCE,
      TimeoutSeconds: NEVER_SECONDS,
      Next: machine.StartAt,
    };
    return { ...machine, StartAt: gate, States: { [gate]: gateState, ...machine.States } };
  };
  const prepareState = (name: string, state: AslState): AslState => {
    switch (state.Type) {
      case 'Task': {
        const {
          Retry: _r,
          TimeoutSeconds: _ts,
          TimeoutSecondsPath: _tp,
          HeartbeatSeconds: _h,
          HeartbeatSecondsPath: _hp,
          ...rest
        } = state;
        return { ...rest, TimeoutSeconds: NEVER_SECONDS } as AslState;
      }
      case 'Wait': {
        const { Seconds: _s, SecondsPath: _sp, Timestamp: _ts, TimestampPath: _tp, ...rest } = state;
        return {
          ...rest,
          Type: 'Task',
          Resource: LOCAL_WAIT_RESOURCE,
          TimeoutSeconds: NEVER_SECONDS,
        } as AslState;
      }
      case 'Parallel': {
        const gates = retryGateNames(name, state);
        return {
          ...state,
          Branches: (state.Branches as Record<string, any>[]).map((b, i) =>
            gated(prepareMachine(b), gates[i]),
          ),
        };
      }
      case 'Map': {
        const [gate] = retryGateNames(name, state);
        const out: AslState = { ...state };
        if (state.ItemProcessor) out.ItemProcessor = gated(prepareMachine(state.ItemProcessor), gate);
        if (state.Iterator) out.Iterator = gated(prepareMachine(state.Iterator), gate);
        return out;
      }
      default:
        return state;
    }
  };
  return rewriteContextPaths(prepareMachine(def as unknown as Record<string, any>)) as StateMachineDefinition;
}

/**
 * A reference path (`$.a.b[0]['c']`, `$$.Execution.Id`) evaluated against input or context, for the
 * fields the emulator evaluates itself (SecondsPath, TimestampPath, TimeoutSecondsPath).
 */
export function readPath(path: string, input: unknown, context: unknown): unknown {
  let node: unknown = input;
  let rest = path;
  if (path.startsWith('$$')) {
    node = context;
    rest = path.slice(2);
  } else if (path.startsWith('$')) {
    rest = path.slice(1);
  } else {
    throw runtimeError(`Invalid path '${path}'`);
  }
  const re = /^(?:\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\])/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw runtimeError(`Invalid path '${path}'`);
    const key = m[1] ?? m[3] ?? m[4];
    if (key !== undefined) {
      node =
        node && typeof node === 'object' && !Array.isArray(node)
          ? (node as Record<string, unknown>)[key]
          : undefined;
    } else {
      const i = Number(m[2]);
      node = Array.isArray(node) ? node[i] : undefined;
    }
    rest = rest.slice(m[0].length);
  }
  if (node === undefined) {
    throw runtimeError(`The JSONPath '${path}' could not be found in the input '${JSON.stringify(input)}'`);
  }
  return node;
}

/** States.Runtime: neither retried nor caught, as on AWS (the library honours these flags). */
export function runtimeError(message: string): Error {
  const e = new Error(message) as Error & { isRetryable: boolean; isCatchable: boolean };
  e.name = 'States.Runtime';
  e.isRetryable = false;
  e.isCatchable = false;
  return e;
}
