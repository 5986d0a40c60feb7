/**
 * Configuration: validation with clear errors at synth time, context parsing, and the stack
 * variants configuration selects (existing OIDC provider, no repository). The variants synth
 * with the test-only placeholder code (no bundling): only IAM and wiring are asserted here;
 * test/infra/stack.test.ts covers the real bundles.
 */
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../infra/app.ts';
import {
  CONTEXT_KEYS,
  ConfigError,
  configFromContext,
  DEFAULT_CONFIG,
  resolveConfig,
} from '../../infra/config.ts';
import { PrivateLinkVerifyStack } from '../../infra/stack.ts';
import { TAG_KEYS } from '../../statemachine/contract.ts';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveConfig', () => {
  it('fills defaults that synth offline without any configuration', () => {
    const config = resolveConfig({});
    expect(config).toMatchObject({
      region: DEFAULT_CONFIG.region,
      repository: undefined,
      branches: ['main'],
      allowPullRequests: true,
      tagKey: TAG_KEYS.runId,
      vpcCidrPool: ['10.42.0.0/16'],
      logRetentionDays: 90,
    });
  });

  it('reports every problem at once, each saying what to fix', () => {
    const problems = problemsOf(() =>
      resolveConfig({
        region: 'moon-1',
        repository: 'acme/*',
        allowedModels: ['gpt-4'],
        tagKey: 'Name',
        vpcCidrPool: ['10.42.0.1/16', '10.0.0.0/8'],
        logRetentionDays: 10,
        existingOidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/accounts.google.com',
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('region "moon-1"'),
      expect.stringContaining('repository "acme/*" must be "owner/name"'),
      expect.stringContaining('existingOidcProviderArn'),
      expect.stringContaining('allowed model "gpt-4"'),
      expect.stringContaining('tagKey "Name" must be one of'),
      expect.stringContaining('host bits set'),
      expect.stringContaining('prefix between /16 and /24'),
      expect.stringContaining('logRetentionDays must be one of'),
    ]);
  });

  it('refuses wildcards and odd characters that would widen the OIDC sub claim', () => {
    const problems = problemsOf(() =>
      resolveConfig({ repository: 'acme/repo', branches: ['release/*'], environments: ['prod"x'] }),
    );
    expect(problems).toEqual([
      expect.stringContaining('branch "release/*"'),
      expect.stringContaining('environment "prod"x"'),
    ]);
  });

  it('refuses a GitHub role that would trust nothing', () => {
    const problems = problemsOf(() =>
      resolveConfig({ repository: 'acme/repo', branches: [], environments: [], allowPullRequests: false }),
    );
    expect(problems).toEqual([expect.stringContaining('would trust nothing')]);
  });

  it('refuses an empty model list and a non-boolean allowPullRequests', () => {
    const problems = problemsOf(() => resolveConfig({ allowedModels: '', allowPullRequests: 'maybe' }));
    expect(problems).toEqual([
      expect.stringContaining('allowPullRequests must be true or false'),
      expect.stringContaining('allowedModels must name at least one model id'),
    ]);
  });

  it('reads lists from context as JSON arrays or comma-separated strings', () => {
    const context: Record<string, unknown> = {
      [CONTEXT_KEYS.branches]: 'main, release',
      [CONTEXT_KEYS.allowedModels]:
        '["anthropic.claude-3-haiku-20240307-v1:0","us.anthropic.claude-3-5-haiku-20241022-v1:0"]',
      [CONTEXT_KEYS.allowPullRequests]: 'false',
      [CONTEXT_KEYS.logRetentionDays]: '30',
      [CONTEXT_KEYS.repository]: 'from-context/repo',
    };
    const config = resolveConfig(configFromContext((k) => context[k], { repository: 'from-props/repo' }));
    expect(config).toMatchObject({
      repository: 'from-props/repo',
      branches: ['main', 'release'],
      allowedModels: [
        'anthropic.claude-3-haiku-20240307-v1:0',
        'us.anthropic.claude-3-5-haiku-20241022-v1:0',
      ],
      allowPullRequests: false,
      logRetentionDays: 30,
    });
  });
});

describe('stack configuration', () => {
  it('fails synth with the configuration problems, before building anything', () => {
    const app = new App({ context: { [CONTEXT_KEYS.region]: 'us-east-9x' } });
    expect(() => new PrivateLinkVerifyStack(app, 'Bad', { taskCode: 'placeholder-for-tests' })).toThrow(
      /privatelink-verify configuration is invalid:\n {2}- region "us-east-9x"/,
    );
  });

  it('uses an existing GitHub OIDC provider by ARN instead of creating one', () => {
    const arn = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';
    const { app, stack } = createApp({
      taskCode: 'placeholder-for-tests',
      config: { repository: 'acme/repo', existingOidcProviderArn: arn },
    });
    app.synth();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRoleWithWebIdentity',
            Principal: { Federated: arn },
            Condition: {
              StringEquals: {
                'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
                'token.actions.githubusercontent.com:sub': [
                  'repo:acme/repo:ref:refs/heads/main',
                  'repo:acme/repo:pull_request',
                ],
              },
            },
          },
        ],
      },
    });
  });

  it('creates no GitHub trust at all without a repository, and says how to add one', () => {
    const { app, stack } = createApp({ taskCode: 'placeholder-for-tests' });
    app.synth();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain('AssumeRoleWithWebIdentity');
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(['Region', 'StateMachineArn']);
    Annotations.fromStack(stack).hasWarning(
      '*',
      Match.stringLikeRegexp('privatelink-verify:repository=owner/name'),
    );
  });

  it('scopes the task roles to the configured tag key', () => {
    const { app, stack } = createApp({
      taskCode: 'placeholder-for-tests',
      nag: false,
      config: { tagKey: TAG_KEYS.owner },
    });
    app.synth();
    const text = JSON.stringify(Template.fromStack(stack).toJSON());
    expect(text).toContain(`"ec2:ResourceTag/${TAG_KEYS.owner}":"false"`);
    expect(text).not.toContain(`ec2:ResourceTag/${TAG_KEYS.runId}`);
  });
});
