import { randomBytes } from 'node:crypto';

/** Where a call comes from: outside any VPC, or from a function's VpcConfig. */
export interface CallerNetwork {
  vpcId: string;
  subnetIds: string[];
  securityGroupIds: string[];
}

export interface Caller {
  accessKeyId: string;
  /** ARN used for policy evaluation (`aws:PrincipalArn`): the role ARN for assumed roles. */
  principalArn: string;
  /** ARN GetCallerIdentity reports (assumed-role session ARN for roles). */
  sessionArn: string;
  /** Role name when the caller is a role session. */
  roleName?: string;
  /** The emulator-admin keys: the account's root user. */
  isAdmin: boolean;
  /** Set when the call originates inside a VPC (a function with VpcConfig). */
  network?: CallerNetwork;
  /** Lambda function that holds these credentials, if any. */
  functionName?: string;
}

/**
 * The one documented administrator key pair (README, `privatelink-verify emulator`): the account's
 * root user for people and tests. Every other key must have been issued by the emulator.
 */
export const EMULATOR_ADMIN_CREDENTIALS = {
  accessKeyId: 'AKIALOCALADMIN000000',
  secretAccessKey: 'local-admin-secret',
} as const;

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/**
 * Maps access keys the emulator issued to the principal and network they stand for. The SigV4
 * access key is the only identity a request carries, exactly as on AWS.
 */
export class IdentityRegistry {
  private readonly byKey = new Map<string, { caller: Caller; secretAccessKey: string }>();
  readonly accountId: string;

  constructor(accountId: string) {
    this.accountId = accountId;
  }

  admin(accessKeyId: string = EMULATOR_ADMIN_CREDENTIALS.accessKeyId): Caller {
    return {
      accessKeyId,
      principalArn: `arn:aws:iam::${this.accountId}:root`,
      sessionArn: `arn:aws:iam::${this.accountId}:root`,
      isAdmin: true,
    };
  }

  issueForRole(
    roleArn: string,
    roleName: string,
    sessionName: string,
    opts: { network?: CallerNetwork; functionName?: string } = {},
  ): IssuedCredentials {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const creds: IssuedCredentials = {
      accessKeyId,
      secretAccessKey: randomBytes(20).toString('base64'),
      sessionToken: randomBytes(32).toString('base64'),
    };
    const caller: Caller = {
      accessKeyId,
      principalArn: roleArn,
      sessionArn: `arn:aws:sts::${this.accountId}:assumed-role/${roleName}/${sessionName}`,
      roleName,
      isAdmin: false,
    };
    if (opts.network) caller.network = opts.network;
    if (opts.functionName) caller.functionName = opts.functionName;
    this.byKey.set(accessKeyId, { caller, secretAccessKey: creds.secretAccessKey });
    return creds;
  }

  revoke(accessKeyId: string): void {
    this.byKey.delete(accessKeyId);
  }

  /** The principal an access key stands for; `undefined` for keys the emulator never issued. */
  resolve(accessKeyId: string | undefined): Caller | undefined {
    if (!accessKeyId) return undefined;
    if (accessKeyId === EMULATOR_ADMIN_CREDENTIALS.accessKeyId) return this.admin();
    return this.byKey.get(accessKeyId)?.caller;
  }

  /** The secret that signs requests made with an issued key (for SigV4 verification). */
  secretOf(accessKeyId: string): string | undefined {
    if (accessKeyId === EMULATOR_ADMIN_CREDENTIALS.accessKeyId)
      return EMULATOR_ADMIN_CREDENTIALS.secretAccessKey;
    return this.byKey.get(accessKeyId)?.secretAccessKey;
  }

  reset(): void {
    this.byKey.clear();
  }
}

/** Access key from a SigV4 Authorization header or presigned query, plus the signed service and region. */
export function parseSigV4(
  authorization: string | undefined,
  query: URLSearchParams,
): { accessKeyId?: string; region?: string; service?: string } {
  const cred =
    authorization?.match(/Credential=([^,\s]+)/)?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  if (!cred) return {};
  const [accessKeyId, , region, service] = cred.split('/');
  return { accessKeyId, region, service };
}
