import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListFunctionsCommand,
  ListTagsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { LAMBDA_TRUST_POLICY, zippedFixture, zippedSource } from '../fixtures/lambda/bundle.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { functionReady } from '../helpers/wait.ts';

let emu: Emulator;
let lambda: LambdaClient;
let roleArn: string;
let esmZip: Uint8Array;
let cjsZip: Uint8Array;

const decode = (p: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(p));

async function createFunction(
  name: string,
  extra: Partial<ConstructorParameters<typeof CreateFunctionCommand>[0]> = {},
) {
  const created = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Role: roleArn,
      Code: { ZipFile: esmZip },
      ...extra,
    }),
  );
  // A new function is Pending for a moment on every profile, as on AWS: wait as a client must.
  await functionReady(lambda, name);
  return created;
}

async function invoke(name: string, event: unknown) {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode(JSON.stringify(event)) }),
  );
  return { ...out, body: decode(out.Payload) };
}

beforeAll(async () => {
  emu = await startTestEmulator();
  lambda = new LambdaClient(adminClientConfig(emu));
  const iam = new IAMClient(adminClientConfig(emu));
  const role = await iam.send(
    new CreateRoleCommand({ RoleName: 'fn-role', AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
  );
  roleArn = role.Role!.Arn!;
  [esmZip, cjsZip] = await Promise.all([
    zippedFixture('./behaviours.ts'),
    zippedFixture('./behaviours.ts', { format: 'cjs', file: 'main.js' }),
  ]);
});
afterAll(() => emu?.close());

describe('Lambda functions: lifecycle', () => {
  it('creates a function Active with the configuration AWS reports', async () => {
    const created = await createFunction('life-create', {
      Timeout: 30,
      MemorySize: 256,
      Environment: { Variables: { GREETING: 'hi' } },
      Tags: { run: 'r1' },
    });
    expect(created).toMatchObject({
      FunctionName: 'life-create',
      FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:life-create',
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 30,
      MemorySize: 256,
      Role: roleArn,
      PackageType: 'Zip',
      Environment: { Variables: { GREETING: 'hi' } },
      Version: '$LATEST',
    });
    expect(created.CodeSha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'life-create' }));
    expect(got.Configuration?.State).toBe('Active');
    expect(got.Configuration?.LastUpdateStatus).toBe('Successful');
    expect(got.Tags).toEqual({ run: 'r1' });
  });

  it('defaults Timeout to 3 seconds and rejects more than 900', async () => {
    const created = await createFunction('life-defaults');
    expect(created.Timeout).toBe(3);
    expect(created.MemorySize).toBe(128);
    await expect(createFunction('life-too-long', { Timeout: 901 })).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('refuses a second function with the same name', async () => {
    await createFunction('life-dup');
    await expect(createFunction('life-dup')).rejects.toMatchObject({
      name: 'ResourceConflictException',
      $metadata: { httpStatusCode: 409 },
    });
  });

  it('refuses a role that does not exist or does not trust Lambda', async () => {
    await expect(
      createFunction('life-norole', { Role: 'arn:aws:iam::123456789012:role/missing' }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: 'The role defined for the function cannot be assumed by Lambda.',
    });
    const iam = new IAMClient(adminClientConfig(emu));
    const ec2Trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    const other = await iam.send(
      new CreateRoleCommand({ RoleName: 'ec2-only', AssumeRolePolicyDocument: ec2Trust }),
    );
    await expect(createFunction('life-ec2role', { Role: other.Role!.Arn! })).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
    // A trust policy that names Lambda but only for another account's functions (aws:SourceAccount,
    // the confused-deputy guard of IAM User Guide "The confused deputy problem") does not let this
    // account's function assume the role; an explicit Deny for Lambda overrides an Allow for "*".
    const otherAccount = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': '210987654321' } },
        },
      ],
    });
    const foreign = await iam.send(
      new CreateRoleCommand({ RoleName: 'lambda-foreign', AssumeRolePolicyDocument: otherAccount }),
    );
    await expect(createFunction('life-foreign', { Role: foreign.Role!.Arn! })).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: 'The role defined for the function cannot be assumed by Lambda.',
    });
    const denied = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' },
        { Effect: 'Deny', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    const deny = await iam.send(
      new CreateRoleCommand({ RoleName: 'lambda-denied', AssumeRolePolicyDocument: denied }),
    );
    await expect(createFunction('life-denied', { Role: deny.Role!.Arn! })).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
  });

  it('refuses reserved environment keys and unknown runtimes', async () => {
    await expect(
      createFunction('life-reserved', { Environment: { Variables: { AWS_REGION: 'eu-west-1' } } }),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      message: expect.stringContaining('Reserved keys used in this request: AWS_REGION'),
    });
    await expect(createFunction('life-python', { Runtime: 'python3.12' })).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
  });

  it('lists functions page by page with Marker and MaxItems', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await createFunction(n);
    const names: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ MaxItems: 2, Marker: marker }));
      names.push(...(page.Functions ?? []).map((f) => f.FunctionName!));
      marker = page.NextMarker;
      pages++;
    } while (marker);
    expect(pages).toBeGreaterThan(1);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c']));
    expect(new Set(names).size).toBe(names.length);
  });

  it('tags and untags by ARN', async () => {
    const { FunctionArn } = await createFunction('life-tags', { Tags: { a: '1' } });
    await lambda.send(new TagResourceCommand({ Resource: FunctionArn, Tags: { b: '2' } }));
    await lambda.send(new UntagResourceCommand({ Resource: FunctionArn, TagKeys: ['a'] }));
    const { Tags } = await lambda.send(new ListTagsCommand({ Resource: FunctionArn }));
    expect(Tags).toEqual({ b: '2' });
    expect(emu.inventory().find((i) => i.service === 'lambda' && i.id === 'life-tags')).toMatchObject({
      type: 'function',
      state: 'Active',
      tags: { b: '2' },
    });
  });

  it('updates configuration and code, and invocations see the change', async () => {
    await createFunction('life-update', { Environment: { Variables: { GREETING: 'old' } } });
    expect((await invoke('life-update', { action: 'env' })).body.GREETING).toBe('old');
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'life-update',
        Environment: { Variables: { GREETING: 'new' } },
        Timeout: 10,
      }),
    );
    expect(updated.Timeout).toBe(10);
    await functionReady(lambda, 'life-update');
    expect((await invoke('life-update', { action: 'env' })).body.GREETING).toBe('new');
    const code = await lambda.send(
      new UpdateFunctionCodeCommand({
        FunctionName: 'life-update',
        ZipFile: zippedSource('index.mjs', 'export const handler = async () => ({ version: 2 });'),
      }),
    );
    expect(code.CodeSha256).not.toBe(updated.CodeSha256);
    await functionReady(lambda, 'life-update');
    expect((await invoke('life-update', {})).body).toEqual({ version: 2 });
  });

  it('deletes a function; afterwards every operation says ResourceNotFoundException', async () => {
    await createFunction('life-delete');
    await invoke('life-delete', { action: 'echo' });
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'life-delete' }));
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: 'life-delete' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
      message: 'Function not found: arn:aws:lambda:us-east-1:123456789012:function:life-delete',
    });
    await expect(invoke('life-delete', {})).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(
      lambda.send(new DeleteFunctionCommand({ FunctionName: 'life-delete' })),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('accepts a function ARN wherever a name is accepted', async () => {
    const { FunctionArn } = await createFunction('life-arn');
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: FunctionArn }));
    expect(cfg.FunctionName).toBe('life-arn');
    expect((await invoke(FunctionArn!, { action: 'echo' })).body.functionName).toBe('life-arn');
  });
});

