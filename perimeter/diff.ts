/**
 * What a pull request changes in the perimeter: models, policy statements, extra roles, matrix
 * rows and options, compared by meaning (statements by Sid, rows by name) rather than by text.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { PerimeterInput } from '../statemachine/perimeter-spec.ts';
import { type LoadedSpec, loadSpec } from './load.ts';
import { statementsOf } from './policy-checks.ts';
import { perimeterInput } from './resolve.ts';

export interface SpecChange {
  kind: 'added' | 'removed' | 'changed';
  /** What changed, in the spec's words: `model us.…`, `endpoint policy statement "Sid"`, `row "name"`. */
  subject: string;
}

type Doc = Record<string, unknown>;

/** Pair items by a key (Sid, row name, role name) and fall back to their position. */
function keyed<T>(items: readonly T[], key: (t: T, i: number) => string): Map<string, T> {
  return new Map(items.map((t, i) => [key(t, i), t]));
}

function compare<T>(
  subject: (k: string) => string,
  base: Map<string, T>,
  head: Map<string, T>,
): SpecChange[] {
  const out: SpecChange[] = [];
  for (const [k, v] of head) {
    if (!base.has(k)) out.push({ kind: 'added', subject: subject(k) });
    else if (!isDeepStrictEqual(base.get(k), v)) out.push({ kind: 'changed', subject: subject(k) });
  }
  for (const k of base.keys()) if (!head.has(k)) out.push({ kind: 'removed', subject: subject(k) });
  return out;
}

function statements(label: string, base: Doc | undefined, head: Doc): SpecChange[] {
  const byKey = (d: Doc) =>
    keyed(statementsOf(d), (st, i) => (typeof st.Sid === 'string' ? `"${st.Sid}"` : `${i + 1}`));
  const changes = compare((k) => `${label} statement ${k}`, base ? byKey(base) : new Map(), byKey(head));
  if (base && base.Version !== head.Version) changes.push({ kind: 'changed', subject: `${label} Version` });
  return changes;
}

/** Changes from the base branch's perimeter to the pull request's; `base` absent: everything is added. */
export function diffPerimeters(base: PerimeterInput | undefined, head: PerimeterInput): SpecChange[] {
  const models = compare(
    (k) => `model ${k}`,
    keyed(base?.models ?? [], (m) => m),
    keyed(head.models, (m) => m),
  );
  const rowKey = (r: PerimeterInput['matrix'][number], i: number) => (r.name ? `"${r.name}"` : `${i + 1}`);
  return [
    ...models,
    ...statements('endpoint policy', base?.endpointPolicy, head.endpointPolicy),
    ...statements('workload identity policy', base?.identityPolicy, head.identityPolicy),
    ...statements('bystander identity policy', base?.bystanderIdentityPolicy, head.bystanderIdentityPolicy),
    ...compare(
      (k) => `role ${k}`,
      keyed(base?.roles ?? [], (r) => r.name),
      keyed(head.roles, (r) => r.name),
    ),
    ...compare((k) => `row ${k}`, keyed(base?.matrix ?? [], rowKey), keyed(head.matrix, rowKey)),
    ...compare(
      (k) => `option ${k}`,
      new Map(Object.entries(base?.options ?? {})),
      new Map(Object.entries(head.options)),
    ),
  ];
}

export function renderChanges(changes: readonly SpecChange[]): string {
  if (!changes.length) return 'No change to the perimeter against the base.';
  return ['Changes against the base:', ...changes.map((c) => `  ${c.kind} ${c.subject}`)].join('\n');
}

/** What the spec changes against the base branch's; a missing or broken base makes all of it new. */
export function changesAgainstBase(baseFile: string, loaded: LoadedSpec): SpecChange[] {
  let base: ReturnType<typeof perimeterInput> | undefined;
  if (existsSync(baseFile)) {
    try {
      base = perimeterInput(
        loadSpec(baseFile, { repoRoot: dirname(resolve(baseFile)), displayName: 'base' }),
      );
    } catch {
      base = undefined;
    }
  }
  return diffPerimeters(base, perimeterInput(loaded));
}
