/**
 * Short-lived credentials of another role for one call the verify task makes or hands to the
 * probe (the outside caller, the bystander). 900 s is the shortest session STS allows.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { client } from './clients.ts';

export interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export async function assumeForOneCall(
  region: string,
  roleArn: string,
  sessionName: string,
): Promise<SessionCredentials> {
  const r = await client(STSClient, region).send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: sessionName.slice(0, 64),
      DurationSeconds: 900,
    }),
  );
  return {
    accessKeyId: r.Credentials!.AccessKeyId!,
    secretAccessKey: r.Credentials!.SecretAccessKey!,
    sessionToken: r.Credentials!.SessionToken!,
  };
}