describe('Lambda functions: running the bundle', () => {
  it('returns what the handler returns, with the Lambda context', async () => {
    await createFunction('run-echo', { Timeout: 60 });
    const out = await invoke('run-echo', { action: 'echo', n: 1 });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(out.body).toMatchObject({
      event: { action: 'echo', n: 1 },
      functionName: 'run-echo',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:run-echo',
    });
    expect(out.body.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.body.remainingMs).toBeGreaterThan(0);
    expect(out.body.remainingMs).toBeLessThanOrEqual(60_000);
  });

  it('runs CommonJS bundles and handlers in other files (main.handler)', async () => {
    await createFunction('run-cjs', { Handler: 'main.handler', Code: { ZipFile: cjsZip } });
    expect((await invoke('run-cjs', { action: 'echo' })).body.functionName).toBe('run-cjs');
  });

  it('reports a thrown error as FunctionError Unhandled with errorType, errorMessage and trace', async () => {
    await createFunction('run-throw');
    const out = await invoke('run-throw', { action: 'throw', message: 'no model access' });
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(out.body).toMatchObject({ errorType: 'ProbeFailure', errorMessage: 'no model access' });
    expect(Array.isArray(out.body.trace)).toBe(true);
  });

  it('reports a missing handler module as Runtime.ImportModuleError', async () => {
    await createFunction('run-nomodule', { Handler: 'missing.handler' });
    const out = await invoke('run-nomodule', {});
    expect(out.FunctionError).toBe('Unhandled');
    expect(out.body.errorType).toBe('Runtime.ImportModuleError');
  });

  it('stops a handler that outlives its Timeout with Sandbox.Timedout, and the next call starts fresh', async () => {
    const floor = emu.lambda.minRealTimeoutMs;
    emu.lambda.minRealTimeoutMs = 50;
    try {
      await createFunction('run-timeout', { Timeout: 2 });
      const out = await invoke('run-timeout', { action: 'hang' });
      expect(out.FunctionError).toBe('Unhandled');
      expect(out.body.errorType).toBe('Sandbox.Timedout');
      expect(out.body.errorMessage).toMatch(/Task timed out after 2\.00 seconds$/);
      expect((await invoke('run-timeout', { action: 'echo' })).body.functionName).toBe('run-timeout');
    } finally {
      emu.lambda.minRealTimeoutMs = floor;
    }
  });

  it('times out a handler whose sleeps outlast its Timeout in virtual time, even under a tiny timeScale', async () => {
    await createFunction('run-oversleep', { Timeout: 2 });
    const out = await invoke('run-oversleep', { action: 'sleep', seconds: 10 });
    expect(out.FunctionError).toBe('Unhandled');
    expect(out.body.errorType).toBe('Sandbox.Timedout');
    const within = await invoke('run-oversleep', { action: 'sleep', seconds: 1 });
    expect(within.FunctionError).toBeUndefined();
  });

  it('stands simulated time still while a handler computes: 1.5 real seconds of CPU within a 1-second Timeout', async () => {
    await createFunction('run-spin', { Timeout: 1 });
    const out = await invoke('run-spin', { action: 'spin', seconds: 1.5 });
    expect(out.FunctionError).toBeUndefined();
    expect(out.body.elapsedMs).toBe(0);
    expect(out.body.remainingMs).toBe(1000);
  });

  it('gives each function its own environment', async () => {
    await createFunction('env-one', { Environment: { Variables: { GREETING: 'one' } }, MemorySize: 512 });
    await createFunction('env-two', { Environment: { Variables: { GREETING: 'two' } } });
    const [one, two] = await Promise.all([
      invoke('env-one', { action: 'env' }),
      invoke('env-two', { action: 'env' }),
    ]);
    expect(one.body).toMatchObject({
      GREETING: 'one',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'env-one',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_ENDPOINT_URL: emu.url,
    });
    expect(two.body).toMatchObject({ GREETING: 'two', AWS_LAMBDA_FUNCTION_NAME: 'env-two' });
  });

  it('does not leak the emulator process environment into functions', async () => {
    process.env.HOME_SECRET = 'host-only';
    try {
      await createFunction('env-isolated');
      expect((await invoke('env-isolated', { action: 'env' })).body.HOME_SECRET).toBeNull();
    } finally {
      delete process.env.HOME_SECRET;
    }
  });

  it('signs the function’s SDK calls with credentials of its execution role', async () => {
    await createFunction('whoami', { Timeout: 30 });
    const out = await invoke('whoami', { action: 'whoami' });
    expect(out.FunctionError).toBeUndefined();
    expect(out.body).toEqual({
      arn: 'arn:aws:sts::123456789012:assumed-role/fn-role/whoami',
      account: '123456789012',
    });
  });

  it('serves concurrent invocations from separate warm sandboxes', async () => {
    await createFunction('concurrent', { Timeout: 60 });
    const results = await Promise.all(
      [1, 2, 3].map(() => invoke('concurrent', { action: 'sleep', seconds: 5 })),
    );
    for (const r of results) expect(r.FunctionError).toBeUndefined();
    const again = await invoke('concurrent', { action: 'echo' });
    expect(again.FunctionError).toBeUndefined();
  });

  it('accepts Event invocations with 202 and runs them in the background', async () => {
    await createFunction('async-event');
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: 'async-event',
        InvocationType: 'Event',
        Payload: new TextEncoder().encode('{"action":"echo"}'),
      }),
    );
    expect(out.StatusCode).toBe(202);
  });

  it('rejects a payload that is not JSON', async () => {
    await createFunction('bad-payload');
    await expect(
      lambda.send(
        new InvokeCommand({ FunctionName: 'bad-payload', Payload: new TextEncoder().encode('{not json') }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
  });

  it('answers ENINotReadyException (502) when that fault is injected', async () => {
    await createFunction('eni-fault');
    emu.setFaults([
      {
        kind: 'error',
        service: 'lambda',
        operation: 'Invoke',
        code: 'ENINotReadyException',
        status: 502,
        times: 1,
        message:
          'Lambda was not able to create an ENI in the VPC of the Lambda function because the limit for Network Interfaces has been reached.',
      },
    ]);
    try {
      await expect(invoke('eni-fault', {})).rejects.toMatchObject({
        name: 'ENINotReadyException',
        $metadata: { httpStatusCode: 502 },
      });
      expect((await invoke('eni-fault', { action: 'echo' })).StatusCode).toBe(200);
    } finally {
      emu.setFaults([]);
    }
  });

  it('lets Step Functions invoke in-process through the LambdaModel', async () => {
    await createFunction('in-process');
    const ok = await emu.lambda.invoke('in-process', Buffer.from('{"action":"echo"}'), 'us-east-1');
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.payload.toString()).functionName).toBe('in-process');
    const failed = await emu.lambda.invoke('in-process', Buffer.from('{"action":"throw"}'), 'us-east-1');
    expect(failed.functionError).toBe('Unhandled');
  });
});

