/**
 * Emulator figures: start-up time (the CLI until it prints its URL, and Emulator.start in-process)
 * and the median round-trip of cheap calls through the real SDK clients.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DescribeAvailabilityZonesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Emulator } from '../emulator/emulator.ts';

const BIN = fileURLToPath(new URL('../cli/bin.mjs', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Spawn `privatelink-verify emulator --port 0` and time until it prints its endpoint URL. */
function cliStartupMs(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        const ms = performance.now() - t0;
        child.kill('SIGTERM');
        child.once('exit', () => resolve(ms));
      }
    });
    child.once('error', reject);
  });
}

export async function main(): Promise<Record<string, number>> {
  const cli: number[] = [];
  for (let i = 0; i < 5; i++) cli.push(await cliStartupMs());

  const inProcess: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const e = await Emulator.start();
    inProcess.push(performance.now() - t0);
    await e.close();
  }

  const emu = await Emulator.start();
  const sts = new STSClient(emu.clientConfig());
  const ec2 = new EC2Client(emu.clientConfig());
  for (let i = 0; i < 50; i++) await sts.send(new GetCallerIdentityCommand({})); // warm-up
  const stsMs: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    await sts.send(new GetCallerIdentityCommand({}));
    stsMs.push(performance.now() - t0);
  }
  for (let i = 0; i < 50; i++) await ec2.send(new DescribeAvailabilityZonesCommand({}));
  const ec2Ms: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    await ec2.send(new DescribeAvailabilityZonesCommand({}));
    ec2Ms.push(performance.now() - t0);
  }
  // The administrator is the account root: with no SCPs its calls need no simulation. A role
  // session's calls go through iam-simulate (identity policy + boundary), the cost that counts.
  const iam = new IAMClient(emu.clientConfig());
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'bench-reader',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'bench-reader',
      PolicyName: 'describe',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeAvailabilityZones', Resource: '*' }],
      }),
    }),
  );
  const res = await fetch(`${emu.url}/_emulator/sessions`, {
    method: 'POST',
    body: JSON.stringify({ roleName: 'bench-reader', sessionName: 'bench' }),
  });
  const keys = (await res.json()) as { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  const roleEc2 = new EC2Client({ ...emu.clientConfig(), credentials: keys });
  for (let i = 0; i < 50; i++) await roleEc2.send(new DescribeAvailabilityZonesCommand({}));
  const roleMs: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    await roleEc2.send(new DescribeAvailabilityZonesCommand({}));
    roleMs.push(performance.now() - t0);
  }
  await emu.close();

  const figures = {
    'cli start-up to URL, median of 5 (ms)': median(cli),
    'Emulator.start in-process, median of 5 (ms)': median(inProcess),
    'STS GetCallerIdentity round-trip, median of 500 (ms)': median(stsMs),
    'EC2 DescribeAvailabilityZones round-trip, median of 500 (ms)': median(ec2Ms),
    'EC2 DescribeAvailabilityZones as a role session (IAM simulated), median of 500 (ms)': median(roleMs),
  };
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(84)} ${v.toFixed(2)}`);
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
