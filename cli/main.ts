/** The `privatelink-verify` command: parses the command line and maps outcomes to exit statuses. */
import { credentialMessage, EXIT, isCredentialError, UsageError } from './exit-codes.ts';
import { LOCAL_HELP, parseLocalArgs, runLocal } from './local.ts';
import { renderLocalResult } from './render.ts';

export const HELP = `privatelink-verify: prove that AWS reaches Amazon Bedrock only through a PrivateLink
interface endpoint whose policy really decides who may call which model.

Usage: privatelink-verify <command> [options]

Commands:
  local      run a full verification against the embedded local AWS emulator
  run        start the deployed state machine (or --local) and report, as the GitHub Action does
  sweep      delete expired resources left by earlier runs
  pool       create, list or destroy a network lease pool (runs lease with --pool)
  emulator   start the local AWS emulator (add --deploy to deploy the product into it)
  check      check a perimeter spec statically (schema, policies, matrix), creating nothing

Run "privatelink-verify <command> --help" for a command's options.

Exit status: 0 verified and nothing left behind; 1 a check failed or resources were left behind;
2 bad input (nothing created); 3 could not verify; 4 AWS credentials missing or refused.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  local: async () => localCommand,
  run: async () => (await import('./run.ts')).runCommand,
  sweep: async () => (await import('./sweep.ts')).sweepCommand,
  pool: async () => (await import('./pool.ts')).poolCommand,
  emulator: async () => (await import('./emulator-command.ts')).emulatorCommand,
  check: async () => (await import('./check.ts')).checkCommand,
};

export async function localCommand(argv: string[]): Promise<number> {
  const opts = parseLocalArgs(argv);
  if (opts === 'help') {
    process.stdout.write(`${LOCAL_HELP}\n`);
    return EXIT.ok;
  }
  const progress = opts.quiet || opts.json ? () => {} : (line: string) => process.stderr.write(`${line}\n`);
  if (opts.spec) return specCommand({ ...opts, spec: opts.spec }, progress);
  const result = await runLocal(opts, progress, {
    onFinished: (emu) =>
      progress(
        `IAM authorized ${emu.authorizer.authorizedActions} actions (${emu.authorizer.refusedActions} refused)`,
      ),
  });
  if (result.exitCode === EXIT.badInput) {
    process.stderr.write(
      `privatelink-verify local: ${result.report.failure?.cause ?? result.report.summary}\n`,
    );
    return result.exitCode;
  }
  process.stdout.write(opts.json ? `${JSON.stringify(result.report, null, 2)}\n` : renderLocalResult(result));
  return result.exitCode;
}

/** `local --spec`: the static checks' findings, then the reports (one per region), then the files asked for. */
async function specCommand(
  opts: Parameters<typeof runLocal>[0] & { spec: NonNullable<Parameters<typeof runLocal>[0]['spec']> },
  progress: (line: string) => void,
): Promise<number> {
  const { runSpecLocally, writeSpecOutputs } = await import('./local-spec.ts');
  const { renderFindings } = await import('./check.ts');
  const r = await runSpecLocally(opts, progress);
  if (r.static.findings.length || r.exitCode === EXIT.badInput)
    (r.exitCode === EXIT.badInput ? process.stderr : process.stdout).write(renderFindings(r.static));
  writeSpecOutputs(opts.spec, r);
  if (!r.results.length) return r.exitCode;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r.reports.length === 1 ? r.reports[0] : r.reports, null, 2)}\n`);
    return r.exitCode;
  }
  const { renderRegionReportsText } = await import('../workflows-src/report/render.ts');
  // One region: the local report as ever (its matrix included); several: one document, then each run's figures.
  process.stdout.write(
    r.results.length === 1 && !r.changes
      ? renderLocalResult(r.results[0]!)
      : `${renderRegionReportsText(r.reports, r.changes ? { changes: r.changes } : {})}\n${r.results.map((x) => renderLocalResult(x)).join('\n')}`,
  );
  return r.exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return name ? EXIT.ok : EXIT.badInput;
  }
  if (name === '--version') {
    process.stdout.write('0.1.0\n');
    return EXIT.ok;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(
      `privatelink-verify: unknown command "${name}": use one of ${Object.keys(COMMANDS).join(', ')} (see --help)\n`,
    );
    return EXIT.badInput;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`privatelink-verify ${name}: ${err.message}\n`);
      return EXIT.badInput;
    }
    if (isCredentialError(err)) {
      process.stderr.write(`privatelink-verify ${name}: ${credentialMessage(err)}\n`);
      return EXIT.credentials;
    }
    process.stderr.write(`privatelink-verify ${name}: ${(err as Error)?.message ?? err}\n`);
    if (process.env.PLV_DEBUG) process.stderr.write(`${(err as Error)?.stack}\n`);
    return EXIT.infrastructure;
  }
}