describe('Lambda functions: virtual time and DNS inside the sandbox', () => {
  it('runs sleeps, Date and socket timeouts on the emulator’s virtual clock', async () => {
    await createFunction('clock', { Timeout: 120 });
    const slept = await invoke('clock', { action: 'sleep', seconds: 10 });
    expect(slept.body.elapsedMs).toBeGreaterThanOrEqual(10_000);
    expect(slept.body.elapsedMs).toBeLessThan(60_000);
    const idle = await invoke('clock', { action: 'socket-idle', seconds: 5 });
    expect(idle.body.elapsedMs).toBeGreaterThanOrEqual(5_000);
    expect(idle.body.elapsedMs).toBeLessThan(60_000);
  });

  it('shows the function the same virtual wall clock as the emulator', async () => {
    await createFunction('clock-now');
    const before = emu.ctx.now();
    const { body } = await invoke('clock-now', { action: 'clock' });
    const after = emu.ctx.now();
    expect(body.now).toBeGreaterThanOrEqual(Math.floor(before));
    expect(body.now).toBeLessThanOrEqual(Math.ceil(after));
    expect(Math.abs(body.constructed - body.now)).toBeLessThan(after - before + 1000);
    expect(typeof body.called).toBe('string');
  });

  it('answers AWS names from the emulator’s network model and other names from the host', async () => {
    await createFunction('dns-fn');
    const saved = emu.ctx.network;
    const asked: string[] = [];
    emu.ctx.network = {
      resolve: (hostname, region) => {
        asked.push(`${hostname}@${region}`);
        return hostname === 'bedrock-runtime.us-east-1.amazonaws.com' ? ['10.0.1.25', '10.0.2.25'] : [];
      },
    };
    try {
      const known = await invoke('dns-fn', {
        action: 'dns',
        hostname: 'bedrock-runtime.us-east-1.amazonaws.com',
      });
      expect(known.body).toEqual({ viaCallback: '10.0.1.25', viaPromise: '10.0.1.25,10.0.2.25' });
      const unknown = await invoke('dns-fn', {
        action: 'dns',
        hostname: 'nothing-here.us-east-1.amazonaws.com',
      });
      expect(unknown.body).toEqual({ viaCallback: 'error:ENOTFOUND', viaPromise: 'error:ENOTFOUND' });
      const host = await invoke('dns-fn', { action: 'dns', hostname: 'localhost' });
      expect(host.body).toEqual({ viaCallback: '127.0.0.1', viaPromise: '127.0.0.1' });
      expect(asked).toContain('bedrock-runtime.us-east-1.amazonaws.com@us-east-1');
      expect(asked.some((a) => a.startsWith('localhost'))).toBe(false);
    } finally {
      emu.ctx.network = saved;
    }
  });
});
