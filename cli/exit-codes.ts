/** Exit statuses of every command, so scripts and CI can tell outcomes apart. */
export const EXIT = {
  /** Verification passed and nothing was left behind. */
  ok: 0,
  /** A check failed, or cleanup left resources behind. */
  verificationFailed: 1,
  /** The user's input is wrong: nothing was created. */
  badInput: 2,
  /** The run could not verify (infrastructure or emulator failure). */
  infrastructure: 3,
} as const;

/** A mistake the user can fix: printed as one line, never as a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
