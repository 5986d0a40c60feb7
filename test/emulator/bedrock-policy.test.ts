import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../emulator/core/models.ts';
import { resolveModelTarget } from '../../emulator/network/catalog.ts';
import { cidrContainsIp, cidrCovers } from '../../emulator/network/cidr.ts';
import {
  accessDeniedMessage,
  evaluatePolicies,
  normaliseEndpointPolicy,
} from '../../emulator/network/policy.ts';

const ACCOUNT = '123456789012';
const PROBE = `arn:aws:iam::${ACCOUNT}:role/probe`;
const OTHER = `arn:aws:iam::${ACCOUNT}:role/other`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/probe/s`;
const HAIKU = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
const VPCE = 'vpce-0123456789abcdef0';

const doc = (...Statement: PolicyDocument['Statement'][]): PolicyDocument => ({
  Version: '2012-10-17',
  Statement: Statement.flat() as any,
});
const identityAllowWithVpce = doc({
  Effect: 'Allow',
  Action: 'bedrock:InvokeModel',
  Resource: '*',
  Condition: { StringEquals: { 'aws:SourceVpce': VPCE } },
});

function request(
  endpointPolicy: PolicyDocument | undefined,
  identityPolicies: PolicyDocument[],
  principalArn = PROBE,
) {
  const context: Record<string, string> = {
    'aws:PrincipalArn': principalArn,
    'aws:PrincipalAccount': ACCOUNT,
    'aws:RequestedRegion': 'us-east-1',
  };
  if (endpointPolicy) {
    context['aws:SourceVpce'] = VPCE;
    context['aws:SourceVpc'] = 'vpc-1';
  }
  return {
    action: 'bedrock:InvokeModel',
    resourceArn: HAIKU,
    accountId: ACCOUNT,
    principal: SESSION,
    context,
    endpointPolicy,
    identityPolicies,
  };
}

describe('endpoint policy normalisation for iam-simulate', () => {
  it('rewrites a role principal to "*" with an aws:PrincipalArn condition', () => {
    const out = normaliseEndpointPolicy(
      doc({ Effect: 'Allow', Principal: { AWS: PROBE }, Action: 'bedrock:InvokeModel', Resource: HAIKU }),
    );
    expect(out.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: '*',
        Action: 'bedrock:InvokeModel',
        Resource: HAIKU,
        Condition: { ArnEquals: { 'aws:PrincipalArn': [PROBE] } },
      },
    ]);
  });

  it('rewrites an account root principal to aws:PrincipalAccount and keeps existing conditions', () => {
    const out = normaliseEndpointPolicy(
      doc({
        Effect: 'Allow',
        Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:root`] },
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } },
      }),
    );
    expect(out.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: '*',
        Action: '*',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:RequestedRegion': 'us-east-1', 'aws:PrincipalAccount': [ACCOUNT] },
        },
      },
    ]);
  });
});

describe('endpoint and identity policies evaluated together', () => {
  it('allows when the endpoint policy names the role and the identity policy requires this endpoint', async () => {
    const vpce = doc({
      Effect: 'Allow',
      Principal: { AWS: PROBE },
      Action: 'bedrock:InvokeModel',
      Resource: HAIKU,
    });
    expect(await evaluatePolicies(request(vpce, [identityAllowWithVpce]))).toEqual({ allowed: true });
  });

  it('refuses a role the endpoint policy does not name: implicit deny in the VPC endpoint policy', async () => {
    const vpce = doc({
      Effect: 'Allow',
      Principal: { AWS: OTHER },
      Action: 'bedrock:InvokeModel',
      Resource: HAIKU,
    });
    const d = await evaluatePolicies(request(vpce, [identityAllowWithVpce]));
    expect(d).toEqual({ allowed: false, kind: 'vpc-endpoint', explicit: false });
    expect(accessDeniedMessage(SESSION, 'bedrock:InvokeModel', HAIKU, d)).toBe(
      `User: ${SESSION} is not authorized to perform: bedrock:InvokeModel on resource: ${HAIKU} because no VPC endpoint policy allows the bedrock:InvokeModel action`,
    );
  });

  it('reports an explicit deny in the endpoint policy before anything else', async () => {
    const vpce = doc({ Sid: 'DenyAll', Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' });
    const d = await evaluatePolicies(request(vpce, []));
    expect(d).toMatchObject({ allowed: false, kind: 'vpc-endpoint', explicit: true, statement: 'DenyAll' });
    expect(accessDeniedMessage(SESSION, 'bedrock:InvokeModel', HAIKU, d)).toMatch(
      /with an explicit deny in a VPC endpoint policy$/,
    );
  });

  it('refuses with the identity policy when the request did not cross the endpoint (no aws:SourceVpce)', async () => {
    const d = await evaluatePolicies(request(undefined, [identityAllowWithVpce]));
    expect(d).toEqual({ allowed: false, kind: 'identity', explicit: false });
  });

  it('reports an explicit deny in an identity-based policy', async () => {
    const deny = doc({ Effect: 'Deny', Action: 'bedrock:*', Resource: '*' });
    const vpce = doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' });
    const d = await evaluatePolicies(request(vpce, [identityAllowWithVpce, deny]));
    expect(d).toMatchObject({ allowed: false, kind: 'identity', explicit: true });
    expect(accessDeniedMessage(SESSION, 'bedrock:InvokeModel', HAIKU, d)).toMatch(
      /with an explicit deny in an identity-based policy$/,
    );
  });
});

describe('model targets and address arithmetic', () => {
  it('authorizes an inference profile against the profile ARN and every foundation-model ARN it routes to', () => {
    const t = resolveModelTarget('us.anthropic.claude-3-haiku-20240307-v1:0', 'us-east-1', ACCOUNT, true);
    expect(t.kind).toBe('inference-profile');
    expect(t.resourceArns).toEqual([
      `arn:aws:bedrock:us-east-1:${ACCOUNT}:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0`,
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      'arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      'arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
    ]);
  });

  it('matches addresses and subnets against CIDRs', () => {
    expect(cidrContainsIp('10.0.0.0/16', '10.0.3.4')).toBe(true);
    expect(cidrContainsIp('10.0.0.0/24', '10.0.3.4')).toBe(false);
    expect(cidrCovers('10.0.0.0/16', '10.0.1.0/24')).toBe(true);
    expect(cidrCovers('10.0.1.0/24', '10.0.0.0/16')).toBe(false);
    expect(cidrCovers('0.0.0.0/0', '10.0.1.0/24')).toBe(true);
  });
});
