import type { Rng } from './clock.ts';
import { AwsError } from './errors.ts';
import type { ServiceName } from './service.ts';

/**
 * Fault injection, a setting of the emulator so tests can prove retries and cleanup.
 * `throttle`, `server-error`, `error` and `delay` are applied by the router before an operation
 * runs; `not-found-after-create`, `dependency-violation` and `stream-error` are consulted by the
 * services at the point where AWS would show them (`stream-error`: an exception inside a streaming
 * response that has already answered 200, after its first event).
 */
export type FaultKind =
  | 'throttle'
  | 'server-error'
  | 'error'
  | 'delay'
  | 'not-found-after-create'
  | 'dependency-violation'
  | 'stream-error';

export interface FaultRule {
  kind: FaultKind;
  service?: ServiceName;
  /** Operation name as in the API reference, e.g. `CreateVpcEndpoint`. */
  operation?: string;
  /** How many times it fires (default: every time). */
  times?: number;
  /** Chance per matching call, 0..1 (default 1). Draws use the emulator's seeded RNG. */
  probability?: number;
  /**
   * A window in simulated time, milliseconds after the rules were set: the rule fires only from
   * `fromMs` (default 0) until `untilMs` (default: for ever). An outage of a whole check window.
   */
  fromMs?: number;
  untilMs?: number;
  /** The first this-many matching calls pass untouched (the rule arms itself after them). */
  afterCalls?: number;
  /** For `delay`: virtual milliseconds added before the operation runs. */
  delayMs?: number;
  /** For `error`: the error to raise. */
  code?: string;
  message?: string;
  status?: number;
}

const THROTTLE: Record<ServiceName, [string, number, string]> = {
  ec2: ['RequestLimitExceeded', 503, 'Request limit exceeded.'],
  iam: ['Throttling', 400, 'Rate exceeded'],
  sts: ['Throttling', 400, 'Rate exceeded'],
  lambda: ['TooManyRequestsException', 429, 'Rate exceeded'],
  bedrock: ['ThrottlingException', 429, 'Too many requests, please wait before trying again.'],
  states: ['ThrottlingException', 400, 'Rate exceeded'],
  'access-analyzer': ['ThrottlingException', 429, 'Rate exceeded'], // botocore: ThrottlingException 429
};

const SERVER_ERROR: Record<ServiceName, [string, number]> = {
  ec2: ['InternalError', 500],
  iam: ['ServiceFailure', 500],
  sts: ['InternalFailure', 500],
  lambda: ['ServiceException', 500],
  bedrock: ['InternalServerException', 500],
  states: ['InternalFailure', 500],
  'access-analyzer': ['InternalServerException', 500], // botocore: InternalServerException 500
};

export class Faults {
  private rules: (FaultRule & { fired: number; seen: number })[] = [];
  private readonly rng: Rng;
  private readonly now: () => number;
  private setAt = 0;

  constructor(rng: Rng, now: () => number = () => 0) {
    this.rng = rng;
    this.now = now;
  }

  set(rules: FaultRule[]): void {
    for (const r of rules) {
      if (r.fromMs !== undefined && r.untilMs !== undefined && r.untilMs < r.fromMs)
        throw new Error(`fault window ends (${r.untilMs} ms) before it starts (${r.fromMs} ms)`);
    }
    this.rules = rules.map((r) => ({ ...r, fired: 0, seen: 0 }));
    this.setAt = this.now();
  }

  list(): FaultRule[] {
    return this.rules.map(({ fired: _f, seen: _s, ...r }) => r);
  }

  /** True (and counted) when a rule of this kind matches the call. */
  take(kind: FaultKind, service: ServiceName, operation: string): FaultRule | undefined {
    for (const r of this.rules) {
      if (r.kind !== kind) continue;
      if (r.service && r.service !== service) continue;
      if (r.operation && r.operation !== operation) continue;
      const t = this.now() - this.setAt;
      if (r.fromMs !== undefined && t < r.fromMs) continue;
      if (r.untilMs !== undefined && t >= r.untilMs) continue;
      r.seen++;
      if (r.afterCalls !== undefined && r.seen <= r.afterCalls) continue;
      if (r.times !== undefined && r.fired >= r.times) continue;
      if (r.probability !== undefined && this.rng.next() >= r.probability) continue;
      r.fired++;
      return r;
    }
    return undefined;
  }

  /** Router hook: throws the injected error, or returns a virtual delay to wait first. */
  beforeOperation(service: ServiceName, operation: string): number {
    const delay = this.take('delay', service, operation)?.delayMs ?? 0;
    if (this.take('throttle', service, operation)) {
      const [code, status, message] = THROTTLE[service];
      throw new AwsError(code, message, status);
    }
    if (this.take('server-error', service, operation)) {
      const [code, status] = SERVER_ERROR[service];
      throw new AwsError(code, 'We encountered an internal error. Please try again.', status);
    }
    const err = this.take('error', service, operation);
    if (err)
      throw new AwsError(err.code ?? 'InjectedFault', err.message ?? 'injected fault', err.status ?? 400);
    return delay;
  }
}
