/**
 * The sequences that stalled an earlier event clock forever (a Task whose Lambda is throttled,
 * then a Task that times out, run after a Task retried on function errors, in one emulator), on
 * the uncapped clock and on the default capped one. Each must finish, on simulated time, and
 * leave the clock with nothing computing, nothing running and no timer in the past.
 */
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { adminClientConfig, createServiceRole, startTestEmulator } from '../helpers/emulator.ts';

const FN = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;

async function setUp(emu: Emulator): Promise<{ sfn: SFNClient; smRole: string }> {
  const iam = new IAMClient(adminClientConfig(emu));
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: 'task-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  const lambda = new LambdaClient(adminClientConfig(emu));
  const create = (name: string, source: string, timeout = 30) =>
    lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: role.Role!.Arn!,
        Timeout: timeout,
        Code: { ZipFile: zipSync({ 'index.mjs': strToU8(source) }) },
      }),
    );
  await create('double', 'export const handler = async (event) => ({ value: event.value * 2 });');
  await create(
    'always-transient',
    `class Transient extends Error { constructor(m) { super(m); this.name = 'Custom.Transient'; } }
     export const handler = async () => { throw new Transient('not yet'); };`,
  );
  await create(
    'slow',
    'export const handler = async () => { await new Promise((r) => setTimeout(r, 300_000)); return "late"; };',
    900,
  );
  return {
    sfn: new SFNClient(adminClientConfig(emu)),
    smRole: await createServiceRole(emu, 'sm-role', 'states.amazonaws.com'),
  };
}

let counter = 0;
async function run(
  emu: Emulator,
  sfn: SFNClient,
  smRole: string,
  definition: object,
  input: unknown = {},
): Promise<{ result: DescribeExecutionCommandOutput; events: HistoryEvent[] }> {
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: `stall-${++counter}`,
      roleArn: smRole,
      definition: JSON.stringify(definition),
    }),
  );
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const result = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (result.status !== 'RUNNING') {
      const events =
        (await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events ?? [];
      return { result, events };
    }
    if (Date.now() > deadline)
      throw new Error(`execution stalled; clock: ${JSON.stringify(emu.ctx.clock.state())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Nothing computing, no sandbox mid-invocation, no timer left behind in the past. */
async function expectQuiet(emu: Emulator): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
  const s = emu.ctx.clock.state();
  expect(s.busy).toEqual([]);
  expect(s.sandboxes.filter((x) => x.running && x.label !== 'lambda:slow')).toEqual([]);
  const now = emu.ctx.now();
  expect(s.timers.filter((t) => t.due < now)).toEqual([]);
}

for (const [label, timeScale] of [
  ['uncapped', 0],
  ['capped at the instant profile', undefined],
] as const) {
  describe(`Step Functions on the event clock (${label}): no stall`, () => {
    let emu: Emulator;
    let sfn: SFNClient;
    let smRole: string;
    beforeAll(async () => {
      emu = await startTestEmulator(timeScale === undefined ? {} : { timeScale });
      ({ sfn, smRole } = await setUp(emu));
    });
    afterAll(() => emu.close());

    it('retries a function error with backoff in simulated time', async () => {
      const { result, events } = await run(emu, sfn, smRole, {
        StartAt: 'Provision',
        States: {
          Provision: {
            Type: 'Task',
            Resource: FN('always-transient'),
            Retry: [
              { ErrorEquals: ['Custom.Transient'], IntervalSeconds: 5, BackoffRate: 3, MaxAttempts: 2 },
            ],
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
            End: true,
          },
          Done: { Type: 'Pass', End: true },
        },
      });
      expect(result.status).toBe('SUCCEEDED');
      const scheduled = events
        .filter((e) => e.type === 'LambdaFunctionScheduled')
        .map((e) => e.timestamp!.getTime());
      expect(scheduled).toHaveLength(3);
      expect(scheduled[1]! - scheduled[0]!).toBeGreaterThanOrEqual(5000);
      expect(scheduled[2]! - scheduled[1]!).toBeGreaterThanOrEqual(15_000);
      await expectQuiet(emu);
    });

    it('then rides out a throttled Lambda with Retry', async () => {
      emu.setFaults([{ kind: 'throttle', service: 'lambda', operation: 'Invoke', times: 2 }]);
      try {
        const { result } = await run(
          emu,
          sfn,
          smRole,
          {
            StartAt: 'Double',
            States: {
              Double: {
                Type: 'Task',
                Resource: FN('double'),
                Retry: [
                  {
                    ErrorEquals: ['Lambda.TooManyRequestsException'],
                    IntervalSeconds: 2,
                    MaxAttempts: 3,
                    JitterStrategy: 'FULL',
                  },
                ],
                End: true,
              },
            },
          },
          { value: 1 },
        );
        expect(result.status).toBe('SUCCEEDED');
        expect(JSON.parse(result.output!)).toEqual({ value: 2 });
      } finally {
        emu.setFaults([]);
      }
      await expectQuiet(emu);
    });

    it('then times a Task out after its TimeoutSeconds while the function still sleeps', async () => {
      const { result, events } = await run(emu, sfn, smRole, {
        StartAt: 'Slow',
        States: {
          Slow: {
            Type: 'Task',
            Resource: FN('slow'),
            TimeoutSeconds: 5,
            Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'TimedOut' }],
            End: true,
          },
          TimedOut: { Type: 'Pass', End: true },
        },
      });
      expect(result.status).toBe('SUCCEEDED');
      expect(JSON.parse(result.output!).failure.Error).toBe('States.Timeout');
      const scheduled = events.find((e) => e.type === 'LambdaFunctionScheduled')!.timestamp!.getTime();
      const timedOut = events.find((e) => e.type === 'LambdaFunctionTimedOut')!.timestamp!.getTime();
      expect(timedOut - scheduled).toBe(5000);
      await expectQuiet(emu);
    });

    it('and once more: throttled, then timed out, in the same emulator', async () => {
      emu.setFaults([{ kind: 'throttle', service: 'lambda', operation: 'Invoke', times: 1 }]);
      try {
        const throttled = await run(
          emu,
          sfn,
          smRole,
          {
            StartAt: 'Double',
            States: {
              Double: {
                Type: 'Task',
                Resource: FN('double'),
                Retry: [
                  { ErrorEquals: ['Lambda.TooManyRequestsException'], IntervalSeconds: 1, MaxAttempts: 2 },
                ],
                TimeoutSeconds: 10,
                End: true,
              },
            },
          },
          { value: 3 },
        );
        expect(throttled.result.status).toBe('SUCCEEDED');
      } finally {
        emu.setFaults([]);
      }
      const slow = await run(emu, sfn, smRole, {
        StartAt: 'Slow',
        States: { Slow: { Type: 'Task', Resource: FN('slow'), TimeoutSeconds: 2, End: true } },
      });
      expect(slow.result.status).toBe('FAILED');
      expect(slow.result.error).toBe('States.Timeout');
      await expectQuiet(emu);
    });
  });
}
