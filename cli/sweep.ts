/** `privatelink-verify sweep`: delete expired resources of earlier runs, in an AWS account or an emulator. */
import { parseArgs } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { inputFieldProblem } from '../statemachine/contract.ts';
import { handler as sweep } from '../tasks/sweep.ts';
import { EXIT, UsageError } from './exit-codes.ts';

export const SWEEP_HELP = `Usage: privatelink-verify sweep --region <region> [--state-machine-arn ARN] [--json]

Delete resources tagged by privatelink-verify whose expiry tag has passed (what a crashed,
stopped or timed-out run left behind). Pooled networks are never deleted; a run's pool lease is
freed with its other resources. With --state-machine-arn the sweeper also asks Step Functions
about each run: a run still RUNNING is left alone even past its expiry, and the lease of a run
whose execution has ended is freed now rather than at its expiry. Uses the default AWS
credential chain; set AWS_ENDPOINT_URL to sweep an emulator.

Exit status: 0 nothing left, 1 some resources could not be deleted yet or a list call was refused
(the rest is still swept), 2 bad input, 4 missing or refused AWS credentials.`;

export async function sweepCommand(argv: string[]): Promise<number> {
  let values: { region?: string; 'state-machine-arn'?: string; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        region: { type: 'string' },
        'state-machine-arn': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(`${SWEEP_HELP}\n`);
    return EXIT.ok;
  }
  const region = values.region ?? process.env.AWS_REGION;
  if (!region) throw new UsageError('--region is required (or set AWS_REGION)');
  const problem = inputFieldProblem('region', region);
  if (problem) throw new UsageError(`--region "${region}": ${problem}`);
  // Credentials first: a sweep whose every list call is refused for want of them would look like "nothing listed".
  await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
  const stateMachineArn = values['state-machine-arn'];
  if (
    stateMachineArn !== undefined &&
    !/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/.test(stateMachineArn)
  )
    throw new UsageError(`--state-machine-arn "${stateMachineArn}" is not a state machine ARN`);
  const result = await sweep({ region, ...(stateMachineArn ? { stateMachineArn } : {}) });
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(
      `expired runs in ${region}: ${result.expiredRuns.length ? result.expiredRuns.join(', ') : 'none'}\n`,
    );
    if (result.deadLeaseRuns.length)
      process.stdout.write(`pool leases of ended executions freed: ${result.deadLeaseRuns.join(', ')}\n`);
    if (result.liveRuns.length)
      process.stdout.write(`left alone (execution still running): ${result.liveRuns.join(', ')}\n`);
    for (const [runId, p] of Object.entries(result.passes)) {
      process.stdout.write(
        `  ${runId}: deleted ${p.deleted.length}, remaining ${p.remaining.map((r) => `${r.type} ${r.id}`).join(', ') || 'none'}\n`,
      );
    }
  }
  for (const u of result.unlisted) process.stderr.write(`warning: could not list: ${u}\n`);
  const left = Object.values(result.passes).some((p) => p.remaining.length || p.unlisted.length);
  return left || result.unlisted.length ? EXIT.verificationFailed : EXIT.ok;
}
