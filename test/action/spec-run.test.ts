/** The action's spec pieces without a runner: inputs, outcome folding, execution input per region, the embedded IAM data. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { runStaticChecks } from '../../perimeter/check.ts';
import { loadSpec } from '../../perimeter/load.ts';
import { perimeterInput } from '../../perimeter/resolve.ts';
import { ExecutionInputSchema, type RunOutcome } from '../../statemachine/contract.ts';
import { executionName } from '../../workflows-src/action/execution-name.ts';
import { InputError, parseInputs } from '../../workflows-src/action/inputs.ts';
import {
  decidingIndex,
  inputBytes,
  MAX_EXECUTION_INPUT_BYTES,
  regionInput,
  worstOutcome,
} from '../../workflows-src/action/spec-run.ts';
import { REPO_ROOT } from '../../workflows-src/build.ts';
import { iamDataPlugin } from '../../workflows-src/iam-data-plugin.ts';

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:privatelink-verify';
const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

function parse(over: Record<string, string>, exists: string[] = []) {
  const all: Record<string, string> = { 'state-machine-arn': ARN, 'github-token': 't', ...over };
  return parseInputs((n) => all[n] ?? '', { fileExists: (p) => exists.includes(p) });
}

function problems(over: Record<string, string>, exists: string[] = []): string[] {
  try {
    parse(over, exists);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).problems;
  }
}

describe('spec inputs', () => {
  it('uses the default spec only when it exists, and then needs no region or model', () => {
    expect(parse({}, ['privatelink-verify.yml']).spec).toBe('privatelink-verify.yml');
    expect(problems({})).toEqual([
      'region is required (or a spec that names regions)',
      'model-id is required (or a spec that names models)',
    ]);
    expect(parse({ region: 'us-east-1', 'model-id': MODEL }).spec).toBeUndefined();
  });

  it('a named spec must exist and stay inside the workspace', () => {
    expect(problems({ spec: 'team.yml' })[0]).toContain('spec "team.yml" does not exist in the workspace');
    expect(
      problems({ spec: '../other/privatelink-verify.yml' }, ['../other/privatelink-verify.yml'])[0],
    ).toContain('must be a path inside the workspace');
    expect(problems({ spec: '/etc/privatelink-verify.yml' }, ['/etc/privatelink-verify.yml'])[0]).toContain(
      'must be a path inside the workspace',
    );
    expect(parse({ spec: 'ops/perimeter.yml' }, ['ops/perimeter.yml']).spec).toBe('ops/perimeter.yml');
  });

  it('reads allowed-models as a list of model ids, and base-spec only with a spec', () => {
    const i = parse({ 'allowed-models': `${MODEL}, amazon.titan-text-express-v1\n` }, [
      'privatelink-verify.yml',
    ]);
    expect(i.allowedModels).toEqual([MODEL, 'amazon.titan-text-express-v1']);
    expect(problems({ 'allowed-models': 'claude' }, ['privatelink-verify.yml'])[0]).toContain(
      'allowed-models "claude": model id must look like',
    );
    expect(problems({ 'base-spec': '/tmp/base.yml', region: 'us-east-1', 'model-id': MODEL })[0]).toContain(
      'base-spec needs a spec',
    );
  });
});

describe('the outcome over regions', () => {
  const ALL: RunOutcome[] = ['pass', 'pass-with-leftovers', 'error', 'fail'];

  it('is the worst: fail > error > pass-with-leftovers > pass, whatever the order (as within one run)', () => {
    for (const [i, a] of ALL.entries())
      for (const [j, b] of ALL.entries()) {
        const worst = ALL[Math.max(i, j)];
        expect(worstOutcome([a, b]), `${a}, ${b}`).toBe(worst);
        expect(worstOutcome([b, a]), `${b}, ${a}`).toBe(worst);
      }
    expect(worstOutcome(['pass', 'pass'])).toBe('pass');
    // No region ran: nothing is verified.
    expect(worstOutcome([])).toBe('error');
  });

  it('is decided by the first region with the worst outcome', () => {
    expect(decidingIndex(['pass', 'fail', 'fail'])).toBe(1);
    expect(decidingIndex(['error', 'fail', 'pass'])).toBe(1);
    expect(decidingIndex(['pass'])).toBe(0);
  });
});

describe('one execution input per region', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plv-spec-'));
  const file = join(dir, 'privatelink-verify.yml');
  writeFileSync(
    file,
    `version: 1\nregions: [us-east-1, eu-west-1]\nmodels: [${MODEL}, amazon.titan-text-express-v1]\noptions:\n  settleSeconds: 12\n`,
  );
  const perimeter = perimeterInput(loadSpec(file, { repoRoot: dir }));

  it('is a valid input with the region, the first model, the perimeter and the spec options', () => {
    const input = regionInput({ owner: 'github.com/o/r' }, perimeter, 'eu-west-1');
    const parsed = ExecutionInputSchema.parse({ runId: 'r', ...input });
    expect(parsed.region).toBe('eu-west-1');
    expect(parsed.modelId).toBe(MODEL);
    expect(parsed.perimeter?.models).toEqual([MODEL, 'amazon.titan-text-express-v1']);
    expect(parsed.options.denySettleSeconds).toBe(12);
    expect(parsed.owner).toBe('github.com/o/r');
    expect(parsed.pool).toBeUndefined();
    // The action's pool input reaches every region's run.
    const pooled = ExecutionInputSchema.parse({
      runId: 'r',
      ...regionInput({ owner: 'o', pool: 'ci' }, perimeter, 'us-east-1'),
    });
    expect(pooled.pool).toBe('ci');
  });

  it('gets a deterministic execution name of its own per region', () => {
    const name = (region: string) =>
      executionName({
        repository: 'o/r',
        runId: '1',
        runAttempt: '1',
        discriminator: `verify|${region}|${MODEL}`,
        input: regionInput({ owner: 'o' }, perimeter, region),
      });
    expect(name('us-east-1')).toBe(name('us-east-1'));
    expect(name('us-east-1')).not.toBe(name('eu-west-1'));
    // The digest covers the input: with the same discriminator, another perimeter is another name.
    const other = { ...perimeter, matrix: perimeter.matrix.slice(1) };
    const withOther = executionName({
      repository: 'o/r',
      runId: '1',
      runAttempt: '1',
      discriminator: `verify|us-east-1|${MODEL}`,
      input: regionInput({ owner: 'o' }, other, 'us-east-1'),
    });
    expect(withOther).not.toBe(name('us-east-1'));
  });

  it('counts its size in UTF-8 bytes against the StartExecution limit', () => {
    const input = { runId: 'r', ...regionInput({ owner: 'ü'.repeat(100) }, perimeter, 'us-east-1') };
    expect(inputBytes(input)).toBe(JSON.stringify(input).length + 100);
    expect(MAX_EXECUTION_INPUT_BYTES).toBe(262_144);
  });
});

describe('the IAM data embedded in the bundle', () => {
  it('the bundled static checks find what the unbundled ones find, for every example spec', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plv-bundle-'));
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { runStaticChecks } from ${JSON.stringify(join(REPO_ROOT, 'perimeter/check.ts'))};\n` +
        `const r = await runStaticChecks(process.argv[2], { allowedModels: JSON.parse(process.argv[3]), repoRoot: process.argv[4] });\n` +
        `process.stdout.write(JSON.stringify({ findings: r.findings, cells: r.cells.map((c) => [c.index, c.region, c.model, c.prediction.outcome]) }));\n`,
    );
    const out = join(dir, 'bundle.mjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: out,
      plugins: [iamDataPlugin],
      banner: {
        js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const allowed = [MODEL, 'amazon.titan-text-express-v1', 'us.anthropic.claude-3-5-sonnet-20240620-v1:0'];
    // Without the plugin the bundle looks for the data beside itself and cannot predict anything.
    const bare = join(dir, 'bare.mjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: bare,
      banner: {
        js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const broken = spawnSync(
      process.execPath,
      [bare, join(REPO_ROOT, 'privatelink-verify.yml'), JSON.stringify(allowed), REPO_ROOT],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain('ENOENT');
    for (const spec of [
      'privatelink-verify.yml',
      'examples/walkthrough.yml',
      'examples/team-perimeter.yml',
      'examples/deliberately-failing.yml',
    ]) {
      const run = spawnSync(
        process.execPath,
        [out, join(REPO_ROOT, spec), JSON.stringify(allowed), REPO_ROOT],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
      expect(run.status, `${spec}: ${run.stderr}`).toBe(0);
      const direct = await runStaticChecks(join(REPO_ROOT, spec), {
        allowedModels: allowed,
        repoRoot: REPO_ROOT,
      });
      const bundled = JSON.parse(run.stdout);
      expect(bundled.cells.length, spec).toBeGreaterThan(0);
      expect(bundled, spec).toEqual({
        findings: JSON.parse(JSON.stringify(direct.findings)),
        cells: direct.cells.map((c) => [c.index, c.region, c.model, c.prediction.outcome]),
      });
    }
  }, 60_000);
});
