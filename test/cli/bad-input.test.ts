/**
 * Bad input gets one line that says what to fix, exit status 2, no stack trace, and nothing is
 * created. The CLI runs as a child process, as a user would run it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runLocal } from '../../cli/local.ts';

const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}

describe('privatelink-verify local: bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown region', ['--region', 'us-moon-1'], /region/],
    ['a region that looks right but does not exist', ['--region', 'us-east-9'], /not an AWS region/],
    ['a malformed model id', ['--model', 'claude haiku'], /model id must look like/],
    ['an invalid CIDR', ['--vpc-cidr', '10.0.0.0/33'], /vpcCidr/],
    ['a CIDR with host bits set', ['--vpc-cidr', '10.0.0.1/16'], /host bits/],
    ['a run id that is not a valid execution name', ['--run-id', 'has spaces!'], /run id/],
    ['an unknown scenario', ['--scenario', 'chaos'], /unknown scenario "chaos"/],
    ['an unknown option', ['--regoin', 'us-east-1'], /--regoin/],
    ['a bad time scale', ['--time-scale', 'fast'], /--time-scale/],
    // Was silently replaced by the default CIDR.
    ['an empty --vpc-cidr', ['--vpc-cidr', ''], /vpcCidr "" is not an IPv4 CIDR/],
    ['a run id too long for the probe function name', ['--run-id', 'x'.repeat(55)], /at most 54 characters/],
    ['a malformed pool name', ['--pool', 'My Pool'], /pool must be 1–24 lower-case/],
    ['a pool size without a pool', ['--pool-size', '2'], /--pool-size needs --pool/],
    [
      'a pool with a deliberately closed endpoint group',
      ['--pool', 'ci', '--scenario', 'sg-blocks-443'],
      /cannot be combined with pool/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} with one line and exit status 2`, () => {
      const r = cli('local', ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    });
  }

  it('refuses an unknown command with exit status 2', () => {
    const r = cli('verify-everything');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('prints help with exit status 0', () => {
    const r = cli('local', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--scenario/);
  });

  it('a region without Bedrock is refused by preflight: exit 2 and nothing created', async () => {
    let live: unknown[] = ['not inspected'];
    const result = await runLocal(
      {
        scenario: 'correct',
        input: {
          runId: 'no-bedrock-here',
          region: 'ca-west-1',
          modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
        },
        profile: 'instant',
        json: false,
        quiet: true,
      },
      () => {},
      {
        onFinished: (emu) => {
          // The product itself is deployed in that region; anything of the run's own would be EC2 or the probe.
          live = emu
            .inventory()
            .filter((i) => !i.builtIn && (i.service === 'ec2' || i.id.startsWith('plv-probe-')));
        },
      },
    );
    expect(result.exitCode).toBe(2);
    expect(result.report.failure).toMatchObject({
      stage: 'preflight',
      error: 'PrivateLinkVerify.Unsupported',
    });
    expect(result.report.failure?.cause).toMatch(/not offered in ca-west-1/);
    expect(live).toEqual([]);
  });

  it('an unknown model is refused by preflight: exit 2 (not a failed verification) and nothing created', async () => {
    let live: unknown[] = ['not inspected'];
    const result = await runLocal(
      {
        scenario: 'correct',
        input: {
          runId: 'no-such-model',
          region: 'us-east-1',
          modelId: 'anthropic.claude-9-nonexistent-v1:0',
        },
        profile: 'instant',
        json: false,
        quiet: true,
      },
      () => {},
      {
        onFinished: (emu) => {
          live = emu
            .inventory()
            .filter((i) => !i.builtIn && (i.service === 'ec2' || i.id.startsWith('plv-probe-')));
        },
      },
    );
    expect(result.report.failure).toMatchObject({
      stage: 'preflight',
      error: 'PrivateLinkVerify.InvalidInput',
    });
    expect(result.report.failure?.cause).toMatch(/is not offered by Amazon Bedrock in us-east-1/);
    expect(result.exitCode).toBe(2);
    expect(live).toEqual([]);
  });
});

describe('privatelink-verify sweep and emulator: bad input', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'sweep: a region that is not one',
      ['sweep', '--region', 'us-east-x'],
      /--region "us-east-x": region must be/,
    ],
    [
      'sweep: a region that looks right but does not exist',
      ['sweep', '--region', 'us-east-9'],
      /not an AWS region/,
    ],
    ['sweep: an unknown option', ['sweep', '--regoin', 'us-east-1'], /--regoin/],
    ['emulator: a region that is not one', ['emulator', '--region', 'moon-1'], /--region "moon-1"/],
    ['emulator: a bad port', ['emulator', '--port', 'ninety'], /--port/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} with one line and exit status 2`, () => {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }

  it('sweep with no credentials at all: exit 4 and one line (the documented credentials status)', () => {
    const r = spawnSync(process.execPath, [BIN, 'sweep', '--region', 'us-east-1'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: '/nonexistent',
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
        // Nothing must reach real AWS from a test: a closed loopback port.
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      },
    });
    expect(r.status).toBe(4);
    expect(r.stderr.trim()).toMatch(/AWS credentials missing or refused/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('privatelink-verify pool: bad input', () => {
  const cases: [string, string[], RegExp][] = [
    ['no action', [], /Usage: privatelink-verify pool create/],
    ['an unknown action', ['grow', '--pool', 'ci', '--region', 'us-east-1'], /unknown pool action "grow"/],
    ['a malformed pool name', ['create', '--pool', 'CI', '--region', 'us-east-1'], /--pool "CI" must be/],
    [
      'a region that does not exist',
      ['create', '--pool', 'ci', '--region', 'us-east-9'],
      /not an AWS region/,
    ],
    ['a size of zero', ['create', '--pool', 'ci', '--region', 'us-east-1', '--size', '0'], /--size must be/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} with exit status 2, before any AWS call`, () => {
      const r = cli('pool', ...args);
      expect(r.status).toBe(2);
      expect(`${r.stderr}${r.stdout}`).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
