import { CreateRoleCommand, GetRoleCommand, IAMClient, ListUsersCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../emulator/core/faults.ts';
import type { EmulatedService, ServiceName } from '../../emulator/core/service.ts';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, signedFetch, startTestEmulator } from '../helpers/emulator.ts';

const lambdaTrust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

let emu: Emulator;
let iam: IAMClient;
let sts: STSClient;

beforeAll(async () => {
  emu = await startTestEmulator();
  iam = new IAMClient(adminClientConfig(emu));
  sts = new STSClient(adminClientConfig(emu));
});
afterAll(() => emu.close());
beforeEach(() => emu.reset());

async function admin(path: string, init?: { method: 'POST'; body?: unknown }) {
  const res = await fetch(`${emu.url}/_emulator/${path}`, {
    method: init?.method ?? 'GET',
    body: init?.body === undefined ? undefined : JSON.stringify(init.body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

async function setFaultsOverHttp(faults: FaultRule[]) {
  const res = await admin('config', { method: 'POST', body: { faults } });
  expect(res.status).toBe(200);
}

describe('admin routes', () => {
  it('/_emulator/health says the emulator is up, where, and for which account', async () => {
    const res = await admin('health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, url: emu.url, accountId: '123456789012' });
  });

  it('/_emulator/inventory lists live resources with their tags', async () => {
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'probe',
        AssumeRolePolicyDocument: lambdaTrust,
        Tags: [{ Key: 'privatelink-verify:run-id', Value: 'r1' }],
      }),
    );
    const res = await admin('inventory');
    expect(res.status).toBe(200);
    expect(res.body.resources).toContainEqual({
      service: 'iam',
      type: 'role',
      id: 'probe',
      tags: { 'privatelink-verify:run-id': 'r1' },
    });
  });

  it('GET /_emulator/config reports profile, time scale, virtual time, quotas, world and faults', async () => {
    const res = await admin('config');
    expect(res.status).toBe(200);
    expect(res.body.profile).toBe('instant');
    expect(res.body.timeScale).toBe(0.001);
    expect(Number.isNaN(Date.parse(res.body.virtualNow))).toBe(false);
    expect(res.body.quotas).toEqual({
      vpcsPerRegion: 5,
      interfaceEndpointsPerVpc: 50,
      endpointPolicyMaxChars: 20480,
    });
    expect(res.body.world).toEqual({
      endpointPolicyUpdatesApply: true,
      ignoreDenyPolicyUpdates: false,
      modelsWithoutAccess: [],
      serviceControlPolicies: [],
      automations: [],
      denyEnforcedAs: 'explicit',
    });
    expect(res.body.faults).toEqual([]);
  });

  it('POST /_emulator/config merges quotas and world, replaces faults, and the context sees it', async () => {
    const fault: FaultRule = { kind: 'throttle', service: 'iam', operation: 'GetRole', times: 1 };
    const res = await admin('config', {
      method: 'POST',
      body: {
        quotas: { vpcsPerRegion: 2 },
        world: { modelsWithoutAccess: ['amazon.titan-text-lite-v1'] },
        faults: [fault],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.quotas).toEqual({
      vpcsPerRegion: 2,
      interfaceEndpointsPerVpc: 50,
      endpointPolicyMaxChars: 20480,
    });
    expect(res.body.world).toEqual({
      endpointPolicyUpdatesApply: true,
      ignoreDenyPolicyUpdates: false,
      modelsWithoutAccess: ['amazon.titan-text-lite-v1'],
      serviceControlPolicies: [],
      automations: [],
      denyEnforcedAs: 'explicit',
    });
    expect(res.body.faults).toEqual([fault]);
    expect(emu.ctx.quotas.vpcsPerRegion).toBe(2);
    expect(emu.ctx.world.modelsWithoutAccess).toEqual(['amazon.titan-text-lite-v1']);

    // A later patch without faults keeps the faults; one with faults replaces them.
    expect(
      (await admin('config', { method: 'POST', body: { world: { endpointPolicyUpdatesApply: false } } })).body
        .faults,
    ).toEqual([fault]);
    expect((await admin('config', { method: 'POST', body: { faults: [] } })).body.faults).toEqual([]);
    expect(emu.ctx.world.endpointPolicyUpdatesApply).toBe(false);
  });

  it('POST /_emulator/reset forgets resources, issued identities and faults', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust }));
    const creds = emu.ctx.identities.issueForRole('arn:aws:iam::123456789012:role/probe', 'probe', 's1');
    await setFaultsOverHttp([{ kind: 'throttle', service: 'ec2' }]);

    const res = await admin('reset', { method: 'POST' });
    expect(res).toEqual({ status: 200, body: { ok: true } });
    expect(
      (await admin('inventory')).body.resources.filter((r: { service: string }) => r.service === 'iam'),
    ).toEqual([]);
    expect((await admin('config')).body.faults).toEqual([]);
    // The role's session keys no longer mean anything: they are refused like any unknown key.
    const asOld = new STSClient({ ...adminClientConfig(emu), credentials: creds });
    await expect(asOld.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'InvalidClientTokenId',
      $metadata: { httpStatusCode: 403 },
    });
  });

  it('answers 404 for an unknown admin route, and GET /reset does not reset', async () => {
    expect((await admin('nope')).status).toBe(404);
    await iam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust }));
    expect((await admin('reset')).status).toBe(404);
    expect(emu.iam.role('probe')).toBeDefined();
  });
});

