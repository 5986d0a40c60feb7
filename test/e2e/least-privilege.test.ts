/**
 * The local deployer installs the roles the CDK stack synthesizes, and the emulator enforces them:
 * a task role missing one permission fails the run the way AWS would, naming the action.
 */
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/local.ts';
import { type SynthProduct, synthesizedProduct } from '../../cli/synth-roles.ts';
import { DEFAULT_ACCOUNT_ID } from '../../emulator/core/context.ts';
import type { Emulator } from '../../emulator/emulator.ts';

const REMOVED = 'ec2:ModifyVpcAttribute';

/** Replace the network task role's policies with the synthesized ones minus one action. */
function networkRoleWithout(emu: Emulator, synth: SynthProduct, action: string): void {
  const role = synth.roles.find((r) => r.name === 'privatelink-verify-network')!;
  const ops = emu.iam.api.operations;
  const call = { caller: emu.ctx.identities.admin(), region: 'us-east-1', requestId: 't', headers: {} };
  if (!emu.iam.role(role.name))
    ops.CreateRole!(
      { RoleName: role.name, AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy) },
      call,
    );
  for (const p of role.inlinePolicies) {
    const doc = structuredClone(p.document) as { Statement: { Action: string | string[] }[] };
    doc.Statement = doc.Statement.map((s) => ({
      ...s,
      Action: ([] as string[]).concat(s.Action).filter((a) => a !== action),
    })).filter((s) => (s.Action as string[]).length > 0);
    ops.PutRolePolicy!(
      { RoleName: role.name, PolicyName: p.name, PolicyDocument: JSON.stringify(doc) },
      call,
    );
  }
}

describe('least privilege, enforced locally', () => {
  it(`a network task role without ${REMOVED} fails the run with that action named`, async () => {
    const synth = await synthesizedProduct(DEFAULT_ACCOUNT_ID, 'us-east-1', 'privatelink-verify');
    const result = await runLocal(
      {
        scenario: 'correct',
        input: {
          runId: 'e2e-least-privilege',
          region: 'us-east-1',
          modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        },
        profile: 'instant',
        json: false,
        quiet: true,
      },
      () => {},
      { onStarted: (emu) => networkRoleWithout(emu, synth, REMOVED) },
    );
    expect(result.report.verdict).toBe('error');
    expect(result.report.failure?.cause).toContain(`is not authorized to perform: ${REMOVED} on resource:`);
    expect(result.report.failure?.cause).toContain('because no identity-based policy allows');
  }, 180_000);
});
