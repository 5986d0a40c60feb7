/**
 * Errors tasks throw on purpose. Their `name` is the error the state machine sees, so Retry and
 * Catch in the ASL can tell a transient AWS hiccup from a run that cannot go on.
 */
export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export const ERROR_NAMES = {
  /** Throttling or a 5xx that outlived the SDK's own retries: the ASL retries the task. */
  transient: 'PrivateLinkVerify.Transient',
  invalidInput: 'PrivateLinkVerify.InvalidInput',
  unsupported: 'PrivateLinkVerify.Unsupported',
  timeout: 'PrivateLinkVerify.Timeout',
  resourceFailed: 'PrivateLinkVerify.ResourceFailed',
} as const;

export const invalidInput = (message: string) => new TaskError(ERROR_NAMES.invalidInput, message);
export const unsupported = (message: string) => new TaskError(ERROR_NAMES.unsupported, message);
export const timedOut = (message: string) => new TaskError(ERROR_NAMES.timeout, message);
export const resourceFailed = (message: string) => new TaskError(ERROR_NAMES.resourceFailed, message);
