/**
 * Writes the JSON Schemas generated from the contract's zod schemas (`npm run schemas`), so editors
 * complete a perimeter spec; `--check` fails when a committed schema is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { PerimeterSpecSchema } from './perimeter-spec.ts';

const SCHEMAS: { file: string; title: string; schema: z.ZodType }[] = [
  {
    file: 'perimeter-spec.schema.json',
    title: 'privatelink-verify perimeter spec',
    schema: PerimeterSpecSchema,
  },
];

export function generatedSchema(entry: (typeof SCHEMAS)[number]): string {
  // What a user writes is the schema's input: fields with defaults may be left out.
  const json = z.toJSONSchema(entry.schema, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  const doc = {
    $comment: 'Generated from statemachine/perimeter-spec.ts by `npm run schemas`: do not edit.',
    title: entry.title,
    ...json,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function schemaPath(file: string): string {
  return fileURLToPath(new URL(`../schemas/${file}`, import.meta.url));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const entry of SCHEMAS) {
    const path = schemaPath(entry.file);
    const want = generatedSchema(entry);
    if (!check) writeFileSync(path, want);
    else if (
      (() => {
        try {
          return readFileSync(path, 'utf8');
        } catch {
          return '';
        }
      })() !== want
    ) {
      process.stderr.write(`schemas/${entry.file} is not current: run npm run schemas\n`);
      stale++;
    }
  }
  process.exit(stale ? 1 : 0);
}
