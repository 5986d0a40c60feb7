/**
 * `npm start` as a user runs it (package.json's start command, realistic profile), measured from
 * outside: wall seconds from spawn to exit; peak RSS of its largest process (the emulator process
 * the wrapper re-executes; its VmHWM, the kernel's high-water mark, which is what `/usr/bin/time -v`
 * reports as maximum resident set size: a 50 ms sample of VmRSS missed spikes by ~45 MB) and peak
 * PSS of the whole process tree (wrapper, emulator, any esbuild service: PSS counts the pages the
 * processes share, such as the node binary, once), sampled from /proc every 250 ms (reading
 * smaps_rollup more often slowed the run it measures by ~1 s); and the processes of the tree still
 * alive after it exited (none is the aim). Aim: under 5 s wall and under 300 MB.
 * `node bench/npm-start.ts [runs]` (default 2). Figures only; no pass/fail.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { REPO_ROOT } from '../tasks/build.ts';
import { vmHwmKb } from './concurrent-runs.ts';

interface ProcInfo {
  ppid: number;
  name: string;
}

/** Every process on the machine: its parent, resident set and name (Linux /proc). */
function processTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The name is in parentheses and may contain spaces: fields after the last ')'.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      table.set(pid, {
        name: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
      });
    } catch {
      // gone between readdir and read
    }
  }
  return table;
}

function pssKb(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function descendants(root: number, table: Map<number, ProcInfo>): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++)
    for (const [pid, p] of table) if (p.ppid === out[i] && !out.includes(pid)) out.push(pid);
  return out.filter((pid) => table.has(pid));
}

export interface NpmStartFigures {
  wallSeconds: number;
  exitCode: number | null;
  /** Peak of the summed proportional set sizes of the tree. */
  peakTreePssMb: number;
  /** Peak RSS of the largest process of the tree. */
  peakLargestMb: number;
  /** Processes of the tree alive 300 ms after the wrapper exited: `pid name`. */
  leftBehind: string[];
}

/** The arguments `npm start` gives cli/bin.mjs (package.json's `start` script). */
export function npmStartArgs(): string[] {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.split(/\s+/);
  const at = words.indexOf('cli/bin.mjs');
  if (words[0] !== 'node' || at < 0)
    throw new Error(`npm start is not "node cli/bin.mjs …": ${pkg.scripts.start}`);
  return words.slice(at + 1);
}

export async function measureNpmStart(args: string[] = npmStartArgs()): Promise<NpmStartFigures> {
  const env = { ...process.env };
  delete env.MALLOC_ARENA_MAX; // as a user's shell has it: the wrapper re-executes with its own settings
  const started = performance.now();
  const child = spawn(process.execPath, [`${REPO_ROOT}cli/bin.mjs`, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Progress goes to stderr: keep it, and show it only if the run failed.
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const seen = new Map<number, string>();
  let peakTreePss = 0;
  let peakLargest = 0;
  const sample = () => {
    const table = processTable();
    const tree = descendants(child.pid!, table);
    let pss = 0;
    for (const pid of tree) {
      const p = table.get(pid)!;
      seen.set(pid, p.name);
      pss += pssKb(pid);
      peakLargest = Math.max(peakLargest, vmHwmKb(pid));
    }
    peakTreePss = Math.max(peakTreePss, pss);
  };
  const timer = setInterval(sample, 250);
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const wallSeconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  if (exitCode !== 0) process.stderr.write(stderr);
  await new Promise((r) => setTimeout(r, 300));
  const table = processTable();
  const leftBehind = [...seen]
    .filter(([pid, name]) => pid !== child.pid && table.get(pid)?.name === name)
    .map(([pid, name]) => `${pid} ${name}`);
  return {
    wallSeconds,
    exitCode,
    peakTreePssMb: peakTreePss / 1024,
    peakLargestMb: peakLargest / 1024,
    leftBehind,
  };
}

export async function main(runs = 2): Promise<void> {
  if (!existsSync('/proc/self/stat')) {
    console.log('npm start: not measured here (needs Linux /proc)');
    return;
  }
  for (let i = 1; i <= runs; i++) {
    const f = await measureNpmStart();
    console.log(
      `npm start run ${i}: exit ${f.exitCode}, wall ${f.wallSeconds.toFixed(1)} s, peak RSS ${f.peakLargestMb.toFixed(0)} MB (emulator process; whole tree ${f.peakTreePssMb.toFixed(0)} MB PSS), left behind: ${f.leftBehind.length ? f.leftBehind.join(', ') : 'nothing'}`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main(Number(process.argv[2] ?? 2) || 2);
}
