/**
 * The boto3 conformance suite: every `check_*.py` beside this file runs under Debian's
 * python3-boto3 (installed by .ci/run) against the standalone emulator, once per latency profile.
 * A check that cannot run (no boto3) fails here rather than being skipped: CI must prove it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_ADMIN_CREDENTIALS } from '../../emulator/core/identity.ts';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
/** Debian's interpreter, so the boto3 is Debian's package and not whatever else is on PATH. */
const PYTHON = process.env.PLV_CONFORMANCE_PYTHON ?? '/usr/bin/python3';
const CHECKS = readdirSync(DIR)
  .filter((f) => /^check_.*\.py$/.test(f))
  .sort();

/**
 * boto3 cannot hold the emulator's clock between two calls as an in-process test can
 * (withClockHeld), so on the instant profile its real-time cap is 10× the profile's: an endpoint's
 * `deleting` (15–25 simulated s) then lasts 150–250 ms of real time instead of 15–25 ms, which
 * a loaded CI machine's Python once spent between DescribeVpcEndpoints and the next call.
 * The states and their simulated lengths are the profile's; only the wall clock is slower.
 */
const TIME_SCALE: Record<string, string[]> = { instant: ['--time-scale', '0.01'], realistic: [] };

function startEmulator(profile: string): Promise<{ child: ChildProcess; url: string }> {
  const args = [BIN, 'emulator', '--port', '0', '--profile', profile, ...(TIME_SCALE[profile] ?? [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /emulator listening: (\S+)/.exec(out)?.[1];
      if (url) resolve({ child, url });
    });
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}: ${out}`)));
  });
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

for (const profile of ['instant', 'realistic']) {
  describe(`boto3 conformance on the ${profile} profile`, () => {
    let emu: { child: ChildProcess; url: string };
    beforeAll(async () => {
      emu = await startEmulator(profile);
    });
    afterAll(async () => {
      if (emu) await stopped(emu.child);
    });

    it.each(CHECKS)('%s passes under boto3', (file) => {
      const run = spawnSync(PYTHON, ['-m', 'unittest', '-v', file.replace(/\.py$/, '')], {
        cwd: DIR,
        encoding: 'utf8',
        timeout: 240_000,
        env: {
          ...process.env,
          PLV_ENDPOINT: emu.url,
          PLV_PROFILE: profile,
          PLV_ADMIN_ACCESS_KEY_ID: EMULATOR_ADMIN_CREDENTIALS.accessKeyId,
          PLV_ADMIN_SECRET_ACCESS_KEY: EMULATOR_ADMIN_CREDENTIALS.secretAccessKey,
          AWS_REGION: 'us-east-1',
          // Keep boto3 away from any shared config or credentials on the machine.
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          PYTHONDONTWRITEBYTECODE: '1',
        },
      });
      const ran = /Ran (\d+) tests?/.exec(run.stderr ?? '')?.[1];
      // The count shows up in the vitest output, so the note can quote it.
      console.log(`${profile} ${file}: ran ${ran ?? '?'} check(s), exit ${run.status}`);
      expect(run.error, String(run.error)).toBeUndefined();
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(Number(ran)).toBeGreaterThan(0);
    });
  });
}
