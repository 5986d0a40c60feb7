import {
  AccessAnalyzerClient,
  ValidatePolicyCommand,
  type ValidatePolicyCommandInput,
  type ValidatePolicyFinding,
} from '@aws-sdk/client-accessanalyzer';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';

let emu: Emulator;
let aa: AccessAnalyzerClient;
beforeAll(async () => {
  emu = await startTestEmulator();
  aa = new AccessAnalyzerClient(adminClientConfig(emu));
});
afterAll(() => emu.close());

const MODEL = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';

async function findings(
  doc: unknown,
  policyType: ValidatePolicyCommandInput['policyType'] = 'IDENTITY_POLICY',
): Promise<ValidatePolicyFinding[]> {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2);
  return (await aa.send(new ValidatePolicyCommand({ policyDocument: text, policyType }))).findings ?? [];
}

const codes = (fs: ValidatePolicyFinding[]) => fs.map((f) => `${f.findingType} ${f.issueCode}`);

/** The text a finding's span covers. */
function spanned(text: string, f: ValidatePolicyFinding): string {
  const span = f.locations![0]!.span!;
  return text.slice(span.start!.offset, span.end!.offset);
}

const identity = (statement: Record<string, unknown>) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: MODEL, ...statement }],
});
const endpoint = (statement: Record<string, unknown>) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::123456789012:role/probe' },
      Action: 'bedrock:InvokeModel',
      Resource: MODEL,
      ...statement,
    },
  ],
});

