/** `privatelink-verify emulator`: prints its URL, serves the SDK, deploys the product on request, stops cleanly on a signal. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { EMULATOR_ADMIN_CREDENTIALS } from '../../emulator/core/identity.ts';

const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
const creds = { ...EMULATOR_ADMIN_CREDENTIALS };

function start(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const lines = new Promise<{ url: string; arn?: string }>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /emulator listening: (\S+)/.exec(out)?.[1];
      const arn = /state machine: (\S+)/.exec(out)?.[1];
      if (url && (!args.includes('--deploy') || arn)) resolve({ url, ...(arn ? { arn } : {}) });
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before it was ready: ${out}`)));
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exit, output: () => out };
}

describe('privatelink-verify emulator', () => {
  it('prints its endpoint URL, answers the SDK there, and stops cleanly on SIGTERM', async () => {
    const e = start([]);
    const { url } = await e.lines;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const id = await new STSClient({ endpoint: url, region: 'us-east-1', credentials: creds }).send(
      new GetCallerIdentityCommand({}),
    );
    expect(id.Account).toBe('123456789012');
    e.child.kill('SIGTERM');
    expect(await e.exit).toBe(0);
    expect(e.output()).toMatch(/emulator stopped/);
  });

  it('with --deploy, prints a state machine ARN that exists in it', async () => {
    const e = start(['--deploy']);
    const { url, arn } = await e.lines;
    const sm = await new SFNClient({ endpoint: url, region: 'us-east-1', credentials: creds }).send(
      new DescribeStateMachineCommand({ stateMachineArn: arn! }),
    );
    expect(sm.definition).toContain('VerdictKnown');
    e.child.kill('SIGINT');
    expect(await e.exit).toBe(0);
  }, 60_000);
});
