import { Emulator, type StartOptions } from '../../emulator/emulator.ts';

/** Start an emulator on a free loopback port for one test file; close it after. */
export async function startTestEmulator(opts: StartOptions = {}): Promise<Emulator> {
  // An emulator crash is a bug in the emulator, never an AWS answer: show it beside the test.
  const log = (line: Record<string, unknown>) => {
    if (line.level === 'error') console.error(`emulator: ${String(line.msg)}: ${String(line.error ?? '')}`);
  };
  return Emulator.start({ port: 0, log, ...opts });
}

/** SDK v3 client settings for the account admin against this emulator. */
export function adminClientConfig(emu: Emulator, region = 'us-east-1') {
  return { ...emu.clientConfig(region), maxAttempts: 1 };
}

/**
 * A role a service may assume (its trust policy names the service principal), with an inline
 * policy allowing `actions` on `*`: what CreateFunction / CreateStateMachine require of a role.
 */
export async function createServiceRole(
  emu: Emulator,
  roleName: string,
  service: 'lambda.amazonaws.com' | 'states.amazonaws.com',
  actions: string[] = service === 'states.amazonaws.com' ? ['lambda:InvokeFunction'] : [],
): Promise<string> {
  const { CreateRoleCommand, IAMClient, PutRolePolicyCommand } = await import('@aws-sdk/client-iam');
  const iam = new IAMClient(adminClientConfig(emu));
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  if (actions.length)
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: 'allow',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
        }),
      }),
    );
  return role.Role!.Arn!;
}

/** `createServiceRole` once per emulator: later callers get the same role. */
export async function ensureServiceRole(
  emu: Emulator,
  roleName: string,
  service: 'lambda.amazonaws.com' | 'states.amazonaws.com',
): Promise<string> {
  const { GetRoleCommand, IAMClient } = await import('@aws-sdk/client-iam');
  try {
    return (await new IAMClient(adminClientConfig(emu)).send(new GetRoleCommand({ RoleName: roleName })))
      .Role!.Arn!;
  } catch {
    return createServiceRole(emu, roleName, service);
  }
}

/** A raw HTTP request signed with SigV4 as `credentials` (default: the admin pair) for `service`. */
export async function signedFetch(
  emu: Emulator,
  service: string,
  init: { path?: string; method?: string; headers?: Record<string, string>; body?: string },
  credentials: { accessKeyId: string; secretAccessKey: string } = emu.clientConfig().credentials,
): Promise<Response> {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('../../emulator/auth/credentials.ts');
  const url = new URL(`${emu.url}${init.path ?? '/'}`);
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service,
    sha256: Sha256,
    uriEscapePath: true,
  });
  const signed = await signer.sign({
    method: init.method ?? 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { ...init.headers, host: url.host },
    body: init.body,
  });
  return fetch(url, { method: signed.method, headers: signed.headers, body: init.body });
}
