/**
 * Perimeter spec figures: static-check time of each example (median of several runs, after one
 * warm-up that loads iam-simulate's data) and the size of the perimeter each execution input
 * carries, against Step Functions' 256 KiB input limit.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStaticChecks } from '../perimeter/check.ts';
import { perimeterInput } from '../perimeter/resolve.ts';

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

if (import.meta.url === `file://${process.argv[1]}`) await main();
