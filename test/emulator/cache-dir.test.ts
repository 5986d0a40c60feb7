/**
 * The emulator's caches between processes hold what it later runs (function code) or trusts (a
 * definition's validation). Under the shared temporary directory, a directory another user made
 * or may write must never be used: the world where it is would let them plant code.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { privateCacheDir } from '../../emulator/core/cache-dir.ts';

const uid = process.getuid?.();
const made: string[] = [];
const fresh = () => {
  const name = `plv-cache-test-${process.pid}-${Math.random().toString(16).slice(2)}`;
  made.push(name);
  return name;
};
afterAll(() => {
  for (const f of readdirSync(tmpdir()))
    if (made.some((n) => f.startsWith(n))) rmSync(join(tmpdir(), f), { recursive: true, force: true });
});
const own = (name: string) => join(tmpdir(), uid === undefined ? name : `${name}-${uid}`);

describe.skipIf(uid === undefined)('private cache directories', () => {
  it('makes this user’s own directory, mode 0700, and keeps using it', () => {
    const name = fresh();
    const dir = privateCacheDir(name);
    expect(dir).toBe(own(name));
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(privateCacheDir(name)).toBe(dir);
  });

  it('does not use a directory others may write: this process gets a private one instead', () => {
    const name = fresh();
    mkdirSync(own(name));
    chmodSync(own(name), 0o777);
    const dir = privateCacheDir(name);
    expect(dir).not.toBe(own(name));
    expect(dir.startsWith(join(tmpdir(), `${name}-private-`))).toBe(true);
    expect(lstatSync(dir).mode & 0o077).toBe(0);
  });

  it('does not follow a symbolic link planted under its name', () => {
    const name = fresh();
    const elsewhere = mkdtempSync(join(tmpdir(), `${name}-target-`));
    chmodSync(elsewhere, 0o700);
    symlinkSync(elsewhere, own(name));
    const dir = privateCacheDir(name);
    expect(dir).not.toBe(own(name));
    expect(dir).not.toBe(elsewhere);
  });
});
