import { Emulator, type StartOptions } from '../../emulator/emulator.ts';

/** Start an emulator on a free loopback port for one test file; close it after. */
export async function startTestEmulator(opts: StartOptions = {}): Promise<Emulator> {
  return Emulator.start({ port: 0, ...opts });
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
