/** `privatelink-verify check`: the static checks of a perimeter spec, in seconds, with nothing created. */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AccessAnalyzerClient } from '@aws-sdk/client-accessanalyzer';
import { accessAnalyzerFindings } from '../perimeter/access-analyzer.ts';
import {
  blockingErrors,
  predictedFailures,
  runStaticChecks,
  type StaticCheckResult,
} from '../perimeter/check.ts';
import { changesAgainstBase, renderChanges } from '../perimeter/diff.ts';
import { junitXml } from '../perimeter/junit.ts';
import { STATIC_RULES } from '../perimeter/rules.ts';
import { sarifLog } from '../perimeter/sarif.ts';
import { DEFAULT_SPEC_FILE } from '../statemachine/perimeter-spec.ts';
import { parseModelList, stackAllowedModels } from './allowed-models.ts';
import { credentialMessage, EXIT, isCredentialError, UsageError } from './exit-codes.ts';

export const CHECK_HELP = `Usage: privatelink-verify check [--spec FILE] [--base FILE] [--allowed-models A,B] [--sarif FILE] [--access-analyzer] [--json]

Check a perimeter spec statically, before anything is created: its schema (with line and column),
the endpoint and identity policies (grammar, placeholders, size, the endpoint-policy rules of the
PrivateLink guide), the probe boundary (models and actions), and every matrix row the policies as
written would fail ("this row will fail, because …"). Nothing in AWS is called unless
--access-analyzer is given.

Options:
  --spec <file>            the spec (default ${DEFAULT_SPEC_FILE}; YAML or JSON)
  --allowed-models <list>  models the deployed stack's probe boundary allows (default: the
                           privatelink-verify:allowedModels context of ./cdk.json, else the stack default)
  --base <file>            the spec of the base branch: also say what the pull request changes
                           (models, policy statements, roles, rows, options); a missing file is
                           a new spec
  --sarif <file>           also write the findings as SARIF 2.1.0 (for GitHub code scanning)
  --junit <file>           also write JUnit XML: one testcase per matrix cell (predicted), skipped
                           rows as skipped, spec errors as one failing case
  --access-analyzer        also run IAM Access Analyzer ValidatePolicy (AWS credentials from the
                           default chain, region AWS_REGION or the spec's first region) on the
                           rendered endpoint policy, as a generic RESOURCE_POLICY (Access Analyzer
                           has no VPC endpoint policy type), and on every identity policy the run
                           deploys (IDENTITY_POLICY); each finding is reported at the line that
                           declares it. ERROR findings stop the run (exit 2), the others warn. Needs
                           access-analyzer:ValidatePolicy; runs only when the spec has no errors
  --json                   print the result as JSON
  -h, --help               show this help

Exit status: 0 no errors (warnings may be printed); 1 the policies as written would fail a matrix
row (a prediction: a live run is the proof); 2 the spec has errors and cannot run; 4 (with
--access-analyzer) AWS credentials missing or refused, or ValidatePolicy not allowed to them; 3
(with --access-analyzer) ValidatePolicy could not be called (network, throttling, AWS errors).

Rules: ${Object.keys(STATIC_RULES).join(', ')}`;

export function renderFindings(r: StaticCheckResult): string {
  const lines = r.findings.map(
    (f) => `${f.at.file}:${f.at.line}:${f.at.column}: ${f.level} [${f.rule}] ${f.message}`,
  );
  const errors = r.findings.filter((f) => f.level === 'error').length;
  const warnings = r.findings.length - errors;
  const cells = r.cells.length ? `, ${r.cells.length} matrix cell(s) predicted` : '';
  lines.push(
    `${r.specFile}: ${errors} error(s), ${warnings} warning(s)${cells}, checked in ${Math.round(r.durationMs)} ms`,
  );
  return `${lines.join('\n')}\n`;
}

