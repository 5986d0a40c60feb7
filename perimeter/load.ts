/**
 * Loading a perimeter spec from the user's repository: YAML or JSON, validated against the
 * contract's schema, every problem anchored to a line and column of the file that holds it
 * (the spec itself or a policy file it names).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type * as z from 'zod';
import {
  DEFAULT_BYSTANDER_IDENTITY_POLICY,
  DEFAULT_ENDPOINT_POLICY,
  DEFAULT_IDENTITY_POLICY,
  DEFAULT_MATRIX,
  type MatrixRow,
  type PerimeterSpec,
  PerimeterSpecSchema,
  type PolicySource,
  type PolicyTemplate,
} from '../statemachine/perimeter-spec.ts';

/** Where in which file: 1-based line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** A parsed YAML/JSON file that can say where any path of it is written. */
export class SourceFile {
  readonly file: string;
  readonly text: string;
  private readonly lines = new LineCounter();
  private readonly doc: ReturnType<typeof parseDocument>;

  constructor(file: string, text: string) {
    this.file = file;
    this.text = text;
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /** Syntax errors, each with its position. */
  syntaxErrors(): { message: string; at: SourceLocation }[] {
    return this.doc.errors.map((e) => ({
      message: e.message.split('\n')[0]!,
      at: this.position(e.pos[0]),
    }));
  }

  value(): unknown {
    return this.doc.toJS();
  }

  /** The position of the deepest node of `path` that exists (a missing key points at its parent). */
  locate(path: readonly PropertyKey[]): SourceLocation {
    let node: unknown = this.doc.contents;
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (const key of path) {
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
        if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
        next = pair?.value;
        if (pair && !next) break;
      } else if (isSeq(node) && typeof key === 'number') {
        next = node.items[key];
      }
      if (!next) break;
      node = next;
      const range = (next as Node).range;
      if (range && !isMap(node)) offset = range[0];
      else if (range && isMap(node) && typeof key === 'number') offset = range[0];
    }
    return this.position(offset);
  }

  private position(offset: number): SourceLocation {
    const p = this.lines.linePos(offset);
    return { file: this.file, line: p.line, column: p.col };
  }
}

/** A policy template with the file and path it was written at, for positions of its statements. */
export interface LocatedPolicy {
  template: PolicyTemplate;
  source: SourceFile;
  /** Path of the policy document inside `source` ([] for a policy file of its own). */
  path: (string | number)[];
  /** True when the spec did not name one and the product's default applies. */
  isDefault: boolean;
}

export interface LoadedSpec {
  spec: PerimeterSpec;
  source: SourceFile;
  endpointPolicy: LocatedPolicy;
  identityPolicy: LocatedPolicy;
  bystanderIdentityPolicy: LocatedPolicy;
  roles: Record<string, LocatedPolicy>;
  /** The rows that run (the spec's, or the default obligations), with where each is written. */
  matrix: { row: MatrixRow; index: number; at: SourceLocation; isDefault: boolean }[];
}

export interface SpecProblem {
  rule: string;
  message: string;
  at: SourceLocation;
}

export class SpecLoadError extends Error {
  readonly problems: SpecProblem[];
  constructor(problems: SpecProblem[]) {
    super(problems.map((p) => `${p.at.file}:${p.at.line}:${p.at.column}: ${p.message}`).join('\n'));
    this.name = 'SpecLoadError';
    this.problems = problems;
  }
}

/** One line per zod issue: `path: message`, anchored to where the path is written. */
function schemaProblems(source: SourceFile, error: z.ZodError): SpecProblem[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(top level)';
    const message =
      issue.code === 'unrecognized_keys'
        ? `${where}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')} (see the JSON Schema)`
        : `${where}: ${issue.message}`;
    return { rule: 'spec-schema', message, at: source.locate(issue.path) };
  });
}

/**
 * Read a spec file. `repoRoot` bounds the policy files it may name: a spec from a pull request is
 * data, and may not pull files from elsewhere on the runner into a policy.
 */
