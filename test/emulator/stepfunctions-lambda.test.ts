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
let emu: Emulator;
let sfn: SFNClient;
let roleArn: string;
let smRoleArn: string;
let counter = 0;

async function createFunction(name: string, source: string, timeout = 30): Promise<void> {
  const lambda = new LambdaClient(adminClientConfig(emu));
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: roleArn,
      Timeout: timeout,
      Code: { ZipFile: zipSync({ 'index.mjs': strToU8(source) }) },
    }),
  );
}

beforeAll(async () => {
  emu = await startTestEmulator();
  sfn = new SFNClient(adminClientConfig(emu));
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
  roleArn = role.Role!.Arn!;
  smRoleArn = await createServiceRole(emu, 'sm-role', 'states.amazonaws.com');
  await createFunction('double', 'export const handler = async (event) => ({ value: event.value * 2 });');
  await createFunction(
    'always-transient',
    `class Transient extends Error { constructor(m) { super(m); this.name = 'PrivateLinkVerify.Transient'; } }
     export const handler = async () => { throw new Transient('endpoint still pending'); };`,
  );
  // Sleeps 300 virtual seconds: far past the Task's 5-second TimeoutSeconds.
  await createFunction(
    'slow',
    'export const handler = async () => { await new Promise((r) => setTimeout(r, 300_000)); return "late"; };',
    900,
  );
});
afterAll(() => emu.close());

async function run(
  definition: object,
  input: unknown = {},
  role = smRoleArn,
): Promise<{ result: DescribeExecutionCommandOutput; events: HistoryEvent[] }> {
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: `lambda-sm-${++counter}`,
      roleArn: role,
      definition: JSON.stringify(definition),
    }),
  );
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
  );
  for (let i = 0; i < 500; i++) {
    const result = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (result.status !== 'RUNNING') {
      const events =
        (await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }))).events ?? [];
      return { result, events };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('execution did not finish');
}

