/**
 * Infrastructure benchmark: synthesize the real stack (esbuild bundling of every task, cdk-nag on)
 * and print each task bundle's minified size and the synth time.
 * Run: `npx node bench/infra.ts`.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { createApp } from '../infra/app.ts';
import { SWEEPER_FUNCTION, TASKS } from '../tasks/manifest.ts';

/** The aim for every task bundle, minified, without its source map. */
export const BUNDLE_BUDGET_KB = 300;

export interface InfraBenchResult {
  synthSeconds: number;
  bundles: { task: string; kb: number; mapKb: number; withinBudget: boolean }[];
}

export function main(): InfraBenchResult {
  const started = performance.now();
  const { app, stack } = createApp({ config: { repository: 'bench/privatelink-verify' } });
  const assembly = app.synth();
  const synthSeconds = (performance.now() - started) / 1000;
  const template = assembly.getStackByName(stack.stackName).template;

  const bundles = [...TASKS, SWEEPER_FUNCTION].map((task) => {
    const fn = stack.taskFunctions.functions[task.name]!;
    const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const key: string = template.Resources[id].Properties.Code.S3Key;
    const dir = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
    const kb = statSync(join(dir, 'index.mjs')).size / 1024;
    const mapKb = statSync(join(dir, 'index.mjs.map')).size / 1024;
    return { task: task.name, kb, mapKb, withinBudget: kb < BUNDLE_BUDGET_KB };
  });

  console.log(
    `infra synth (esbuild bundling of ${bundles.length} functions + cdk-nag): ${synthSeconds.toFixed(2)} s`,
  );
  console.log(`task bundles (index.mjs minified; budget ${BUNDLE_BUDGET_KB} KB):`);
  for (const b of bundles) {
    console.log(
      `  ${b.task.padEnd(26)} ${b.kb.toFixed(1).padStart(8)} KB   map ${b.mapKb.toFixed(1).padStart(8)} KB   ${b.withinBudget ? 'ok' : 'OVER BUDGET'}`,
    );
  }
  const over = bundles.filter((b) => !b.withinBudget);
  console.log(
    over.length
      ? `${over.length} bundle(s) over ${BUNDLE_BUDGET_KB} KB`
      : `every bundle under ${BUNDLE_BUDGET_KB} KB`,
  );
  return { synthSeconds, bundles };
}

if (import.meta.main) main();
