/**
 * The code store: a deployment package keeps one path across emulators and processes (so Node's
 * compile cache, keyed by path, serves the next sandbox), and a store that no emulator used for a
 * day is removed. No AWS behaviour is claimed here: how the emulator keeps code is its own.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import {
  codeStoreDir,
  compileCacheDir,
  pruneStale,
  STALE_MS,
  storePackage,
} from '../../emulator/services/lambda/code-store.ts';
import { LAMBDA_TRUST_POLICY, zippedSource } from '../fixtures/lambda/bundle.ts';
import { adminClientConfig, startTestEmulator } from '../helpers/emulator.ts';
import { eventually, functionReady } from '../helpers/wait.ts';

const text = (s: string) => new TextEncoder().encode(s);
const files = (body: string) => ({ 'index.mjs': text(body), 'lib/a.mjs': text('export const a = 1;') });

describe('code store', () => {
  it('gives the same content one directory, other content another, with the runtime SDK beside it', async () => {
    const store = mkdtempSync(join(tmpdir(), 'plv-store-test-'));
    const scopes: [string, string | undefined][] = [
      ['@aws-sdk', join(process.cwd(), 'node_modules', '@aws-sdk')],
    ];
    const one = await storePackage(files('export const x = 1;'), 'sha-one', scopes, store);
    const again = await storePackage(files('export const x = 1;'), 'sha-one', scopes, store);
    const other = await storePackage(files('export const x = 2;'), 'sha-two', scopes, store);
    expect(again).toEqual(one);
    expect(other.root).not.toBe(one.root);
    expect(readFileSync(join(one.dir, 'index.mjs'), 'utf8')).toBe('export const x = 1;');
    expect(readFileSync(join(one.dir, 'lib/a.mjs'), 'utf8')).toBe('export const a = 1;');
    expect(existsSync(join(one.root, 'node_modules', '@aws-sdk', 'client-lambda'))).toBe(true);
    // Nothing half-written is left beside the packages.
    expect(readdirSync(store).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('ignores a path escaping the package, as unzip refuses it', async () => {
    const store = mkdtempSync(join(tmpdir(), 'plv-store-test-'));
    const pkg = await storePackage(
      { 'index.mjs': text('export {}'), '../../escaped.mjs': text('x') },
      'sha-escape',
      [],
      store,
    );
    expect(readdirSync(pkg.dir)).toEqual(['index.mjs']);
    expect(existsSync(join(store, 'escaped.mjs'))).toBe(false);
  });

  it('removes packages nobody stored for a day, and the compile cache with them; keeps fresh ones', async () => {
    const store = mkdtempSync(join(tmpdir(), 'plv-store-test-'));
    const old = await storePackage(files('export const old = 1;'), 'sha-old', [], store);
    const fresh = await storePackage(files('export const fresh = 1;'), 'sha-fresh', [], store);
    const dayAgo = new Date(Date.now() - STALE_MS - 60_000);
    utimesSync(join(old.root, '.complete'), dayAgo, dayAgo);
    mkdirSync(join(store, '.compile-cache'));
    writeFileSync(join(store, '.compile-cache', 'entry'), 'v8');
    await pruneStale(store);
    expect(existsSync(old.root)).toBe(false);
    expect(existsSync(fresh.root)).toBe(true);
    expect(existsSync(join(store, '.compile-cache'))).toBe(false);
    // Storing the old content again brings it back.
    const back = await storePackage(files('export const old = 1;'), 'sha-old', [], store);
    expect(readFileSync(join(back.dir, 'index.mjs'), 'utf8')).toBe('export const old = 1;');
  });
});

describe('Lambda code in the store', () => {
  let emu: Emulator;
  let lambda: LambdaClient;
  let roleArn: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    lambda = new LambdaClient(adminClientConfig(emu));
    const iam = new IAMClient(adminClientConfig(emu));
    roleArn = (
      await iam.send(
        new CreateRoleCommand({ RoleName: 'store-role', AssumeRolePolicyDocument: LAMBDA_TRUST_POLICY }),
      )
    ).Role!.Arn!;
  });
  afterAll(() => emu?.close());

  const cacheEntries = () =>
    existsSync(compileCacheDir()) ? readdirSync(compileCacheDir(), { recursive: true }).length : 0;

  it('two functions with one package share its directory, and a cold start leaves its compiled code cached', async () => {
    // A module nobody loaded before (its text is new), so its cache entry is new too.
    const unique = `// ${process.pid}-${Date.now()}-${Math.random()}\nexport const handler = async () => process.env.LAMBDA_TASK_ROOT;\n`;
    const zip = zippedSource('index.mjs', unique);
    for (const name of ['store-a', 'store-b']) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs24.x',
          Handler: 'index.handler',
          Role: roleArn,
          Code: { ZipFile: zip },
        }),
      );
      await functionReady(lambda, name);
    }
    const before = cacheEntries();
    const roots: string[] = [];
    for (const name of ['store-a', 'store-b']) {
      const out = await lambda.send(new InvokeCommand({ FunctionName: name }));
      expect(out.FunctionError).toBeUndefined();
      roots.push(JSON.parse(new TextDecoder().decode(out.Payload)) as string);
    }
    expect(roots[0]).toBe(roots[1]);
    expect(roots[0]!.startsWith(codeStoreDir())).toBe(true);
    expect(cacheEntries()).toBeGreaterThan(before);
    // A cold start marks the package in use, so a prune elsewhere keeps it.
    const mark = join(roots[0]!, '..', '.complete');
    const dayAgo = new Date(Date.now() - STALE_MS - 60_000);
    utimesSync(mark, dayAgo, dayAgo);
    await lambda.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: 'store-a', Description: 'cold again' }),
    );
    await functionReady(lambda, 'store-a');
    expect((await lambda.send(new InvokeCommand({ FunctionName: 'store-a' }))).FunctionError).toBeUndefined();
    await eventually(
      () => statSync(mark).mtimeMs,
      (t) => Date.now() - t < STALE_MS,
      'the package marked in use',
    );
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'store-a' }));
    expect(got.Configuration?.CodeSize).toBe(zip.length);
  });

  it('refuses a package that is not a zip, as Lambda does, and stores nothing for it', async () => {
    const err = await lambda
      .send(
        new CreateFunctionCommand({
          FunctionName: 'store-bad-zip',
          Runtime: 'nodejs24.x',
          Handler: 'index.handler',
          Role: roleArn,
          Code: { ZipFile: text(`not a zip ${Math.random()}`) },
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.name).toBe('InvalidParameterValueException');
    expect(err?.message).toBe(
      'Could not unzip uploaded file. Please check your file, then try to upload again.',
    );
    // Nothing half-stored by this process (other test files store packages meanwhile).
    const mine = readdirSync(codeStoreDir()).filter((n) => n.startsWith(`.tmp-${process.pid}-`));
    expect(mine).toEqual([]);
  });
});
