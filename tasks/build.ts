/**
 * How task code becomes Lambda bundles. The CDK stack (NodejsFunction) and the local deployer use
 * these same settings, so what runs locally is what deploys.
 */

import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, buildSync } from 'esbuild';
import { PROBE_FUNCTION, type TaskDefinition } from './manifest.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Lambda runtime every function uses: the newest Node.js runtime aws-cdk-lib offers. */
export const LAMBDA_RUNTIME = 'nodejs24.x';
export const ESBUILD_TARGET = 'node24';

/**
 * The Node.js Lambda runtimes ship AWS SDK v3 with its `@smithy/*` dependencies, and CDK's
 * NodejsFunction leaves `@aws-sdk/*` out by default for them: we leave both out (the probe uses
 * `@smithy/node-http-handler` directly), and the emulator's Lambda provides them the way the
 * runtime does.
 */
export const EXTERNAL_MODULES = ['@aws-sdk/*', '@smithy/*'];

/** ESM bundles still meet CommonJS dependencies that call require(). */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __plvCreateRequire } from 'node:module'; const require = __plvCreateRequire(import.meta.url);";

/** Name of the global the CreateProbe bundle reads the probe's code from. */
export const PROBE_BUNDLE_DEFINE = '__PROBE_BUNDLE__';

export function baseOptions(entry: string): BuildOptions {
  return {
    entryPoints: [`${REPO_ROOT}${entry}`],
    bundle: true,
    platform: 'node',
    target: ESBUILD_TARGET,
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    external: EXTERNAL_MODULES,
    banner: { js: ESM_REQUIRE_BANNER },
    write: false,
    logLevel: 'silent',
  };
}

/** The probe's bundled code: CreateProbe embeds it and zips it into the probe function at run time. */
export function buildProbeCodeSync(): string {
  const out = buildSync(baseOptions(PROBE_FUNCTION.entry));
  return out.outputFiles![0]!.text;
}

/** esbuild `define` for the CreateProbe bundle. */
export function probeDefine(probeCode: string): Record<string, string> {
  return { [PROBE_BUNDLE_DEFINE]: JSON.stringify(probeCode) };
}

/** Bundle one task as `index.mjs` text. */
export async function bundleTask(task: TaskDefinition, probeCode: string): Promise<string> {
  const out = await build({ ...baseOptions(task.entry), define: probeDefine(probeCode) });
  return out.outputFiles![0]!.text;
}
