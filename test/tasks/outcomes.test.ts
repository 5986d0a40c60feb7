/** The one mapping from AWS errors to outcomes: what counts as a deny is decided here. */
import { describe, expect, it } from 'vitest';
import {
  classifyInvokeError,
  isDependencyViolation,
  isNotFound,
  isNotYetVisible,
  isTransient,
  refusedResource,
} from '../../tasks/lib/outcomes.ts';

const awsError = (name: string, message: string, status?: number) =>
  Object.assign(new Error(message), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

const ARN = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
const USER = 'arn:aws:sts::123456789012:assumed-role/plv-probe-x/plv-probe-x';

describe('classifyInvokeError', () => {
  it('tells the explicit endpoint-policy Deny from an implicit endpoint-policy refusal', () => {
    const msg = (tail: string) =>
      `User: ${USER} is not authorized to perform: bedrock:InvokeModel on resource: ${ARN} ${tail}`;
    expect(
      classifyInvokeError(
        awsError('AccessDeniedException', msg('with an explicit deny in a VPC endpoint policy'), 403),
      ),
    ).toBe('denied-by-endpoint-policy');
    // "No Allow" is not the run's Deny: a run whose Deny never took effect but whose Allow lapsed must not pass.
    expect(
      classifyInvokeError(
        awsError(
          'AccessDeniedException',
          msg('because no VPC endpoint policy allows the bedrock:InvokeModel action'),
          403,
        ),
      ),
    ).toBe('not-allowed-by-endpoint-policy');
  });

  it('reads the refused resource from the message', () => {
    expect(
      refusedResource(
        `User: ${USER} is not authorized to perform: bedrock:InvokeModel on resource: ${ARN} with an explicit deny`,
      ),
    ).toBe(ARN);
    expect(refusedResource('no resource here')).toBeUndefined();
  });

  it('names the identity policy for identity-based refusals', () => {
    const err = awsError(
      'AccessDeniedException',
      `User: ${USER} is not authorized to perform: bedrock:InvokeModel on resource: ${ARN} because no identity-based policy allows the bedrock:InvokeModel action`,
      403,
    );
    expect(classifyInvokeError(err)).toBe('denied-by-identity-policy');
  });

  it('does not count missing model access as a policy deny', () => {
    const err = awsError(
      'AccessDeniedException',
      "You don't have access to the model with the specified model ID.",
      403,
    );
    expect(classifyInvokeError(err)).toBe('model-access-missing');
  });

  it('treats other 403s as denied-other, not as the endpoint policy', () => {
    expect(
      classifyInvokeError(
        awsError('AccessDeniedException', 'explicit deny in a service control policy', 403),
      ),
    ).toBe('denied-other');
  });

  it('maps timeouts, resets and refused connections to network-unreachable', () => {
    expect(classifyInvokeError(awsError('TimeoutError', 'Connection timed out after 8000 ms'))).toBe(
      'network-unreachable',
    );
    expect(classifyInvokeError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      'network-unreachable',
    );
    expect(
      classifyInvokeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe('network-unreachable');
  });

  it('maps resolver failures to dns-failure', () => {
    expect(
      classifyInvokeError(
        Object.assign(new Error('getaddrinfo ENOTFOUND bedrock-runtime.us-east-1.amazonaws.com'), {
          code: 'ENOTFOUND',
        }),
      ),
    ).toBe('dns-failure');
  });

  it('maps throttling, not found and validation', () => {
    expect(classifyInvokeError(awsError('ThrottlingException', 'Too many requests', 429))).toBe('throttled');
    expect(classifyInvokeError(awsError('ResourceNotFoundException', 'no such model', 404))).toBe(
      'not-found',
    );
    expect(
      classifyInvokeError(awsError('ValidationException', 'The provided model identifier is invalid.', 400)),
    ).toBe('invalid-request');
    expect(classifyInvokeError(awsError('SomethingNew', 'eh', 400))).toBe('unknown-error');
  });
});

describe('control-plane error predicates', () => {
  it('retries throttling and server faults, not client errors', () => {
    expect(isTransient(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503))).toBe(true);
    expect(isTransient(awsError('Throttling', 'Rate exceeded', 400))).toBe(true);
    expect(isTransient(awsError('InternalError', 'oops', 500))).toBe(true);
    expect(isTransient(awsError('InvalidParameterValue', 'bad', 400))).toBe(false);
    expect(isTransient(awsError('DependencyViolation', 'has dependencies', 400))).toBe(false);
  });

  it('treats every service spelling of NotFound as not found', () => {
    for (const name of [
      'InvalidVpcID.NotFound',
      'InvalidGroup.NotFound',
      'NoSuchEntityException',
      'ResourceNotFoundException',
      'InvalidVpcEndpointId.NotFound',
    ]) {
      expect(isNotFound(awsError(name, 'gone'))).toBe(true);
    }
    expect(isNotFound(awsError('DependencyViolation', 'in use'))).toBe(false);
  });

  it('waits out eventual consistency only for resource ids, not for a rule that is simply absent', () => {
    expect(isNotYetVisible(awsError('InvalidVpcID.NotFound', 'x'))).toBe(true);
    expect(isNotYetVisible(awsError('InvalidGroup.NotFound', 'x'))).toBe(true);
    expect(isNotYetVisible(awsError('InvalidPermission.NotFound', 'x'))).toBe(false);
  });

  it('recognises dependency violations and in-use ENIs', () => {
    expect(isDependencyViolation(awsError('DependencyViolation', 'x'))).toBe(true);
    expect(isDependencyViolation(awsError('InvalidNetworkInterface.InUse', 'x'))).toBe(true);
    expect(isDependencyViolation(awsError('InvalidVpcID.NotFound', 'x'))).toBe(false);
  });
});
