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
  /** No AWS credentials were found, or AWS refused them (expired, unknown, bad signature): nothing was started. */
  credentials: 4,
} as const;

/** Error names AWS and the SDK use for credentials that are missing or refused. */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'AuthFailure',
  'MissingAuthenticationToken',
]);

export function isCredentialError(err: unknown): boolean {
  return CREDENTIAL_ERRORS.has(String((err as { name?: string })?.name ?? ''));
}

/** One line for a credentials problem: what happened and where the credentials come from. */
export function credentialMessage(err: unknown): string {
  return `AWS credentials missing or refused (${(err as Error).name}: ${String((err as Error).message).split('\n')[0]}): configure the default credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO or OIDC)`;
}

/** A mistake the user can fix: printed as one line, never as a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
