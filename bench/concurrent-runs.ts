/**
 * Several verifications at once in one emulator, and the simulated timeline of each: shared by
 * the concurrency benchmark and the determinism test.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { DescribeExecutionCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { fullHistory } from '../cli/local.ts';
import type { Emulator } from '../emulator/emulator.ts';
import { type Report, runOutcomeOf } from '../statemachine/contract.ts';
import { startOrAttach } from '../workflows-src/action/execution.ts';

export interface StateEntry {
  name: string;
  /** Simulated ms after the execution started. */
  at: number;
}

export interface RunTimeline {
  runId: string;
  status: string;
  outcome: string;
  /** Simulated epoch ms. */
  start: number;
  end: number;
  /** When CreateNetwork left (the run holds a VPC from here to the end), simulated epoch ms. */
  vpcAt: number;
  entries: StateEntry[];
  quotaWaitSeconds: number;
  /** For a run without a report: the execution's error and the last failure events of its history. */
  why?: string;
}

const MODEL = 'anthropic.claude-3-haiku-20240307-v1:0';

/** Start every run at once, wait for all of them, and read each one's history. */
export async function runConcurrently(
  emu: Emulator,
  stateMachineArn: string,
  runIds: string[],
  region = 'us-east-1',
  /** More execution input for every run (e.g. `{ pool }`). */
  extraInput: Record<string, unknown> = {},
): Promise<RunTimeline[]> {
  const sfn = new SFNClient({ ...emu.clientConfig(region), maxAttempts: 8 });
  return Promise.all(
    runIds.map(async (runId) => {
      const input = { runId, region, modelId: MODEL, ...extraInput };
      const { executionArn } = await startOrAttach(sfn, { stateMachineArn, name: runId, input });
      let d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      while (d.status === 'RUNNING') {
        await new Promise((r) => setTimeout(r, 50));
        d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      }
      const events = await fullHistory(sfn, executionArn);
      const t = (e: HistoryEvent | undefined) =>
        e?.timestamp ? new Date(e.timestamp).getTime() : Number.NaN;
      const start = t(events[0]);
      const report = d.output ? (JSON.parse(d.output) as Report) : undefined;
      const reportOk = report && typeof report === 'object' && 'checks' in report;
      return {
        runId,
        status: d.status ?? '?',
        outcome: reportOk ? runOutcomeOf(report) : `no report (${d.status})`,
        start,
        end: t(events.at(-1)),
        vpcAt: t(
          events.find(
            (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'CreateNetwork',
          ),
        ),
        entries: events
          .filter((e) => e.type?.endsWith('StateEntered'))
          .map((e) => ({ name: e.stateEnteredEventDetails?.name ?? '?', at: t(e) - start })),
        quotaWaitSeconds: reportOk ? (report.quotaWaitSeconds ?? 0) : 0,
        ...(reportOk
          ? {}
          : {
              why: [
                `${d.error ?? '?'}: ${String(d.cause ?? '').slice(0, 300)}`,
                ...events
                  .filter((e) => /Failed|TimedOut/.test(e.type ?? ''))
                  .slice(-3)
                  .map((e) => `${e.type} ${JSON.stringify(e).slice(0, 300)}`),
              ].join(' | '),
            }),
      };
    }),
  );
}

/** How far two timelines of the same run are apart: same states in the same order, largest entry-time gap. */
export function compareTimelines(
  a: StateEntry[],
  b: StateEntry[],
): { sameStates: boolean; maxGapMs: number } {
  const sameStates = a.length === b.length && a.every((e, i) => e.name === b[i]?.name);
  let maxGapMs = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    maxGapMs = Math.max(maxGapMs, Math.abs(a[i]!.at - b[i]!.at));
  return { sameStates, maxGapMs };
}

/** A process that keeps one core busy until stopped. */
export function cpuHog(): { stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  return { stop: () => void child.kill('SIGKILL') };
}

/**
 * This process's peak resident set from now on. On Linux the kernel keeps it exactly (VmHWM),
 * reset here by writing 5 to /proc/self/clear_refs; elsewhere, 100 ms samples of the RSS.
 */
/** A process's peak resident set so far in kB (Linux VmHWM; 0 where /proc does not tell). */
export function vmHwmKb(pid: number | 'self' = 'self'): number {
  try {
    return Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) || 0;
  } catch {
    return 0;
  }
}

export function rssSampler(): { peakMb: () => number; stop: () => void } {
  const hwm = () => vmHwmKb() * 1024;
  let exact = false;
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    exact = hwm() > 0;
  } catch {
    // not Linux, or not allowed: sample
  }
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  t.unref();
  return {
    peakMb: () => (exact ? hwm() : Math.max(peak, process.memoryUsage().rss)) / 1048576,
    stop: () => clearInterval(t),
  };
}

/** This process's resident set now, in MiB. */
export const rssNowMb = () => process.memoryUsage().rss / 1048576;
