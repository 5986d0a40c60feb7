import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(() => emu.close());

describe('STS', () => {
  it('answers GetCallerIdentity for unknown keys as the account administrator', async () => {
    const sts = new STSClient(adminClientConfig(emu));
    const id = await sts.send(new GetCallerIdentityCommand({}));
    expect(id.Account).toBe('123456789012');
    expect(id.Arn).toBe('arn:aws:iam::123456789012:root');
  });

  it('reports the role session for keys the emulator issued for a role', async () => {
    const creds = emu.ctx.identities.issueForRole(
      'arn:aws:iam::123456789012:role/probe',
      'probe',
      'fn-probe',
    );
    const sts = new STSClient({ ...adminClientConfig(emu), credentials: creds });
    const id = await sts.send(new GetCallerIdentityCommand({}));
    expect(id.Arn).toBe('arn:aws:sts::123456789012:assumed-role/probe/fn-probe');
  });
});
