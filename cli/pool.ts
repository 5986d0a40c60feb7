/**
 * `privatelink-verify pool`: create, list and destroy a network lease pool (tasks/lib/pool.ts) in
 * an AWS account or an emulator, with the caller's credentials (the default chain; set
 * AWS_ENDPOINT_URL for an emulator). Runs lease its networks with `--pool <name>` (input `pool`).
 */
import { parseArgs } from 'node:util';
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ExecutionInputSchema, inputFieldProblem, POOL_NAME_PATTERN } from '../statemachine/contract.ts';
import { createPool, destroyPool, type PoolNetwork, poolStatus } from '../tasks/lib/pool.ts';
import { endpointServiceZones } from '../tasks/preflight.ts';
import { EXIT, UsageError } from './exit-codes.ts';

export const POOL_HELP = `Usage: privatelink-verify pool create  --pool <name> --region <region> [--size N] [--vpc-cidr CIDR]
       privatelink-verify pool list    --pool <name> --region <region> [--json]
       privatelink-verify pool destroy --pool <name> --region <region> [--force]

A network lease pool: N pre-built networks (VPC, two private subnets, the workload and endpoint
security groups: exactly what a run builds for itself), tagged privatelink-verify:pool=<name>.
A run started with --pool <name> leases one of them for its duration instead of building a VPC:
it still creates and deletes its own endpoint and probe, and it verifies the leased network as
it is (no route out, the groups as the pool built them). Each network counts against the
region's VPC quota (5 by default, the default VPC included) for as long as the pool exists.

  --size N          networks to have (default 2); create adds the missing ones and keeps the rest
  --vpc-cidr CIDR   CIDR of each pooled VPC (default 10.42.0.0/16)
  --force           destroy leased networks too (their runs then fail)

Exit status: 0 done, 1 something could not be deleted yet (a run's ENIs still detaching, or a
leased network without --force), 2 bad input, 4 missing or refused AWS credentials.`;

export interface EnsurePoolOptions {
  pool: string;
  region: string;
  size: number;
  vpcCidr?: string;
  owner?: string;
}

/** Build the pool's missing networks with these client settings (the emulator's admin, or the default chain). */
export async function ensurePool(config: EC2ClientConfig, o: EnsurePoolOptions): Promise<PoolNetwork[]> {
  const ec2 = new EC2Client(config);
  const zones = await endpointServiceZones(o.region, ec2);
  return createPool(ec2, {
    pool: o.pool,
    size: o.size,
    vpcCidr: o.vpcCidr ?? '10.42.0.0/16',
    owner: o.owner ?? 'privatelink-verify',
    availabilityZones: [zones[0]!, zones[1]!],
  });
}

export async function poolCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (!action || action === '--help' || action === '-h') {
    process.stdout.write(`${POOL_HELP}\n`);
    return action ? EXIT.ok : EXIT.badInput;
  }
  if (!['create', 'list', 'destroy'].includes(action))
    throw new UsageError(`unknown pool action "${action}": use create, list or destroy`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        pool: { type: 'string' },
        region: { type: 'string' },
        size: { type: 'string' },
        'vpc-cidr': { type: 'string' },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) {
    process.stdout.write(`${POOL_HELP}\n`);
    return EXIT.ok;
  }
  const pool = typeof values.pool === 'string' ? values.pool : '';
  if (!POOL_NAME_PATTERN.test(pool))
    throw new UsageError(`--pool "${pool}" must be 1–24 lower-case letters, digits or "-"`);
  const region = typeof values.region === 'string' ? values.region : (process.env.AWS_REGION ?? '');
  const problem = inputFieldProblem('region', region);
  if (problem) throw new UsageError(`--region "${region}": ${problem}`);
  const size = values.size === undefined ? 2 : Number(values.size);
  if (!Number.isInteger(size) || size < 1 || size > 20)
    throw new UsageError(`--size must be a whole number from 1 to 20, got "${values.size}"`);
  const vpcCidr = typeof values['vpc-cidr'] === 'string' ? values['vpc-cidr'] : undefined;
  if (vpcCidr !== undefined) {
    const cidrProblem = ExecutionInputSchema.shape.vpcCidr.safeParse(vpcCidr);
    if (!cidrProblem.success) throw new UsageError(`--vpc-cidr: ${cidrProblem.error.issues[0]?.message}`);
  }
  // Credentials first: a pool whose every call is refused for want of them would look empty.
  await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
  const ec2 = new EC2Client({ region });
  const print = (o: unknown, text: string) =>
    process.stdout.write(values.json ? `${JSON.stringify(o, null, 2)}\n` : text);

  if (action === 'create') {
    const networks = await ensurePool({ region }, { pool, region, size, ...(vpcCidr ? { vpcCidr } : {}) });
    print(networks, networks.map((n) => `${n.name}: ${n.vpcId} (${n.subnetIds.join(', ')})\n`).join(''));
    return networks.length >= size ? EXIT.ok : EXIT.verificationFailed;
  }
  if (action === 'list') {
    const status = await poolStatus(ec2, pool);
    print(
      status,
      status.length
        ? status
            .map(
              (n) =>
                `${n.name}: ${n.vpcId} ${n.leasedBy ? `leased by ${n.leasedBy} (until ${n.leaseExpiresAt})` : 'free'}\n`,
            )
            .join('')
        : `pool ${pool} has no networks in ${region}\n`,
    );
    return EXIT.ok;
  }
  const result = await destroyPool(ec2, pool, Boolean(values.force));
  print(
    result,
    `deleted ${result.deleted.length}: ${result.deleted.join(', ') || 'nothing'}\n${result.remaining.map((r) => `  left: ${r}\n`).join('')}`,
  );
  return result.remaining.length ? EXIT.verificationFailed : EXIT.ok;
}
