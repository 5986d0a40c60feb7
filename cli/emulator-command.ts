/** `privatelink-verify emulator`: the local AWS on loopback, standalone, optionally with the product deployed. */
import { parseArgs } from 'node:util';
import { EMULATOR_ADMIN_CREDENTIALS } from '../emulator/core/identity.ts';
import { profileNamed } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { inputFieldProblem } from '../statemachine/contract.ts';
import { deployProduct } from './deploy.ts';
import { EXIT, UsageError } from './exit-codes.ts';

export const EMULATOR_HELP = `Usage: privatelink-verify emulator [--port N] [--profile instant|realistic] [--time-scale N] [--deploy] [--log]

Start the local AWS emulator on 127.0.0.1 (EC2, IAM, STS, Lambda, Bedrock, Step Functions, IAM
Access Analyzer ValidatePolicy) and print its endpoint URL. Point any AWS SDK or the AWS CLI at it:

  export AWS_ENDPOINT_URL=<url> AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=${EMULATOR_ADMIN_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${EMULATOR_ADMIN_CREDENTIALS.secretAccessKey}
  aws ec2 describe-vpcs

Only keys the emulator issued are accepted: this administrator pair (the account's root user),
keys from STS AssumeRole, and the keys it gives function sandboxes. Every call is authorized by
IAM (identity policies, permissions boundaries, SCPs set through /_emulator/config "world").

Options:
  --port <n>          port to listen on (default 4566; 0 picks a free port)
  --profile <name>    instant (default) or realistic latencies
  --time-scale <n>    cap: at least this many real seconds per simulated second (default: the profile's)
  --deploy            deploy the product and print the state machine ARN
  --log               print one JSON line per request
  -h, --help          show this help

Admin routes (outside the AWS namespace): GET /_emulator/health, GET /_emulator/inventory,
GET|POST /_emulator/config (faults, quotas, world), POST /_emulator/reset.
Stops cleanly on Ctrl-C (SIGINT) or SIGTERM.`;

export async function emulatorCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '4566' },
        profile: { type: 'string', default: 'instant' },
        'time-scale': { type: 'string' },
        deploy: { type: 'boolean', default: false },
        log: { type: 'boolean', default: false },
        region: { type: 'string', default: 'us-east-1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(`${EMULATOR_HELP}\n`);
    return EXIT.ok;
  }
  const regionProblem = inputFieldProblem('region', values.region);
  if (regionProblem) throw new UsageError(`--region "${values.region}": ${regionProblem}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0–65535, got "${values.port}"`);
  let profile: ReturnType<typeof profileNamed>;
  try {
    profile = profileNamed(String(values.profile));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const timeScale = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
  if (timeScale !== undefined && !(timeScale > 0))
    throw new UsageError(`--time-scale must be above 0, got "${values['time-scale']}"`);

  const emu = await Emulator.start({
    port,
    profile,
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(values.log
      ? { log: (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`) }
      : {}),
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE')
      throw new UsageError(`port ${port} is in use: pick another with --port (0 picks a free one)`);
    throw err;
  });
  process.stdout.write(`emulator listening: ${emu.url}\n`);
  process.stdout.write(
    `admin credentials: AWS_ACCESS_KEY_ID=${EMULATOR_ADMIN_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${EMULATOR_ADMIN_CREDENTIALS.secretAccessKey}\n`,
  );
  if (values.deploy) {
    const d = await deployProduct(emu, { region: String(values.region) });
    process.stdout.write(`state machine: ${d.stateMachineArn}\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emu.close();
  process.stdout.write('emulator stopped\n');
  return EXIT.ok;
}
