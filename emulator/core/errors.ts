/** An error in AWS's own vocabulary: the protocol adapters render it in each service's wire format. */
export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra members some services put beside code and message (e.g. Lambda's `Type`). */
  readonly extra: Record<string, unknown>;

  constructor(code: string, message: string, status = 400, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AwsError';
    this.code = code;
    this.status = status;
    this.extra = extra;
  }
}

export function isAwsError(e: unknown): e is AwsError {
  return e instanceof AwsError;
}
