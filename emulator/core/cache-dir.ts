/**
 * Directories the emulator keeps between processes (the Lambda code store, accepted state machine
 * definitions), under the machine's temporary directory. What is read back from them is run or
 * trusted (function code, a definition's validation), and the temporary directory is shared by
 * every user of the machine: a name another user could create first would let them plant code.
 * So each directory is this user's own (the uid in its name), made with mode 0700, and used only
 * if it is a real directory owned by this user that nobody else may write; otherwise this process
 * gets a fresh private directory of its own (nothing is shared, nothing is planted).
 */
import { lstatSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Map<string, string>();

export function privateCacheDir(name: string): string {
  const known = made.get(name);
  if (known) return known;
  const uid = process.getuid?.();
  const dir = join(tmpdir(), uid === undefined ? name : `${name}-${uid}`);
  let usable = false;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {
    // exists already (or cannot be made): checked below
  }
  try {
    const s = lstatSync(dir);
    usable = s.isDirectory() && (uid === undefined || (s.uid === uid && (s.mode & 0o022) === 0));
  } catch {
    usable = false;
  }
  const chosen = usable ? dir : mkdtempSync(join(tmpdir(), `${name}-private-`));
  made.set(name, chosen);
  return chosen;
}
