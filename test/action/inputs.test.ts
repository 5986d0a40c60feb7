import { describe, expect, it } from 'vitest';
import { InputError, parseInputs } from '../../workflows-src/action/inputs.ts';

const GOOD: Record<string, string> = {
  'state-machine-arn': 'arn:aws:states:eu-west-1:123456789012:stateMachine:privatelink-verify',
  region: 'eu-west-1',
  'model-id': 'anthropic.claude-3-haiku-20240307-v1:0',
  'github-token': 'ghs_x',
};

function problemsWith(over: Record<string, string>): string[] {
  try {
    parseInputs((name) => ({ ...GOOD, ...over })[name] ?? '');
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).problems;
  }
  return [];
}

describe('action inputs', () => {
  it('turns good inputs into a typed object with defaults', () => {
    const inputs = parseInputs((name) => GOOD[name] ?? '');
    expect(inputs).toEqual({
      stateMachineArn: GOOD['state-machine-arn'],
      stateMachineRegion: 'eu-west-1',
      region: 'eu-west-1',
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      wait: 'verdict',
      timeoutSeconds: 90 * 60,
      comment: 'auto',
      githubToken: 'ghs_x',
      pollIntervalSeconds: 5,
    });
  });

  it('accepts an inference profile and a pr-number', () => {
    const inputs = parseInputs(
      (n) =>
        ({ ...GOOD, 'model-id': 'us.anthropic.claude-3-haiku-20240307-v1:0', 'pr-number': '12' })[n] ?? '',
    );
    expect(inputs.modelId).toBe('us.anthropic.claude-3-haiku-20240307-v1:0');
    expect(inputs.prNumber).toBe(12);
  });

  it('passes a pool name on, as the execution input takes it', () => {
    expect(parseInputs((n) => ({ ...GOOD, pool: 'ci-pool' })[n] ?? '').pool).toBe('ci-pool');
    expect(parseInputs((n) => GOOD[n] ?? '').pool).toBeUndefined();
  });

  it.each([
    [{ pool: 'CI' }, 'pool "CI": pool must be 1–24 lower-case letters, digits or "-"'],
    [{ 'state-machine-arn': '' }, 'state-machine-arn is required'],
    [
      { 'state-machine-arn': 'arn:aws:lambda:us-east-1:123456789012:function:x' },
      'state-machine-arn "arn:aws:lambda:us-east-1:123456789012:function:x" is not a state machine ARN',
    ],
    [{ 'state-machine-arn': 'arn:aws:states:us-east-1:12345:stateMachine:x' }, 'is not a state machine ARN'],
    [{ region: '' }, 'region is required'],
    [{ region: 'us-east' }, 'region "us-east": region must be an AWS region code such as us-east-1'],
    // The action accepted this before: the execution input (and `local`) never did.
    [{ region: 'us-east-9' }, 'region "us-east-9": region is not an AWS region'],
    [{ region: 'eu-central-7' }, 'region "eu-central-7": region is not an AWS region'],
    [{ 'model-id': 'claude' }, 'model-id "claude": model id must look like'],
    [{ wait: 'forever' }, 'wait "forever" must be one of: verdict, complete'],
    [{ 'timeout-minutes': '0' }, 'timeout-minutes "0" must be a number of minutes above 0 and at most 360'],
    [{ 'timeout-minutes': '1e3' }, 'timeout-minutes "1e3" must be a number'],
    [{ 'timeout-minutes': '999' }, 'at most 360'],
    [{ comment: 'always' }, 'comment "always" must be one of: auto, off'],
    [{ 'github-token': '' }, 'github-token is required unless comment is "off"'],
    [{ 'pr-number': '#12' }, 'pr-number "#12" must be a pull request number'],
    [{ 'pr-number': '0' }, 'pr-number "0" must be a pull request number'],
    [
      { 'poll-interval-seconds': '-1' },
      'poll-interval-seconds "-1" must be a number of seconds from 0.01 to 60',
    ],
  ])('rejects %j with a message that says what to fix', (over, message) => {
    const problems = problemsWith(over);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('reports every problem at once', () => {
    const problems = problemsWith({ region: 'x', 'model-id': 'y', wait: 'z' });
    expect(problems).toHaveLength(3);
  });

  it('needs no token when commenting is off', () => {
    expect(problemsWith({ 'github-token': '', comment: 'off' })).toEqual([]);
  });
});