describe('Step Functions Task states invoke the emulator Lambda', () => {
  // A Task whose role may not invoke the function fails as on AWS: error Lambda.AWSLambdaException,
  // cause Lambda's AccessDenied message (awslabs/aws-deployment-framework#460,
  // aws-samples/lambda-refarch-imagerecognition#19).
  it('authorizes each Task invocation with the state machine role', async () => {
    const bare = await createServiceRole(emu, 'sm-role-without-invoke', 'states.amazonaws.com', []);
    const { result, events } = await run(
      { StartAt: 'Double', States: { Double: { Type: 'Task', Resource: FN('double'), End: true } } },
      { value: 1 },
      bare,
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Lambda.AWSLambdaException');
    expect(result.cause).toContain(
      `is not authorized to perform: lambda:InvokeFunction on resource: ${FN('double')} because no identity-based policy allows the lambda:InvokeFunction action`,
    );
    expect(result.cause).toContain('Error Code: AccessDeniedException');
    expect(events.map((e) => e.type)).toContain('LambdaFunctionFailed');
  });

  it('invokes a function by ARN and records the Lambda events between TaskStateEntered and TaskStateExited', async () => {
    const { result, events } = await run(
      {
        StartAt: 'Double',
        States: { Double: { Type: 'Task', Resource: FN('double'), ResultPath: '$.doubled', End: true } },
      },
      { value: 21 },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({ value: 21, doubled: { value: 42 } });
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events[2]?.lambdaFunctionScheduledEventDetails).toMatchObject({
      resource: FN('double'),
      input: '{"value":21}',
    });
    expect(JSON.parse(events[4]?.lambdaFunctionSucceededEventDetails?.output ?? 'null')).toEqual({
      value: 42,
    });
  });

  it('invokes through arn:aws:states:::lambda:invoke with Parameters and returns the Payload envelope', async () => {
    const { result, events } = await run(
      {
        StartAt: 'Invoke',
        States: {
          Invoke: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'double', 'Payload.$': '$.request' },
            ResultSelector: { 'body.$': '$.Payload', 'status.$': '$.StatusCode' },
            End: true,
          },
        },
      },
      { request: { value: 5 } },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!)).toEqual({ body: { value: 10 }, status: 200 });
    expect(events.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events[2]?.taskScheduledEventDetails).toMatchObject({
      resourceType: 'lambda',
      resource: 'invoke',
      region: 'us-east-1',
    });
  });

  it('retries a function error with backoff in virtual time, then Catch gets errorType and the payload as cause', async () => {
    const { result, events } = await run({
      StartAt: 'Provision',
      States: {
        Provision: {
          Type: 'Task',
          Resource: FN('always-transient'),
          Retry: [
            {
              ErrorEquals: ['PrivateLinkVerify.Transient'],
              IntervalSeconds: 5,
              BackoffRate: 3,
              MaxAttempts: 2,
            },
          ],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Cleanup' }],
          End: true,
        },
        Cleanup: { Type: 'Pass', End: true },
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    const failure = JSON.parse(result.output!).failure;
    expect(failure.Error).toBe('PrivateLinkVerify.Transient');
    expect(JSON.parse(failure.Cause)).toMatchObject({
      errorType: 'PrivateLinkVerify.Transient',
      errorMessage: 'endpoint still pending',
    });
    const scheduled = events
      .filter((e) => e.type === 'LambdaFunctionScheduled')
      .map((e) => e.timestamp!.getTime());
    expect(scheduled).toHaveLength(3);
    expect((scheduled[1]! - scheduled[0]!) / 1000).toBeGreaterThanOrEqual(4.5);
    expect((scheduled[2]! - scheduled[1]!) / 1000).toBeGreaterThanOrEqual(14.5);
    const failed = events.filter((e) => e.type === 'LambdaFunctionFailed');
    expect(failed).toHaveLength(3);
    expect(failed[0]?.lambdaFunctionFailedEventDetails?.error).toBe('PrivateLinkVerify.Transient');
    expect(events.map((e) => e.type).slice(-4)).toEqual([
      'TaskStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('names Lambda API errors Lambda.<Code>, so a Retry on Lambda.TooManyRequestsException rides out throttling', async () => {
    emu.setFaults([{ kind: 'throttle', service: 'lambda', operation: 'Invoke', times: 2 }]);
    try {
      const { result, events } = await run(
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
      const failures = events.filter((e) => e.type === 'LambdaFunctionFailed');
      expect(failures.map((e) => e.lambdaFunctionFailedEventDetails?.error)).toEqual([
        'Lambda.TooManyRequestsException',
        'Lambda.TooManyRequestsException',
      ]);
    } finally {
      emu.setFaults([]);
    }
  });

  it('fails with Lambda.ResourceNotFoundException for a function that does not exist', async () => {
    const { result, events } = await run({
      StartAt: 'Missing',
      States: { Missing: { Type: 'Task', Resource: FN('no-such-function'), End: true } },
    });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('Lambda.ResourceNotFoundException');
    expect(result.cause).toContain('Function not found');
    expect(events.map((e) => e.type)).toContain('LambdaFunctionFailed');
  });

  it('times a Task out after its TimeoutSeconds in virtual time: States.Timeout, not matched by States.TaskFailed', async () => {
    const { result, events } = await run({
      StartAt: 'Slow',
      States: {
        Slow: {
          Type: 'Task',
          Resource: FN('slow'),
          TimeoutSeconds: 5,
          Catch: [
            { ErrorEquals: ['States.TaskFailed'], Next: 'WrongCatch' },
            { ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'TimedOut' },
          ],
          End: true,
        },
        WrongCatch: { Type: 'Fail', Error: 'Wrong' },
        TimedOut: { Type: 'Pass', End: true },
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(JSON.parse(result.output!).failure.Error).toBe('States.Timeout');
    expect(events.map((e) => e.type)).toContain('LambdaFunctionTimedOut');
  });
});
