import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  ListTagsForResourceCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import type { ExecutionStatusChange } from '../../emulator/services/stepfunctions.ts';
import { adminClientConfig, createServiceRole, startTestEmulator } from '../helpers/emulator.ts';

const ROLE = 'arn:aws:iam::123456789012:role/sfn-role';
let emu: Emulator;
let sfn: SFNClient;
let counter = 0;

beforeAll(async () => {
  // instant profile: timeScale 0.001, one virtual second is one real millisecond
  emu = await startTestEmulator();
  sfn = new SFNClient(adminClientConfig(emu));
  await createServiceRole(emu, 'sfn-role', 'states.amazonaws.com');
});
afterAll(() => emu.close());

async function createMachine(definition: object, name = `sm-${++counter}`): Promise<string> {
  const out = await sfn.send(
    new CreateStateMachineCommand({ name, roleArn: ROLE, definition: JSON.stringify(definition) }),
  );
  return out.stateMachineArn!;
}

async function waitForEnd(executionArn: string): Promise<DescribeExecutionCommandOutput> {
  for (let i = 0; i < 400; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`execution ${executionArn} still running`);
}

async function run(
  definition: object,
  input: unknown = {},
): Promise<{ arn: string; result: DescribeExecutionCommandOutput }> {
  const stateMachineArn = await createMachine(definition);
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
  );
  return { arn: executionArn!, result: await waitForEnd(executionArn!) };
}

async function history(executionArn: string): Promise<HistoryEvent[]> {
  const out = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  return out.events ?? [];
}

const errorOf = async (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => e,
  );

describe('Step Functions: state machines', () => {
  it('creates, describes, lists and deletes a state machine', async () => {
    const definition = { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } };
    const arn = await createMachine(definition, 'crud-machine');
    expect(arn).toBe('arn:aws:states:us-east-1:123456789012:stateMachine:crud-machine');
    const d = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(d.name).toBe('crud-machine');
    expect(d.status).toBe('ACTIVE');
    expect(d.type).toBe('STANDARD');
    expect(JSON.parse(d.definition!)).toEqual(definition);
    expect(d.creationDate).toBeInstanceOf(Date);
    const list = await sfn.send(new ListStateMachinesCommand({}));
    expect(list.stateMachines?.map((m) => m.stateMachineArn)).toContain(arn);
    // DeleteStateMachine is asynchronous: DELETING first, then gone (API reference, DeleteStateMachine).
    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    const deleting = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(deleting.status).toBe('DELETING');
    let err: Awaited<ReturnType<typeof errorOf>> | undefined;
    for (let i = 0; i < 200 && !err; i++) {
      await new Promise((r) => setTimeout(r, 10));
      err = await errorOf(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn })));
    }
    expect(err?.name).toBe('StateMachineDoesNotExist');
  });

  it('is idempotent for an identical create and refuses a different definition under the same name', async () => {
    const a = { StartAt: 'P', States: { P: { Type: 'Pass', End: true } } };
    const first = await createMachine(a, 'same-name');
    expect(await createMachine(a, 'same-name')).toBe(first);
    const err = await errorOf(
      createMachine({ StartAt: 'Q', States: { Q: { Type: 'Pass', End: true } } }, 'same-name'),
    );
    expect(err?.name).toBe('StateMachineAlreadyExists');
  });

  it('rejects invalid definitions with InvalidDefinition', async () => {
    const missingTarget = { StartAt: 'P', States: { P: { Type: 'Pass', Next: 'Nowhere' } } };
    expect((await errorOf(createMachine(missingTarget)))?.name).toBe('InvalidDefinition');
    const notJson = sfn.send(
      new CreateStateMachineCommand({ name: 'broken', roleArn: ROLE, definition: '{"StartAt":' }),
    );
    expect((await errorOf(notJson))?.name).toBe('InvalidDefinition');
    const badName = sfn.send(
      new CreateStateMachineCommand({
        name: 'has space',
        roleArn: ROLE,
        definition: JSON.stringify(missingTarget),
      }),
    );
    expect((await errorOf(badName))?.name).toBe('InvalidName');
    const unsubstituted = {
      StartAt: 'T',
      States: { T: { Type: 'Task', Resource: '${PreflightFunctionArn}', End: true } },
    };
    expect((await errorOf(createMachine(unsubstituted)))?.name).toBe('InvalidDefinition');
  });

  it('updates a definition and keeps tags', async () => {
    const arn = (
      await sfn.send(
        new CreateStateMachineCommand({
          name: 'tagged',
          roleArn: ROLE,
          definition: JSON.stringify({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } }),
          tags: [{ key: 'privatelink-verify:run-id', value: 'r1' }],
        }),
      )
    ).stateMachineArn!;
    const next = { StartAt: 'P', States: { P: { Type: 'Pass', Result: 2, End: true } } };
    await sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: JSON.stringify(next) }));
    const d = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(JSON.parse(d.definition!)).toEqual(next);
    const tags = await sfn.send(new ListTagsForResourceCommand({ resourceArn: arn }));
    expect(tags.tags).toEqual([{ key: 'privatelink-verify:run-id', value: 'r1' }]);
    expect(emu.leftovers('privatelink-verify:run-id', 'r1').map((i) => i.id)).toEqual([arn]);
  });
});