describe('Access Analyzer ValidatePolicy', () => {
  it('finds nothing in a least-privilege identity policy and endpoint policy', async () => {
    expect(
      await findings(
        identity({ Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-0123456789abcdef0' } } }),
      ),
    ).toEqual([]);
    expect(await findings(endpoint({}), 'RESOURCE_POLICY')).toEqual([]);
  });

  it('names an action the service does not have, with the span of that string and its path', async () => {
    const doc = identity({ Action: ['bedrock:InvokeModel', 'bedrock:InvokeModle'] });
    const text = JSON.stringify(doc, null, 2);
    const [f, ...rest] = await findings(text);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      findingType: 'ERROR',
      issueCode: 'INVALID_ACTION',
      findingDetails: 'The action bedrock:InvokeModle does not exist.',
      learnMoreLink:
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-error-invalid-action',
    });
    expect(f!.locations![0]!.path).toEqual([
      { value: 'Statement' },
      { index: 0 },
      { value: 'Action' },
      { index: 1 },
    ]);
    expect(spanned(text, f!)).toBe('"bedrock:InvokeModle"');
    // Lines count from 1, columns from 0 (botocore Position).
    const start = f!.locations![0]!.span!.start!;
    const line = text.split('\n')[start.line! - 1]!;
    expect(line.slice(start.column!)).toMatch(/^"bedrock:InvokeModle"/);
  });

  it('tells an unknown service from an unknown action', async () => {
    expect(codes(await findings(identity({ Action: 'bedrok:InvokeModel' })))).toEqual([
      'ERROR INVALID_SERVICE_IN_ACTION',
    ]);
    // A wildcard of a known service is accepted.
    expect(await findings(identity({ Action: 'bedrock:Invoke*' }))).toEqual([]);
  });

  it('answers a JSON syntax error alone, at its position', async () => {
    const text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    { "Effect": "Allow", }\n  ]\n}';
    const fs = await findings(text);
    expect(codes(fs)).toEqual(['ERROR JSON_SYNTAX_ERROR']);
    const start = fs[0]!.locations![0]!.span!.start!;
    expect(start.line).toBe(4);
    expect(fs[0]!.findingDetails).toBe(
      `Fix the JSON syntax error at index ${start.offset} line 4 column ${start.column}.`,
    );
  });

  it('reports the grammar: Version, Statement, Effect, Action, Resource, unknown elements', async () => {
    expect(codes(await findings({ Statement: identity({}).Statement }))).toEqual(['WARNING MISSING_VERSION']);
    expect(codes(await findings({ ...identity({}), Version: '2012-10-18' }))).toEqual([
      'ERROR INVALID_VERSION',
    ]);
    expect(codes(await findings({ Version: '2012-10-17' }))).toEqual(['ERROR MISSING_STATEMENT']);
    expect(
      codes(
        await findings({
          Version: '2012-10-17',
          Statement: { Action: 'bedrock:InvokeModel', Resource: '*' },
        }),
      ),
    ).toEqual(['ERROR MISSING_EFFECT']);
    expect(codes(await findings(identity({ Effect: 'Permit' })))).toEqual(['ERROR INVALID_EFFECT']);
    expect(
      codes(await findings({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*' }] })),
    ).toEqual(['ERROR MISSING_ACTION']);
    expect(
      codes(
        await findings({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'bedrock:InvokeModel' }],
        }),
      ),
    ).toEqual(['ERROR MISSING_RESOURCE']);
    const text = JSON.stringify(identity({ Actions: 'x' }), null, 2);
    const [f] = await findings(text);
    expect(f).toMatchObject({
      issueCode: 'INVALID_POLICY_ELEMENT',
      findingDetails: 'The policy element Actions is not valid.',
    });
    expect(spanned(text, f!)).toBe('"Actions"');
  });

  it('wants a Principal in a resource policy and none in an identity policy', async () => {
    const noPrincipal = identity({});
    expect(codes(await findings(noPrincipal, 'RESOURCE_POLICY'))).toEqual(['ERROR MISSING_PRINCIPAL']);
    expect(await findings(noPrincipal, 'IDENTITY_POLICY')).toEqual([]);
    expect(codes(await findings(endpoint({}), 'IDENTITY_POLICY'))).toEqual(['ERROR UNSUPPORTED_PRINCIPAL']);
    const { Principal, ...rest } = endpoint({}).Statement[0]!;
    expect(
      codes(
        await findings(
          { Version: '2012-10-17', Statement: [{ ...rest, NotPrincipal: Principal }] },
          'RESOURCE_POLICY',
        ),
      ),
    ).toEqual(['SECURITY_WARNING ALLOW_WITH_NOT_PRINCIPAL']);
  });

  it('checks condition operators and keys, global and per service', async () => {
    const cond = async (c: unknown) => codes(await findings(identity({ Condition: c })));
    expect(await cond({ StringEqualz: { 'aws:SourceVpce': 'vpce-1' } })).toEqual([
      'ERROR INVALID_CONDITION_OPERATOR',
    ]);
    expect(await cond({ 'ForAnyValue:StringLikeIfExists': { 'aws:PrincipalTag/team': 'ml*' } })).toEqual([]);
    expect(await cond({ StringEquals: { 'aws:SourceVpc3': 'vpce-1' } })).toEqual([
      'ERROR INVALID_GLOBAL_CONDITION_KEY',
    ]);
    expect(await cond({ StringEquals: { 'bedrock:NoSuchKey': 'x' } })).toEqual([
      'ERROR INVALID_SERVICE_CONDITION_KEY',
    ]);
    expect(await cond({ StringEquals: { SourceVpce: 'x' } })).toEqual(['ERROR INVALID_CONDITION_KEY_FORMAT']);
    expect(await cond({ StringEquals: { 'bedrock:InferenceProfileArn': 'x' } })).toEqual([]);
  });

  it('pages with maxResults and nextToken', async () => {
    const doc = JSON.stringify(identity({ Action: ['bedrock:A1', 'bedrock:A2', 'bedrock:A3'] }));
    const first = await aa.send(
      new ValidatePolicyCommand({ policyDocument: doc, policyType: 'IDENTITY_POLICY', maxResults: 2 }),
    );
    expect(first.findings).toHaveLength(2);
    const second = await aa.send(
      new ValidatePolicyCommand({
        policyDocument: doc,
        policyType: 'IDENTITY_POLICY',
        maxResults: 2,
        nextToken: first.nextToken,
      }),
    );
    expect(second.findings!.map((f) => f.findingDetails)).toEqual(['The action bedrock:A3 does not exist.']);
    expect(second.nextToken).toBeUndefined();
  });

  it('refuses a request without a policy type as a ValidationException', async () => {
    const err = await aa
      .send(new ValidatePolicyCommand({ policyDocument: '{}', policyType: 'VPC_ENDPOINT_POLICY' as never }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ValidationException', reason: 'fieldValidationFailed' });
  });

  it('is authorized like every call: a role without access-analyzer:ValidatePolicy is refused', async () => {
    const iam = new IAMClient(adminClientConfig(emu));
    const trust = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    };
    for (const [name, actions] of [
      ['aa-none', ['sts:GetCallerIdentity']],
      ['aa-allowed', ['access-analyzer:ValidatePolicy']],
    ] as const) {
      await iam.send(
        new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }),
      );
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: name,
          PolicyName: 'p',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
          }),
        }),
      );
    }
    const as = (role: string) =>
      new AccessAnalyzerClient({
        ...adminClientConfig(emu),
        credentials: emu.ctx.identities.issueForRole(`arn:aws:iam::123456789012:role/${role}`, role, 's'),
      });
    const input = { policyDocument: JSON.stringify(identity({})), policyType: 'IDENTITY_POLICY' as const };
    const refused = await as('aa-none')
      .send(new ValidatePolicyCommand(input))
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    expect(String((refused as Error).message)).toContain('access-analyzer:ValidatePolicy');
    expect((await as('aa-allowed').send(new ValidatePolicyCommand(input))).findings).toEqual([]);
  });

  it('throttles and fails with the errors botocore names (ThrottlingException 429, InternalServerException 500)', async () => {
    const input = { policyDocument: JSON.stringify(identity({})), policyType: 'IDENTITY_POLICY' as const };
    emu.setFaults([{ kind: 'throttle', service: 'access-analyzer', operation: 'ValidatePolicy', times: 1 }]);
    expect(await aa.send(new ValidatePolicyCommand(input)).catch((e: unknown) => e)).toMatchObject({
      name: 'ThrottlingException',
      $metadata: { httpStatusCode: 429 },
    });
    emu.setFaults([{ kind: 'server-error', service: 'access-analyzer', times: 1 }]);
    expect(await aa.send(new ValidatePolicyCommand(input)).catch((e: unknown) => e)).toMatchObject({
      name: 'InternalServerException',
      $metadata: { httpStatusCode: 500 },
    });
    emu.setFaults([]);
    expect((await aa.send(new ValidatePolicyCommand(input))).findings).toEqual([]);
  });

  it('refuses keys it did not issue, as the REST-JSON services do', async () => {
    const err = await new AccessAnalyzerClient({
      ...adminClientConfig(emu),
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' },
    })
      .send(new ValidatePolicyCommand({ policyDocument: '{}', policyType: 'IDENTITY_POLICY' }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } });
  });
});
