/**
 * Local task bundles, cached by what they are built from: the esbuild version, the build options
 * and the content of every file the build read (esbuild's metafile lists them). Changing any of
 * those files — a task, a shared lib, a dependency in node_modules — misses the cache, and a new
 * import can only appear by changing a file that was read, so a hit is the bundle esbuild would
 * build. Bundling the 13 functions with the AWS SDK costs seconds of every `npm start` otherwise.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { REPO_ROOT } from '../tasks/build.ts';

export const BUNDLE_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'privatelink-verify', 'bundles');

interface CacheEntry {
  key: string;
  /** Absolute path → sha256 of the content, for every file the build read. */
  inputs: Record<string, string>;
  /** sha256 of the artifact file beside this entry (written first, so a torn pair is a miss). */
  artifact: string;
}

export interface CachedBundle {
  /** What `pack` made of the bundle's text (e.g. a deployment package). */
  artifact: Uint8Array;
  /** True when the artifact came from the cache (nothing was bundled). */
  hit: boolean;
}

let bundler: typeof import('esbuild') | undefined;

/** Content digests of this process, so files shared by many bundles are read once. */
const digests = new Map<string, string | undefined>();

function fileDigest(path: string): string | undefined {
  if (!digests.has(path)) {
    try {
      digests.set(path, createHash('sha256').update(readFileSync(path)).digest('hex'));
    } catch {
      digests.set(path, undefined);
    }
  }
  return digests.get(path);
}

function esbuildVersion(): string {
  const require = createRequire(import.meta.url);
  return (JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')) as { version: string })
    .version;
}

/** Whether every file the cached build read still has the content it had. */
function stillValid(entry: CacheEntry): boolean {
  return Object.entries(entry.inputs).every(([path, digest]) => fileDigest(path) === digest);
}

/** How a bundle's text becomes the cached artifact; `id` names the packing in the cache key. */
export interface Packing {
  id: string;
  pack: (text: string) => Uint8Array;
}

/**
 * The single output file of an esbuild build (`write: false`) of `options`, packed by `packing`
 * (the packed form is cached: packing can cost more than checking), from the cache when nothing it
 * was built from changed. `name` names the cache files (one entry per name).
 */
export async function cachedBundle(
  name: string,
  options: BuildOptions,
  packing: Packing,
  dir = BUNDLE_CACHE_DIR,
): Promise<CachedBundle> {
  const key = createHash('sha256')
    .update(JSON.stringify({ esbuild: esbuildVersion(), options, packing: packing.id }))
    .digest('hex');
  const entryFile = join(dir, `${name}.json`);
  const artifactFile = join(dir, `${name}.bin`);
  try {
    const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as CacheEntry;
    if (entry.key === key && stillValid(entry)) {
      const artifact = readFileSync(artifactFile);
      if (createHash('sha256').update(artifact).digest('hex') === entry.artifact)
        return { artifact: new Uint8Array(artifact), hit: true };
    }
  } catch {
    // no entry, or an unreadable one: build
  }
  // esbuild starts a service process on first use: only a miss pays for it (stopBundler ends it).
  bundler ??= await import('esbuild');
  const out = await bundler.build({ ...options, write: false, metafile: true });
  const artifact = packing.pack(out.outputFiles![0]!.text);
  const base = options.absWorkingDir ?? process.cwd();
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(out.metafile!.inputs)) {
    const path = isAbsolute(input) ? input : resolve(base, input);
    digests.delete(path); // the build just read it: digest what it read now
    const digest = fileDigest(path);
    // An input that is not a plain file (a virtual module) cannot be checked: never reuse this build.
    if (digest === undefined) return { artifact, hit: false };
    inputs[path] = digest;
  }
  mkdirSync(dir, { recursive: true });
  // Each file written then renamed: a concurrent reader sees an old or a new file, never half of one.
  const put = (file: string, data: string | Uint8Array) => {
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, data);
    renameSync(temp, file);
  };
  put(artifactFile, artifact);
  const entry: CacheEntry = {
    key,
    inputs,
    artifact: createHash('sha256').update(artifact).digest('hex'),
  };
  put(entryFile, JSON.stringify(entry));
  return { artifact, hit: false };
}

/** Stop esbuild's service process if a build started it (it would keep the process alive). */
export async function stopBundler(): Promise<void> {
  await bundler?.stop();
}