describe('Step Functions: StartExecution', () => {
  const slow = { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 3600, End: true } } };

  it('returns the same execution for the same name and input while running, and ExecutionAlreadyExists otherwise', async () => {
    const stateMachineArn = await createMachine(slow);
    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: 'run-1', input: '{"a":1}' }),
    );
    expect(first.executionArn).toBe(
      `arn:aws:states:us-east-1:123456789012:execution:${stateMachineArn.split(':').pop()}:run-1`,
    );
    const again = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: 'run-1', input: '{"a":1}' }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    const other = await errorOf(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'run-1', input: '{"a":2}' })),
    );
    expect(other?.name).toBe('ExecutionAlreadyExists');
    await sfn.send(new StopExecutionCommand({ executionArn: first.executionArn }));
    const afterStop = await errorOf(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'run-1', input: '{"a":1}' })),
    );
    expect(afterStop?.name).toBe('ExecutionAlreadyExists');
  });

  it('validates the name, the input and the state machine', async () => {
    const stateMachineArn = await createMachine(slow);
    const tooLong = await errorOf(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'x'.repeat(81) })),
    );
    expect(tooLong?.name).toBe('InvalidName');
    const badChar = await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'a/b' })));
    expect(badChar?.name).toBe('InvalidName');
    const badInput = await errorOf(
      sfn.send(new StartExecutionCommand({ stateMachineArn, input: '{not json' })),
    );
    expect(badInput?.name).toBe('InvalidExecutionInput');
    const missing = await errorOf(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:nope',
        }),
      ),
    );
    expect(missing?.name).toBe('StateMachineDoesNotExist');
    const unnamed = await sfn.send(new StartExecutionCommand({ stateMachineArn }));
    expect(unnamed.executionArn).toMatch(/:execution:[^:]+:[0-9a-f-]{36}$/);
    await sfn.send(new StopExecutionCommand({ executionArn: unnamed.executionArn }));
  });
});

