/**
 * Perimeter spec figures: static-check time of each example (median of several runs, after one
 * warm-up that loads iam-simulate's data) and the size of the perimeter each execution input
 * carries, against Step Functions' 256 KiB input limit; then, live on the emulator's realistic
 * profile (`--live`, seeds 1–3), the simulated time to verdict of one region × two models × the
 * default matrix against today's single check (the product's own policies, one model), and the
 * largest run state the execution carried.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLocal } from '../cli/local.ts';
import { runSpecLocally } from '../cli/local-spec.ts';
import { runStaticChecks } from '../perimeter/check.ts';
import { perimeterInput } from '../perimeter/resolve.ts';
import { repoWith } from '../test/perimeter/helpers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ALLOWED = [
  'anthropic.claude-3-haiku-20240307-v1:0',
  'anthropic.claude-3-5-sonnet-20240620-v1:0',
  'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
  'amazon.titan-text-express-v1',
];
const RUNS = 7;
const STEP_FUNCTIONS_INPUT_LIMIT = 256 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function main(): Promise<void> {
  const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yml'));
  await runStaticChecks(join(ROOT, 'examples', files[0]!), { allowedModels: ALLOWED, repoRoot: ROOT });
  for (const f of files) {
    const times: number[] = [];
    let last: Awaited<ReturnType<typeof runStaticChecks>> | undefined;
    for (let i = 0; i < RUNS; i++) {
      last = await runStaticChecks(join(ROOT, 'examples', f), { allowedModels: ALLOWED, repoRoot: ROOT });
      times.push(last.durationMs);
    }
    const bytes = last?.loaded ? Buffer.byteLength(JSON.stringify(perimeterInput(last.loaded))) : 0;
    console.log(
      `${f}: static checks median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}, ${RUNS} runs), ` +
        `${last?.cells.length ?? 0} cells, ${last?.findings.length ?? 0} findings; perimeter in the execution input ${bytes} bytes ` +
        `(${((bytes / STEP_FUNCTIONS_INPUT_LIMIT) * 100).toFixed(2)} % of 256 KiB)`,
    );
  }
}

const SEEDS = [1, 2, 3];

/** Simulated seconds to the verdict: today's single check against a two-model default-matrix perimeter. */
export async function live(): Promise<void> {
  const spec = repoWith({
    'privatelink-verify.yml': `version: 1\nmodels:\n  - ${ALLOWED[0]}\n  - ${ALLOWED[2]}\n`,
  });
  const base = { scenario: 'correct', profile: 'realistic' as const, json: false, quiet: true };
  for (const seed of SEEDS) {
    const single = await runLocal({
      ...base,
      seed,
      input: { runId: `bench-single-${seed}`, region: 'us-east-1', modelId: ALLOWED[0]! },
    });
    const matrix = await runSpecLocally(
      {
        ...base,
        seed,
        input: { runId: `bench-matrix-${seed}`, region: 'us-east-1', modelId: ALLOWED[0]! },
        spec: { file: join(spec, 'privatelink-verify.yml'), allowedModels: ALLOWED, repoRoot: spec },
      },
      () => {},
    );
    const m = matrix.results[0]!;
    const cells = m.report.matrix ?? [];
    console.log(
      `seed ${seed}: single check ${single.report.verdict}, verdict at ${single.figures.verdictSeconds?.toFixed(0)} s simulated; ` +
        `2 models × default matrix (${cells.length} cells, ${cells.filter((c) => c.result === 'passed').length} passed) ${m.report.verdict}, verdict at ${m.figures.verdictSeconds?.toFixed(0)} s ` +
        `(${((m.figures.verdictSeconds ?? 0) / (single.figures.verdictSeconds ?? 1)).toFixed(2)}×); report ${Buffer.byteLength(JSON.stringify(m.report))} bytes; wall ${single.figures.wallSeconds.toFixed(1)} s / ${m.figures.wallSeconds.toFixed(1)} s`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
  if (process.argv.includes('--live')) await live();
}
