import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../emulator/emulator.ts';
import { ExecutionInputSchema, PROBE_RUN_ID_MAX, RUN_ID_PATTERN } from '../../statemachine/contract.ts';
import { startOrAttach } from '../../workflows-src/action/execution.ts';
import { executionArnFor, executionName } from '../../workflows-src/action/execution-name.ts';
import { adminClientConfig, ensureServiceRole, startTestEmulator } from '../helpers/emulator.ts';
import { fixtureDefinition, fixtureReport, MODEL } from './fixtures.ts';

const PARTS = {
  repository: 'octo-org/bedrock-platform',
  runId: '123456789',
  runAttempt: '1',
  discriminator: 'verify|us-east-1|m',
};

describe('execution name', () => {
  it('is the same for the same run and attempt', () => {
    expect(executionName(PARTS)).toBe(executionName({ ...PARTS }));
    expect(executionName(PARTS)).toMatch(/^bedrock-platform-123456789-1-[0-9a-f]{8}$/);
  });

  it('differs by attempt, run, repository and discriminator', () => {
    const names = new Set([
      executionName(PARTS),
      executionName({ ...PARTS, runAttempt: '2' }),
      executionName({ ...PARTS, runId: '123456790' }),
      executionName({ ...PARTS, repository: 'other-org/bedrock-platform' }),
      executionName({ ...PARTS, discriminator: 'verify|eu-west-1|m' }),
    ]);
    expect(names.size).toBe(5);
  });

  it('is a valid execution name and run id (≤80, and short enough for the probe function name) for any repository', () => {
    const repos = [
      'o/r',
      `o/${'a'.repeat(100)}`,
      'o/weird.name+chars',
      'o/.github',
      'o/---',
      'o/ünïcødé-repo',
    ];
    for (const repository of repos) {
      const name = executionName({
        ...PARTS,
        repository,
        runId: '99999999999999999999',
        runAttempt: '99999',
      });
      expect(name.length).toBeLessThanOrEqual(80);
      expect(name.length).toBeLessThanOrEqual(PROBE_RUN_ID_MAX);
      expect(name).toMatch(RUN_ID_PATTERN);
      expect(
        ExecutionInputSchema.safeParse({ runId: name, region: 'us-east-1', modelId: MODEL }).success,
      ).toBe(true);
    }
  });

  it('refuses a malformed run id instead of inventing a name', () => {
    expect(() => executionName({ ...PARTS, runId: 'abc' })).toThrow(/GITHUB_RUN_ID/);
    expect(() => executionName({ ...PARTS, repository: 'no-slash' })).toThrow(/GITHUB_REPOSITORY/);
  });
});

describe('re-running the same attempt', () => {
  let emu: Emulator;
  let sfn: SFNClient;
  beforeAll(async () => {
    emu = await startTestEmulator();
    sfn = new SFNClient(adminClientConfig(emu));
  });
  afterAll(async () => emu?.close());

  async function machine(name: string, cleanupSeconds: number) {
    const out = await sfn.send(
      new CreateStateMachineCommand({
        name,
        definition: fixtureDefinition(fixtureReport('pass'), { cleanupSeconds }),
        roleArn: await ensureServiceRole(emu, 'fixture-states', 'states.amazonaws.com'),
      }),
    );
    return out.stateMachineArn!;
  }

  it('attaches to the running execution instead of starting a second one', async () => {
    const arn = await machine('reattach-running', 3600);
    const name = executionName(PARTS);
    const input = { runId: name, region: 'us-east-1', modelId: MODEL };
    const first = await startOrAttach(sfn, { stateMachineArn: arn, name, input });
    const second = await startOrAttach(sfn, { stateMachineArn: arn, name, input });
    expect(second.executionArn).toBe(first.executionArn);
    expect(first.executionArn).toBe(executionArnFor(arn, name));
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    expect(listed.executions).toHaveLength(1);
  });

  it('attaches to a finished execution of the same name (ExecutionAlreadyExists) and reports that', async () => {
    const arn = await machine('reattach-finished', 1);
    const name = executionName({ ...PARTS, runId: '55' });
    const input = { runId: name, region: 'us-east-1', modelId: MODEL };
    const first = await startOrAttach(sfn, { stateMachineArn: arn, name, input });
    for (let i = 0; i < 100; i++) {
      const listed = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED' }),
      );
      if (listed.executions?.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const again = await startOrAttach(sfn, { stateMachineArn: arn, name, input });
    expect(again).toEqual({ executionArn: first.executionArn, attached: true });
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }));
    expect(listed.executions).toHaveLength(1);
  });
});