describe('Step Functions: running', () => {
  it('runs Pass, Choice and Wait to SUCCEEDED with the history in order and $$ context', async () => {
    const { arn, result } = await run(
      {
        StartAt: 'Init',
        States: {
          Init: {
            Type: 'Pass',
            Parameters: {
              'n.$': '$.n',
              'execution.$': '$$.Execution.Name',
              'machine.$': '$$.StateMachine.Name',
              'original.$': '$$.Execution.Input',
            },
            Next: 'Decide',
          },
          Decide: {
            Type: 'Choice',
            Choices: [{ Variable: '$.n', NumericGreaterThan: 1, Next: 'Pause' }],
            Default: 'Small',
          },
          Small: { Type: 'Pass', Result: 'small', End: true },
          Pause: { Type: 'Wait', Seconds: 5, Next: 'Done' },
          Done: { Type: 'Succeed' },
        },
      },
      { n: 2 },
    );
    expect(result.status).toBe('SUCCEEDED');
    const output = JSON.parse(result.output!);
    expect(output).toEqual({
      n: 2,
      execution: arn.split(':').pop(),
      machine: result.stateMachineArn!.split(':').pop(),
      original: { n: 2 },
    });
    expect(result.stopDate!.getTime()).toBeGreaterThanOrEqual(result.startDate!.getTime());
    const events = await history(arn);
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ChoiceStateEntered',
      'ChoiceStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((_e, i) => i + 1));
    expect(events[0]?.executionStartedEventDetails?.input).toBe('{"n":2}');
    expect(events[1]?.stateEnteredEventDetails).toMatchObject({ name: 'Init', input: '{"n":2}' });
    expect(JSON.parse(events[2]?.stateExitedEventDetails?.output ?? 'null')).toEqual(output);
    expect(events[9]?.executionSucceededEventDetails?.output).toBe(result.output);
  });

  it('scales Wait to the virtual clock: a 300-second wait spans ~300 virtual seconds of history', async () => {
    const { arn, result } = await run({
      StartAt: 'Pause',
      States: { Pause: { Type: 'Wait', Seconds: 300, End: true } },
    });
    expect(result.status).toBe('SUCCEEDED');
    const events = await history(arn);
    const entered = events.find((e) => e.type === 'WaitStateEntered')!.timestamp!.getTime();
    const exited = events.find((e) => e.type === 'WaitStateExited')!.timestamp!.getTime();
    expect((exited - entered) / 1000).toBeGreaterThanOrEqual(299);
    expect((exited - entered) / 1000).toBeLessThan(400);
  });

  it('waits for SecondsPath and TimestampPath on the virtual clock', async () => {
    const { arn, result } = await run(
      {
        StartAt: 'BySeconds',
        States: {
          BySeconds: { Type: 'Wait', SecondsPath: '$.seconds', Next: 'ByTimestamp' },
          ByTimestamp: { Type: 'Wait', TimestampPath: '$.until', End: true },
        },
      },
      { seconds: 120, until: '1970-01-01T00:00:00Z' },
    );
    expect(result.status).toBe('SUCCEEDED');
    const events = await history(arn);
    const ts = (type: string, name: string) =>
      events
        .find(
          (e) => e.type === type && (e.stateEnteredEventDetails ?? e.stateExitedEventDetails)?.name === name,
        )!
        .timestamp!.getTime();
    expect(
      (ts('WaitStateExited', 'BySeconds') - ts('WaitStateEntered', 'BySeconds')) / 1000,
    ).toBeGreaterThanOrEqual(119);
    // a timestamp in the past does not wait at all
    expect(
      (ts('WaitStateExited', 'ByTimestamp') - ts('WaitStateEntered', 'ByTimestamp')) / 1000,
    ).toBeLessThan(60);
  });

  it('runs a Parallel state and collects both branches', async () => {
    const { arn, result } = await run({
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'A', States: { A: { Type: 'Pass', Result: 'a', End: true } } },
            {
              StartAt: 'B',
              States: {
                B: { Type: 'Wait', Seconds: 10, Next: 'B2' },
                B2: { Type: 'Pass', Result: 'b', End: true },
              },
            },
          ],
          End: true,
        },
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual(['a', 'b']);
    const types = (await history(arn)).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['ExecutionStarted', 'ParallelStateEntered', 'ParallelStateStarted']);
    expect(types).toContain('WaitStateEntered');
    expect(types.slice(-3)).toEqual(['ParallelStateSucceeded', 'ParallelStateExited', 'ExecutionSucceeded']);
  });

  it('runs a Map state over its items with ItemSelector and $$.Map.Item', async () => {
    const { arn, result } = await run(
      {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Map',
            ItemsPath: '$.items',
            ItemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index' },
            ItemProcessor: { StartAt: 'Echo', States: { Echo: { Type: 'Pass', End: true } } },
            End: true,
          },
        },
      },
      { items: ['a', 'b'] },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual([
      { value: 'a', index: 0 },
      { value: 'b', index: 1 },
    ]);
    const types = (await history(arn)).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['ExecutionStarted', 'MapStateEntered', 'MapStateStarted']);
    expect(types.filter((t) => t === 'MapIterationSucceeded')).toHaveLength(2);
    expect(types.slice(-3)).toEqual(['MapStateSucceeded', 'MapStateExited', 'ExecutionSucceeded']);
  });

  it('gives $$.Execution.StartTime in virtual time and the execution input inside Parallel branches', async () => {
    const { result } = await run(
      {
        StartAt: 'Both',
        States: {
          Both: {
            Type: 'Parallel',
            Branches: [
              {
                StartAt: 'Ctx',
                States: {
                  Ctx: {
                    Type: 'Pass',
                    Parameters: {
                      'start.$': '$$.Execution.StartTime',
                      'input.$': '$$.Execution.Input',
                      'id.$': '$$.Execution.Id',
                    },
                    End: true,
                  },
                },
              },
            ],
            InputPath: '$.inner',
            End: true,
          },
        },
      },
      { inner: { x: 1 } },
    );
    const [ctx] = JSON.parse(result.output!);
    expect(Date.parse(ctx.start)).toBe(result.startDate!.getTime());
    expect(ctx.input).toEqual({ inner: { x: 1 } });
    expect(ctx.id).toBe(result.executionArn);
  });

  it('ends FAILED with the Fail state error and cause', async () => {
    const { arn, result } = await run(
      {
        StartAt: 'Boom',
        States: { Boom: { Type: 'Fail', Error: 'PrivateLinkVerify.Refused', CausePath: '$.why' } },
      },
      { why: 'no endpoint service' },
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('PrivateLinkVerify.Refused');
    expect(result.cause).toBe('no endpoint service');
    const events = await history(arn);
    expect(events.map((e) => e.type)).toEqual(['ExecutionStarted', 'FailStateEntered', 'ExecutionFailed']);
    expect(events[2]?.executionFailedEventDetails).toEqual({
      error: 'PrivateLinkVerify.Refused',
      cause: 'no endpoint service',
    });
  });

  it('retries a Parallel state with backoff on the virtual clock, then routes to Catch', async () => {
    const { arn, result } = await run({
      StartAt: 'Flaky',
      States: {
        Flaky: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Custom.Transient', Cause: 'try again' } } },
          ],
          Retry: [{ ErrorEquals: ['Custom.Transient'], IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 2 }],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Recover' }],
          End: true,
        },
        Recover: { Type: 'Pass', End: true },
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({
      failure: { Error: 'Custom.Transient', Cause: 'try again' },
    });
    const events = await history(arn);
    const starts = events.filter((e) => e.type === 'FailStateEntered').map((e) => e.timestamp!.getTime());
    expect(starts).toHaveLength(3);
    // IntervalSeconds 10, then 20 (BackoffRate 2), in virtual seconds
    expect((starts[1]! - starts[0]!) / 1000).toBeGreaterThanOrEqual(9.5);
    expect((starts[2]! - starts[1]!) / 1000).toBeGreaterThanOrEqual(19.5);
    expect(events.map((e) => e.type).slice(-4)).toEqual([
      'ParallelStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('stops a running execution: ABORTED, no Catch runs, status change reported', async () => {
    const changes: ExecutionStatusChange[] = [];
    const unsubscribe = emu.states.onExecutionStatusChange((e) => changes.push(e));
    const stateMachineArn = await createMachine({
      StartAt: 'Guarded',
      States: {
        Guarded: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'Long', States: { Long: { Type: 'Wait', Seconds: 86400, End: true } } }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Cleanup' }],
          End: true,
        },
        Cleanup: { Type: 'Pass', End: true },
      },
    });
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'to-stop' }));
    expect(emu.inventory().some((i) => i.type === 'execution' && i.id === executionArn)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    await sfn.send(
      new StopExecutionCommand({ executionArn, error: 'User.Cancelled', cause: 'workflow cancelled' }),
    );
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(d.status).toBe('ABORTED');
    await new Promise((r) => setTimeout(r, 20));
    const events = await history(executionArn!);
    expect(events.map((e) => e.type)).not.toContain('PassStateEntered');
    expect(events.at(-1)?.type).toBe('ExecutionAborted');
    expect(events.at(-1)?.executionAbortedEventDetails).toEqual({
      error: 'User.Cancelled',
      cause: 'workflow cancelled',
    });
    expect(changes.filter((c) => c.executionArn === executionArn).map((c) => c.status)).toEqual([
      'RUNNING',
      'ABORTED',
    ]);
    expect(emu.inventory().some((i) => i.type === 'execution' && i.id === executionArn)).toBe(false);
    unsubscribe();
  });

  it('times out after the machine TimeoutSeconds in virtual time', async () => {
    const { arn, result } = await run({
      TimeoutSeconds: 60,
      StartAt: 'Long',
      States: { Long: { Type: 'Wait', Seconds: 3600, Next: 'After' }, After: { Type: 'Pass', End: true } },
    });
    expect(result.status).toBe('TIMED_OUT');
    const secs = (result.stopDate!.getTime() - result.startDate!.getTime()) / 1000;
    expect(secs).toBeGreaterThanOrEqual(59);
    expect(secs).toBeLessThan(600);
    const events = await history(arn);
    expect(events.at(-1)?.type).toBe('ExecutionTimedOut');
    expect(events.map((e) => e.type)).not.toContain('PassStateEntered');
  });

  it('fails an execution whose history would pass 25,000 events', async () => {
    const { arn, result } = await run({
      StartAt: 'Again',
      States: {
        Again: { Type: 'Pass', Next: 'Loop' },
        Loop: {
          Type: 'Choice',
          Choices: [{ Variable: '$.stop', IsPresent: true, Next: 'End' }],
          Default: 'Again',
        },
        End: { Type: 'Succeed' },
      },
    });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.Runtime');
    const last = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, reverseOrder: true, maxResults: 1 }),
    );
    expect(last.events?.[0]).toMatchObject({ id: 25_000, type: 'ExecutionFailed' });
  });

  it('pages history with maxResults/nextToken and reverses it', async () => {
    const { arn } = await run({
      StartAt: 'A',
      States: {
        A: { Type: 'Pass', Next: 'B' },
        B: { Type: 'Pass', Next: 'C' },
        C: { Type: 'Pass', End: true },
      },
    });
    const all = await history(arn);
    expect(all).toHaveLength(8);
    const seen: number[] = [];
    let nextToken: string | undefined;
    do {
      const p = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 3, nextToken }),
      );
      expect(p.events!.length).toBeLessThanOrEqual(3);
      seen.push(...p.events!.map((e) => e.id!));
      nextToken = p.nextToken;
    } while (nextToken);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const rev = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, reverseOrder: true, maxResults: 2 }),
    );
    expect(rev.events!.map((e) => e.type)).toEqual(['ExecutionSucceeded', 'PassStateExited']);
  });

  it('lists executions with a status filter and pagination', async () => {
    const stateMachineArn = await createMachine({ StartAt: 'P', States: { P: { Type: 'Pass', End: true } } });
    for (const name of ['e1', 'e2', 'e3']) {
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name }));
      await waitForEnd(executionArn!);
    }
    const first = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'SUCCEEDED', maxResults: 2 }),
    );
    expect(first.executions!.map((e) => e.name)).toEqual(['e3', 'e2']);
    const second = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'SUCCEEDED', nextToken: first.nextToken }),
    );
    expect(second.executions!.map((e) => e.name)).toEqual(['e1']);
    expect(second.nextToken).toBeUndefined();
    const failed = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'FAILED' }));
    expect(failed.executions).toEqual([]);
  });
});