describe('router: unknown operations, per protocol', () => {
  async function raw(init: {
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
  }) {
    // Signed as the admin, so the router gets past authentication to the operation lookup.
    const version = /Version=([\d-]+)/.exec(init.body ?? '')?.[1];
    const service =
      ({ '2010-05-08': 'iam', '2011-06-15': 'sts', '2016-11-15': 'ec2' } as Record<string, string>)[
        version ?? ''
      ] ?? (init.headers?.['x-amz-target'] ? 'states' : init.path?.startsWith('/2015') ? 'lambda' : 'none');
    const res =
      service === 'none'
        ? await fetch(`${emu.url}${init.path ?? '/'}`, { method: init.method ?? 'POST', body: init.body })
        : await signedFetch(emu, service, init);
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  it('IAM (awsQuery): an operation the emulator lacks is InvalidAction in an ErrorResponse, and the SDK raises it by name', async () => {
    const res = await raw({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=NoSuchThing&Version=2010-05-08',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">');
    expect(res.text).toContain('<Code>InvalidAction</Code>');
    expect(res.text).toContain('<Type>Sender</Type>');

    const err = await errorOf(iam.send(new ListUsersCommand({})));
    expect(err).toMatchObject({ name: 'InvalidAction', status: 400 });
  });

  it('STS (awsQuery): unknown action is InvalidAction in the STS namespace', async () => {
    const res = await raw({
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=NoSuchThing&Version=2011-06-15',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('https://sts.amazonaws.com/doc/2011-06-15/');
    expect(res.text).toContain('<Code>InvalidAction</Code>');
  });

  /** Whatever protocol a service speaks, its unknown-operation error has that protocol's shape. */
  function expectUnknownOperation(
    service: Exclude<ServiceName, 'access-analyzer'>,
    res: Awaited<ReturnType<typeof raw>>,
  ) {
    const protocol = (emu[service] as EmulatedService).api.protocol;
    switch (protocol) {
      case 'query':
        expect(res.status).toBe(400);
        expect(res.text).toContain('<Code>InvalidAction</Code>');
        break;
      case 'ec2':
        expect(res.status).toBe(400);
        expect(res.text).toMatch(/<Response><Errors><Error><Code>InvalidAction<\/Code>/);
        break;
      case 'json':
        expect(res.status).toBe(400);
        expect(JSON.parse(res.text).__type).toBe('UnknownOperationException');
        break;
      case 'rest-json':
        expect(res.status).toBe(404);
        expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
        break;
    }
  }

  it('EC2, Step Functions and Lambda answer unknown operations in their own protocol', async () => {
    expectUnknownOperation(
      'ec2',
      await raw({
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'Action=NoSuchThing&Version=2016-11-15',
      }),
    );
    expectUnknownOperation(
      'states',
      await raw({
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'AWSStepFunctions.NoSuchThing',
        },
        body: '{}',
      }),
    );
    expectUnknownOperation('lambda', await raw({ method: 'GET', path: '/2015-03-31/no-such-thing' }));
  });

  it('a request it cannot attribute to any service is a 400 that says so', async () => {
    const res = await raw({ body: 'hello' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text).message).toContain('cannot tell which service');
  });
});

describe('router: faults from core/faults.ts', () => {
  it('throttles STS with Throttling (400), which the SDK raises by that name', async () => {
    await setFaultsOverHttp([{ kind: 'throttle', service: 'sts', operation: 'GetCallerIdentity', times: 1 }]);
    const err = await errorOf(sts.send(new GetCallerIdentityCommand({})));
    expect(err).toMatchObject({ name: 'Throttling', message: 'Rate exceeded', status: 400 });
    // `times: 1`: the next call goes through.
    expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('123456789012');
  });

  it('a throttled call succeeds through the SDK retry when the fault fires once', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'sts', times: 1 }]);
    const retrying = new STSClient({ ...adminClientConfig(emu), maxAttempts: 3 });
    const out = await retrying.send(new GetCallerIdentityCommand({}));
    expect(out.$metadata.attempts).toBe(2);
  });

  it('fails IAM with ServiceFailure (500) on server-error, as ServiceFailureException', async () => {
    emu.setFaults([{ kind: 'server-error', service: 'iam', operation: 'CreateRole' }]);
    const err = await errorOf(
      iam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust })),
    );
    expect(err).toMatchObject({ name: 'ServiceFailureException', status: 500 });
    // The operation did not run.
    expect(emu.iam.role('probe')).toBeUndefined();
  });

  it('throttles IAM with Throttling only for the named operation', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'iam', operation: 'GetRole' }]);
    await iam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust }));
    const err = await errorOf(iam.send(new GetRoleCommand({ RoleName: 'probe' })));
    expect(err).toMatchObject({ name: 'Throttling', status: 400 });
    // STS is untouched by an IAM rule.
    expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('123456789012');
  });

  it('raises an injected error with its own code, which the SDK maps to the modelled exception', async () => {
    emu.setFaults([
      {
        kind: 'error',
        service: 'iam',
        operation: 'GetRole',
        code: 'NoSuchEntity',
        status: 404,
        message: 'gone',
        times: 2,
      },
    ]);
    await iam.send(new CreateRoleCommand({ RoleName: 'probe', AssumeRolePolicyDocument: lambdaTrust }));
    for (let i = 0; i < 2; i++) {
      expect(await errorOf(iam.send(new GetRoleCommand({ RoleName: 'probe' })))).toMatchObject({
        name: 'NoSuchEntityException',
        message: 'gone',
        status: 404,
      });
    }
    expect((await iam.send(new GetRoleCommand({ RoleName: 'probe' }))).Role?.RoleName).toBe('probe');
  });

  it('delays an operation by the fault delay in virtual time before it runs', async () => {
    emu.setFaults([{ kind: 'delay', service: 'sts', operation: 'GetCallerIdentity', delayMs: 30_000 }]);
    const before = emu.ctx.now();
    await sts.send(new GetCallerIdentityCommand({}));
    expect(emu.ctx.now() - before).toBeGreaterThanOrEqual(30_000);
  });

  it('a probability-0 rule never fires', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'sts', probability: 0 }]);
    for (let i = 0; i < 3; i++)
      expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('123456789012');
  });
});
