/**
 * The bundled action (dist/index.js) against the emulator with the product deployed: its size,
 * and the real time from the verdict being known (the VerdictKnown state exits) to the pull
 * request comment being posted, with the action's default polling and with a short one.
 */
import { statSync } from 'node:fs';
import { GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { deployProduct } from '../cli/deploy.ts';
import { PROFILES } from '../emulator/core/latency.ts';
import { Emulator } from '../emulator/emulator.ts';
import { DIST, MODEL, pullRequestPayload, runBundledAction } from '../test/action/fixtures.ts';
import { GitHubStandIn } from '../test/action/github-stand-in.ts';

async function verdictToComment(pollSeconds: string | undefined, runId: string): Promise<number> {
  const emu = await Emulator.start({ profile: PROFILES.realistic, timeScale: 0.02 });
  const gh = await GitHubStandIn.start();
  try {
    const { stateMachineArn } = await deployProduct(emu);
    let commentAt: number | undefined;
    const push = gh.comments.push.bind(gh.comments);
    gh.comments.push = (...c) => {
      commentAt ??= performance.now();
      return push(...c);
    };
    // Watch the history from outside at 20 ms resolution for the moment the verdict is known.
    const sfn = new SFNClient(emu.clientConfig());
    let verdictAt: number | undefined;
    let watching = true;
    const watcher = (async () => {
      while (watching && verdictAt === undefined) {
        const ex = (await sfn.send(new ListExecutionsCommand({ stateMachineArn }))).executions?.[0];
        if (ex) {
          const h = await sfn.send(
            new GetExecutionHistoryCommand({ executionArn: ex.executionArn!, maxResults: 1000 }),
          );
          if (
            h.events?.some(
              (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'VerdictKnown',
            )
          ) {
            verdictAt = performance.now();
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await runBundledAction({
      emulatorUrl: emu.url,
      githubUrl: gh.url,
      event: 'pull_request',
      payload: pullRequestPayload(42),
      runId,
      inputs: {
        'state-machine-arn': stateMachineArn,
        region: 'us-east-1',
        'model-id': MODEL,
        wait: 'verdict',
        'github-token': 'ghs_standin',
        ...(pollSeconds ? { 'poll-interval-seconds': pollSeconds } : {}),
      },
    });
    watching = false;
    await watcher;
    if (result.code !== 0 || verdictAt === undefined || commentAt === undefined) {
      throw new Error(`action run did not pass (exit ${result.code}): ${result.stdout.slice(-500)}`);
    }
    return (commentAt - verdictAt) / 1000;
  } finally {
    await gh.close();
    await emu.close();
  }
}

export async function main(): Promise<Record<string, number>> {
  const figures = {
    'dist/index.js size (KB)': statSync(DIST).size / 1024,
    'verdict known -> comment posted, default polling (s)': await verdictToComment(undefined, '9101'),
    'verdict known -> comment posted, poll-interval-seconds 0.5 (s)': await verdictToComment('0.5', '9102'),
  };
  for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(64)} ${v.toFixed(2)}`);
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
