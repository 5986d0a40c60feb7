/**
 * `privatelink-verify check --access-analyzer` against the emulator's ValidatePolicy: an invalid
 * action is an error at the line that declares it (exit 2), a clean perimeter has no findings (and
 * was asked: the emulator authorized each call), a warning does not block, and missing or refused
 * credentials are exit 4 with one line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { EMULATOR_ADMIN_CREDENTIALS } from '../../emulator/core/identity.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { templatePath } from '../../perimeter/access-analyzer.ts';
import { startTestEmulator } from '../helpers/emulator.ts';
import { ALLOWED, HAIKU, repoWith } from './helpers.ts';

let emu: Emulator;
const saved = { ...process.env };
const cwd = process.cwd();
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  process.env = saved;
  process.chdir(cwd);
  await emu.close();
});

/**
 * `privatelink-verify check` as the CLI runs it (cli/main.ts), in this process (vitest forks one
 * per file), with the environment the SDK's default chain reads and nothing else of the machine's.
 */
async function check(
  root: string,
  args: string[],
  credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  } | null = EMULATOR_ADMIN_CREDENTIALS,
): Promise<{ status: number; stdout: string; stderr: string }> {
  process.env = {
    PATH: saved.PATH,
    AWS_ENDPOINT_URL: emu.url,
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...(credentials
      ? {
          AWS_ACCESS_KEY_ID: credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
          ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
        }
      : {}),
  };
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  process.chdir(root);
  try {
    const status = await main([
      'check',
      '--spec',
      'privatelink-verify.yml',
      '--allowed-models',
      ALLOWED.join(','),
      ...args,
    ]);
    return { status, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.chdir(cwd);
  }
}

const IDENTITY = (actions: string[]) =>
  `${JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'InvokeThroughTheEndpoint',
          Effect: 'Allow',
          Action: actions,
          Resource: ['arn:${Partition}:bedrock:*::foundation-model/*'],
          Condition: { StringEquals: { 'aws:SourceVpce': '${VpcEndpointId}' } },
        },
      ],
    },
    null,
    2,
  )}\n`;

const SPEC = `version: 1\nmodels: [${HAIKU}]\npolicies:\n  identity: { file: policies/identity.json }\n`;

describe('check --access-analyzer', () => {
  it('reports an invalid action as an error at its line and column in the policy file, and exits 2', async () => {
    const text = IDENTITY(['bedrock:InvokeModel', 'bedrock:InvokeModle']);
    const root = repoWith({ 'privatelink-verify.yml': SPEC, 'policies/identity.json': text });
    const r = await check(root, ['--access-analyzer', '--sarif', join(root, 'out.sarif')]);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.includes('bedrock:InvokeModle')) + 1;
    const column = lines[line - 1]!.indexOf('"bedrock:InvokeModle"') + 1;
    expect(r.stdout).toContain(
      `policies/identity.json:${line}:${column}: error [access-analyzer-error] workload identity policy: IAM Access Analyzer ERROR INVALID_ACTION (as IDENTITY_POLICY): The action bedrock:InvokeModle does not exist.`,
    );
    expect(r.status).toBe(2);
    // The SARIF result carries the rule and the same anchor.
    const sarif = JSON.parse(readFileSync(join(root, 'out.sarif'), 'utf8'));
    const result = sarif.runs[0].results.find(
      (x: { ruleId: string }) => x.ruleId === 'access-analyzer-error',
    );
    expect(result.locations[0].physicalLocation).toMatchObject({
      artifactLocation: { uri: 'policies/identity.json' },
      region: { startLine: line, startColumn: column },
    });
    // Without the flag nothing is asked: the same spec passes the static checks.
    const offline = await check(root, []);
    expect(offline.stdout).not.toContain('access-analyzer');
    expect(offline.status).toBe(0);
  });

  it('anchors a finding of an inline policy to the spec line that declares it', async () => {
    const spec = [
      'version: 1',
      `models: [${HAIKU}]`,
      'policies:',
      '  identity:',
      '    inline:',
      "      Version: '2012-10-17'",
      '      Statement:',
      '        - Effect: Allow',
      '          Action: [bedrock:InvokeModel]',
      "          Resource: ['arn:${Partition}:bedrock:*::foundation-model/*']",
      '          Condition:',
      '            StringEqualz: { aws:SourceVpce: "${VpcEndpointId}" }',
      '',
    ].join('\n');
    const r = await check(repoWith({ 'privatelink-verify.yml': spec }), ['--access-analyzer']);
    expect(r.stdout).toMatch(
      /privatelink-verify\.yml:12:13: error \[access-analyzer-error\] .*INVALID_CONDITION_OPERATOR/,
    );
    expect(r.status).toBe(2);
  });

  it('a clean perimeter has no Access Analyzer findings, and each deployed policy was validated', async () => {
    const root = repoWith({
      'privatelink-verify.yml': SPEC,
      'policies/identity.json': IDENTITY(['bedrock:InvokeModel']),
    });
    const before = emu.authorizer.authorizedActions;
    const r = await check(root, ['--access-analyzer']);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('access-analyzer');
    expect(r.status).toBe(0);
    // Endpoint, workload and bystander policies: one ValidatePolicy each.
    expect(emu.authorizer.authorizedActions - before).toBe(3);
  });

  it('reports non-error findings as warnings that do not block', async () => {
    const noVersion = JSON.stringify({ Statement: JSON.parse(IDENTITY(['bedrock:InvokeModel'])).Statement });
    const root = repoWith({ 'privatelink-verify.yml': SPEC, 'policies/identity.json': noVersion });
    const r = await check(root, ['--access-analyzer']);
    expect(r.stdout).toMatch(
      /warning \[access-analyzer-warning\] workload identity policy: IAM Access Analyzer WARNING MISSING_VERSION/,
    );
    expect(r.status).toBe(0);
  });

  it('refused or missing credentials are exit 4 with one line', async () => {
    const root = repoWith({
      'privatelink-verify.yml': SPEC,
      'policies/identity.json': IDENTITY(['bedrock:InvokeModel']),
    });
    const refused = await check(root, ['--access-analyzer'], {
      accessKeyId: 'AKIAUNKNOWN000000000',
      secretAccessKey: 'not-a-secret',
    });
    expect(refused.status).toBe(4);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('UnrecognizedClientException');
    const missing = await check(root, ['--access-analyzer'], null);
    expect(missing.status).toBe(4);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('AWS credentials missing or refused');
  });

  it('credentials without access-analyzer:ValidatePolicy are exit 4 naming the action', async () => {
    const role = emu.ctx.identities.issueForRole(
      'arn:aws:iam::123456789012:role/no-such-grant',
      'no-such-grant',
      's',
    );
    const root = repoWith({
      'privatelink-verify.yml': SPEC,
      'policies/identity.json': IDENTITY(['bedrock:InvokeModel']),
    });
    const r = await check(root, ['--access-analyzer'], role);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('allow access-analyzer:ValidatePolicy');
  });
});

describe('check --access-analyzer when AWS cannot answer', () => {
  it('throttling past the SDK retries is exit 3 (could not verify) with one line', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'access-analyzer', operation: 'ValidatePolicy' }]);
    try {
      const root = repoWith({
        'privatelink-verify.yml': SPEC,
        'policies/identity.json': IDENTITY(['bedrock:InvokeModel']),
      });
      const r = await check(root, ['--access-analyzer']);
      expect(r.status).toBe(3);
      expect(r.stderr.trim().split('\n')).toEqual([
        'privatelink-verify check: --access-analyzer: ValidatePolicy failed (ThrottlingException: Rate exceeded)',
      ]);
    } finally {
      emu.setFaults([]);
    }
  });
});

describe('templatePath', () => {
  it('maps ValidatePolicy path elements to a template path and stops at a substring', () => {
    expect(
      templatePath([
        { value: 'Statement' },
        { index: 0 },
        { value: 'Condition' },
        { key: 'StringEqualz' },
        { substring: { start: 1, length: 2 } },
        { value: 'ignored' },
      ] as never),
    ).toEqual(['Statement', 0, 'Condition', 'StringEqualz']);
  });
});