export function loadSpec(file: string, opts: { repoRoot?: string; displayName?: string } = {}): LoadedSpec {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecLoadError([
      {
        rule: 'spec-file',
        message: code === 'ENOENT' ? 'spec file not found' : `cannot read the spec file (${code})`,
        at: { file: opts.displayName ?? file, line: 1, column: 1 },
      },
    ]);
  }
  const root = resolve(opts.repoRoot ?? dirname(abs));
  return parseSpecText(text, {
    display: opts.displayName ?? relativeOr(root, abs),
    readPolicyFile: (name) => readPolicyFile(name, dirname(abs), root),
  });
}

function relativeOr(root: string, abs: string): string {
  const r = relative(root, abs);
  return r && !r.startsWith('..') ? r : abs;
}

function readPolicyFile(name: string, specDir: string, root: string): { display: string; text: string } {
  if (isAbsolute(name)) throw new Error('must be a path relative to the spec file, inside the repository');
  const abs = resolve(specDir, name);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    throw new Error(`file "${name}" not found (relative to the spec file)`);
  }
  const inside = relative(realpathSync(root), real);
  if (inside.startsWith('..') || isAbsolute(inside))
    throw new Error(`file "${name}" is outside the repository: name a file inside it`);
  return { display: relative(root, abs), text: readFileSync(real, 'utf8') };
}

/** Parse spec text; `readPolicyFile` resolves `file:` policy sources (tests pass their own). */
export function parseSpecText(
  text: string,
  io: { display: string; readPolicyFile: (name: string) => { display: string; text: string } },
): LoadedSpec {
  const source = new SourceFile(io.display, text);
  const syntax = source.syntaxErrors();
  if (syntax.length)
    throw new SpecLoadError(syntax.map((s) => ({ rule: 'spec-syntax', message: s.message, at: s.at })));
  const parsed = PerimeterSpecSchema.safeParse(source.value());
  if (!parsed.success) throw new SpecLoadError(schemaProblems(source, parsed.error));
  const spec = parsed.data;
  const problems: SpecProblem[] = [];

  const policy = (
    src: PolicySource | undefined,
    path: (string | number)[],
    fallback: PolicyTemplate,
  ): LocatedPolicy => {
    if (!src) return { template: fallback, source, path: [], isDefault: true };
    if ('inline' in src) return { template: src.inline, source, path: [...path, 'inline'], isDefault: false };
    try {
      const f = io.readPolicyFile(src.file);
      const file = new SourceFile(f.display, f.text);
      const errors = file.syntaxErrors();
      if (errors.length) {
        problems.push(...errors.map((e) => ({ rule: 'policy-syntax', message: e.message, at: e.at })));
        return { template: {}, source: file, path: [], isDefault: false };
      }
      const value = file.value();
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        problems.push({
          rule: 'policy-syntax',
          message: 'a policy file must hold one JSON object',
          at: file.locate([]),
        });
        return { template: {}, source: file, path: [], isDefault: false };
      }
      return { template: value as PolicyTemplate, source: file, path: [], isDefault: false };
    } catch (err) {
      problems.push({
        rule: 'policy-file',
        message: `${path.join('.')}.file: ${(err as Error).message}`,
        at: source.locate([...path, 'file']),
      });
      return { template: {}, source, path, isDefault: false };
    }
  };

  const loaded: LoadedSpec = {
    spec,
    source,
    endpointPolicy: policy(spec.policies.endpoint, ['policies', 'endpoint'], DEFAULT_ENDPOINT_POLICY),
    identityPolicy: policy(spec.policies.identity, ['policies', 'identity'], DEFAULT_IDENTITY_POLICY),
    bystanderIdentityPolicy: policy(
      spec.policies.bystanderIdentity,
      ['policies', 'bystanderIdentity'],
      DEFAULT_BYSTANDER_IDENTITY_POLICY,
    ),
    roles: Object.fromEntries(
      spec.roles.map((r, i) => [
        r.name,
        policy(r.identityPolicy, ['roles', i, 'identityPolicy'], DEFAULT_IDENTITY_POLICY),
      ]),
    ),
    matrix: (spec.matrix ?? DEFAULT_MATRIX).map((row, index) => ({
      row,
      index,
      at: spec.matrix ? source.locate(['matrix', index]) : source.locate([]),
      isDefault: !spec.matrix,
    })),
  };
  if (problems.length) throw new SpecLoadError(problems);
  return loaded;
}
