import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The emulator's layers import one way only (ARCHITECTURE.md, issue 9 item 6): wire protocols
 * (`emulator/core/*`) and the data-plane model (`emulator/network/*`: DNS, path, policy
 * decision) read the services through the views of core/models.ts and never import a service
 * module; the emulator imports nothing of the product; and no EC2 resource-family file grows
 * past 600 lines.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const EMULATOR = join(ROOT, 'emulator');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return filesUnder(p);
    return /\.(ts|mts|js|mjs)$/.test(d.name) ? [p] : [];
  });
}

/** Every module specifier a file names: static imports and re-exports, `import type`, dynamic and inline `import('…')`. */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\sfrom\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) specs.push(m[1]!);
  return specs;
}

/** Relative specifiers resolved to repository paths (`emulator/services/ec2.ts`); packages as they are. */
function resolvedImports(file: string): string[] {
  return importsOf(readFileSync(file, 'utf8')).map((spec) =>
    spec.startsWith('.') ? relative(ROOT, resolve(dirname(file), spec)) : spec,
  );
}

const files = filesUnder(EMULATOR).map((f) => relative(ROOT, f));

function violations(from: (f: string) => boolean, forbidden: (target: string) => boolean): string[] {
  return files.filter(from).flatMap((f) =>
    resolvedImports(join(ROOT, f))
      .filter(forbidden)
      .map((t) => `${f} imports ${t}`),
  );
}

describe('emulator layers', () => {
  it('finds the import forms it checks (static, type-only, re-export, multi-line, dynamic)', () => {
    const sample = [
      "import { a } from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      'import {\n  d,\n  e,\n} from "./d.ts";',
      "type F = import('./f.ts').F;",
      "import './side-effect.ts';",
    ].join('\n');
    expect(importsOf(sample).sort()).toEqual(
      ['../b.ts', './a.ts', './c.ts', './d.ts', './f.ts', './side-effect.ts'].sort(),
    );
  });

  it('reads every emulator file, including the protocols, the data plane and the EC2 families', () => {
    expect(files.some((f) => f.startsWith('emulator/core/'))).toBe(true);
    expect(files.some((f) => f.startsWith('emulator/network/'))).toBe(true);
    expect(files.filter((f) => f.startsWith('emulator/services/ec2/')).length).toBeGreaterThan(5);
  });

  it('protocols (emulator/core) never import a service module', () => {
    expect(
      violations(
        (f) => f.startsWith('emulator/core/'),
        (t) => t.startsWith('emulator/services/'),
      ),
    ).toEqual([]);
  });

  it('the data-plane model (emulator/network) never imports a service module', () => {
    expect(
      violations(
        (f) => f.startsWith('emulator/network/'),
        (t) => t.startsWith('emulator/services/'),
      ),
    ).toEqual([]);
  });

  it('the EC2 families never import the service class that assembles them', () => {
    expect(
      violations(
        (f) => f.startsWith('emulator/services/ec2/') && f !== 'emulator/services/ec2/service.ts',
        (t) => t === 'emulator/services/ec2/service.ts' || t === 'emulator/services/ec2.ts',
      ),
    ).toEqual([]);
  });

  it('the emulator imports nothing of the product (it stands in for AWS)', () => {
    const product = ['tasks/', 'cli/', 'infra/', 'statemachine/', 'workflows-src/', 'test/', 'bench/'];
    expect(
      violations(
        () => true,
        (t) => product.some((p) => t.startsWith(p)),
      ),
    ).toEqual([]);
  });

  it('no EC2 resource-family file exceeds 600 lines', () => {
    const long = files
      .filter((f) => f.startsWith('emulator/services/ec2/'))
      .map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > 600);
    expect(long).toEqual([]);
  });
});