/** The static result as JUnit: predicted cells, skipped rows, and the spec's blocking errors. */
export function staticJunit(r: StaticCheckResult): string {
  return junitXml({
    suite: `privatelink-verify static checks (${r.specFile})`,
    timeSeconds: r.durationMs / 1000,
    cells: r.cells.map((c) => ({
      row: c.row,
      index: c.index,
      region: c.region,
      model: c.model,
      got: c.prediction.outcome,
      because: c.prediction.because,
    })),
    skipped: (r.loaded?.spec.matrix ?? []).flatMap((row, index) => (row.skip ? [{ row, index }] : [])),
    errors: blockingErrors(r).map(
      (f) => `${f.at.file}:${f.at.line}:${f.at.column}: [${f.rule}] ${f.message}`,
    ),
  });
}

/**
 * ValidatePolicy's findings join the static ones (ERROR ones block). Returns the one line to print
 * when AWS cannot be asked: no credentials, credentials refused, or ValidatePolicy denied to them.
 */
async function addAccessAnalyzerFindings(result: StaticCheckResult): Promise<string | undefined> {
  const loaded = result.loaded!;
  const started = performance.now();
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? loaded.spec.regions[0]!;
  const client = new AccessAnalyzerClient({ region });
  try {
    result.findings.push(...(await accessAnalyzerFindings(loaded, client)));
  } catch (err) {
    if (isCredentialError(err)) return credentialMessage(err);
    if ((err as Error).name === 'AccessDeniedException')
      return `AWS refused ValidatePolicy (${String((err as Error).message).split('\n')[0]}): allow access-analyzer:ValidatePolicy on * to these credentials`;
    // Could not verify (network, throttling or 5xx past the SDK's retries): exit 3, one line.
    throw new Error(
      `--access-analyzer: ValidatePolicy failed (${(err as Error).name}: ${String((err as Error).message).split('\n')[0]})`,
    );
  } finally {
    client.destroy();
    result.durationMs += performance.now() - started;
  }
  return undefined;
}

export async function checkCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        spec: { type: 'string', default: DEFAULT_SPEC_FILE },
        'allowed-models': { type: 'string' },
        sarif: { type: 'string' },
        junit: { type: 'string' },
        base: { type: 'string' },
        json: { type: 'boolean', default: false },
        'access-analyzer': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return EXIT.ok;
  }
  const listed = typeof values['allowed-models'] === 'string' ? values['allowed-models'] : undefined;
  const allowedModels =
    listed !== undefined ? parseModelList(listed, '--allowed-models') : stackAllowedModels();
  const result = await runStaticChecks(String(values.spec), { allowedModels, repoRoot: resolve('.') });
  if (values['access-analyzer'] && result.loaded && !blockingErrors(result).length) {
    const refused = await addAccessAnalyzerFindings(result);
    if (refused) {
      process.stderr.write(`privatelink-verify check: --access-analyzer: ${refused}\n`);
      return EXIT.credentials;
    }
  }
  if (typeof values.sarif === 'string') writeFileSync(values.sarif, sarifLog(result.findings, '0.1.0'));
  if (typeof values.junit === 'string') writeFileSync(values.junit, staticJunit(result));
  const changes =
    typeof values.base === 'string' && result.loaded
      ? changesAgainstBase(values.base, result.loaded)
      : undefined;
  process.stdout.write(
    values.json
      ? `${JSON.stringify({ specFile: result.specFile, findings: result.findings, changes, cells: result.cells.map((c) => ({ row: c.row.name ?? c.index + 1, region: c.region, model: c.model, expect: c.row.expect, predicted: c.prediction.outcome, because: c.prediction.because })), durationMs: result.durationMs }, null, 2)}\n`
      : `${renderFindings(result)}${changes ? `${renderChanges(changes)}\n` : ''}`,
  );
  if (blockingErrors(result).length) return EXIT.badInput;
  return predictedFailures(result).length ? EXIT.verificationFailed : EXIT.ok;
}
