/**
 * Where unzipped deployment packages live: one directory per package content, shared by every
 * emulator this user runs on this machine (core/cache-dir.ts), so a package keeps one path across runs and processes. Node's module
 * compile cache is keyed by a module's path, and a bundle with the AWS SDK takes ~140 ms to
 * compile and load cold against ~85 ms with its V8 code cache (a 1.2 MB task bundle, measured
 * with `node -e "import(...)"` and NODE_COMPILE_CACHE); a path that changed with every
 * CreateFunction missed that cache every time (and would have filled it).
 *
 * A package directory is written once (into a temporary name, then renamed), never changed, and
 * removed only when no emulator has stored it for STALE_MS: Lambda, too, keeps a function
 * version's code for as long as the version exists, without copying it per sandbox.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { privateCacheDir } from '../../core/cache-dir.ts';

/** Packages and the compile cache: this user's own directory below the machine's temporary one. */
export const codeStoreDir = () => privateCacheDir('plv-lambda-code');
/** V8 code caches of the packages' modules (Node's module compile cache), for the sandboxes. */
export const compileCacheDir = () => join(codeStoreDir(), '.compile-cache');
/** A package nobody stored for a day is removed by the next emulator process that stores one. */
export const STALE_MS = 24 * 3600 * 1000;
/** Written last: a directory without it is a store that did not finish. */
const COMPLETE = '.complete';

export interface StoredPackage {
  /** The package's own directory (its files under `task/`, the runtime's SDK under `node_modules/`). */
  root: string;
  /** The unzipped package (LAMBDA_TASK_ROOT). */
  dir: string;
}

let pruned: Promise<void> | undefined;

/**
 * A sandbox starts from the package in `dir` (its `task/` directory): the package is in use, so
 * no other emulator's prune removes it (an emulator may run for days after it stored the code).
 */
export function touchPackage(dir: string): void {
  const now = new Date();
  void utimes(join(dirname(dir), COMPLETE), now, now).catch(() => {});
}

/**
 * The directory holding `files` with `runtimeScopes` linked beside them (name → target), made now
 * or found from an earlier store of the same content. `files` may be a function: it is called
 * (the package unzipped) only when the content is not stored yet.
 */
export async function storePackage(
  files: Record<string, Uint8Array> | (() => Record<string, Uint8Array>),
  zipSha256: string,
  runtimeScopes: [string, string | undefined][],
  store = codeStoreDir(),
): Promise<StoredPackage> {
  if (store === codeStoreDir()) {
    pruned ??= pruneStale().catch(() => {});
    await pruned;
  }
  const key = createHash('sha256')
    .update(zipSha256)
    .update(JSON.stringify(runtimeScopes))
    .digest('hex')
    .slice(0, 32);
  const root = join(store, key);
  const found = { root, dir: join(root, 'task') };
  try {
    const now = new Date();
    await utimes(join(root, COMPLETE), now, now);
    return found;
  } catch {
    // not stored yet (or half-stored by a process that died): store it
  }
  const contents = typeof files === 'function' ? files() : files;
  const temp = join(store, `.tmp-${process.pid}-${randomUUID()}`);
  const dir = join(temp, 'task');
  await mkdir(join(temp, 'node_modules'), { recursive: true });
  for (const [scope, target] of runtimeScopes) {
    if (target) await symlink(target, join(temp, 'node_modules', scope), 'dir');
  }
  await mkdir(dir);
  for (const [path, content] of Object.entries(contents)) {
    if (path.endsWith('/')) continue;
    const target = normalize(join(dir, path));
    if (!target.startsWith(dir + sep)) continue; // a path escaping the package is ignored, as unzip -: would refuse it
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  await writeFile(join(temp, COMPLETE), '');
  try {
    await rename(temp, root);
  } catch {
    // Another emulator stored the same content meanwhile: the same files, keep theirs.
    await rm(temp, { recursive: true, force: true });
  }
  return found;
}

/** Remove packages (and, with them, the compile cache) that no emulator stored for STALE_MS. */
export async function pruneStale(store = codeStoreDir()): Promise<void> {
  const names = await readdir(store).catch(() => [] as string[]);
  let removed = false;
  for (const name of names) {
    if (name === '.compile-cache') continue;
    const path = join(store, name);
    const mark = name.startsWith('.tmp-') ? path : join(path, COMPLETE);
    const seen = await stat(mark)
      .then((s) => s.mtimeMs)
      .catch(() => 0);
    if (Date.now() - seen < STALE_MS) continue;
    await rm(path, { recursive: true, force: true }).catch(() => {});
    removed = true;
  }
  // Cache entries are per module path: those of removed packages would stay forever.
  if (removed) await rm(join(store, '.compile-cache'), { recursive: true, force: true }).catch(() => {});
}
