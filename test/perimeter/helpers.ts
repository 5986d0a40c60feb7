import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A throw-away repository holding the given files; returns its root. */
export function repoWith(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'plv-spec-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

export const HAIKU = 'anthropic.claude-3-haiku-20240307-v1:0';
export const SONNET = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
export const TITAN = 'amazon.titan-text-express-v1';
export const ALLOWED = [HAIKU, SONNET, TITAN, `us.${SONNET}`];

export const MINIMAL = `version: 1\nmodels: [${HAIKU}]\n`;
