import { trustAllows } from '../auth/trust.ts';
import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type { EmulatedService, InventoryItem, QueryApi } from '../core/service.ts';

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** STS: who am I, and role sessions whose keys carry the role's identity into later calls. */
export class StsService implements EmulatedService {
  readonly name = 'sts' as const;
  readonly api: QueryApi;

  constructor(ctx: EmulatorContext) {
    this.api = {
      protocol: 'query',
      xmlns: XMLNS,
      operations: {
        GetCallerIdentity: (_input, call) => ({
          Arn: call.caller.sessionArn,
          UserId: call.caller.isAdmin
            ? ctx.accountId
            : `AROA${call.caller.accessKeyId.slice(4, 20)}:${call.caller.sessionArn.split('/').pop()}`,
          Account: ctx.accountId,
        }),
        AssumeRole: async (input, call) => {
          const roleArn = String(input.RoleArn ?? '');
          const sessionName = String(input.RoleSessionName ?? '');
          if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
            throw new AwsError(
              'ValidationError',
              `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint`,
            );
          }
          // AWS refuses role sessions to the root user whatever the trust policy says
          // (real response quoted in kubeflow/testing#961).
          if (call.caller.isAdmin)
            throw new AwsError('AccessDenied', 'Roles may not be assumed by root accounts.', 403);
          const role = ctx.iam.role(roleArn);
          if (!role || !(await trustAllows(ctx, role, { caller: call.caller, region: call.region }))) {
            throw new AwsError(
              'AccessDenied',
              `User: ${call.caller.sessionArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
              403,
            );
          }
          const duration = Number(input.DurationSeconds ?? 3600);
          const creds = ctx.identities.issueForRole(role.arn, role.roleName, sessionName);
          return {
            Credentials: {
              AccessKeyId: creds.accessKeyId,
              SecretAccessKey: creds.secretAccessKey,
              SessionToken: creds.sessionToken,
              Expiration: new Date(Date.now() + duration * 1000).toISOString(),
            },
            AssumedRoleUser: {
              Arn: `arn:aws:sts::${ctx.accountId}:assumed-role/${role.roleName}/${sessionName}`,
              AssumedRoleId: `${role.roleId}:${sessionName}`,
            },
          };
        },
      },
    };
  }

  inventory(): InventoryItem[] {
    return [];
  }

  reset(): void {}
}
