/**
 * Step Functions' request context (Service Authorization Reference, AWS Step Functions):
 * state machine actions on the state machine ARN, execution actions on the execution ARN;
 * CreateStateMachine/UpdateStateMachine pass the role (`iam:PassRole`, `iam:PassedToService` =
 * states.amazonaws.com).
 */
import type { Check, RequestView } from './authorize.ts';

export function statesChecks(operation: string, input: Record<string, any>, view: RequestView): Check[] {
  const action = `states:${operation}`;
  const prefix = `arn:aws:states:${view.call.region}:${view.ctx.accountId}`;
  const arns: Record<string, string[]> = {};
  if (typeof input.stateMachineArn === 'string') arns.statemachine = [input.stateMachineArn];
  if (typeof input.executionArn === 'string') arns.execution = [input.executionArn];
  if (typeof input.resourceArn === 'string')
    arns[input.resourceArn.includes(':execution:') ? 'execution' : 'statemachine'] = [input.resourceArn];
  if (operation === 'CreateStateMachine' && typeof input.name === 'string')
    arns.statemachine = [`${prefix}:stateMachine:${input.name}`];
  if (operation === 'StartExecution' && typeof input.stateMachineArn === 'string') {
    // StartExecution is authorized on the state machine.
    arns.statemachine = [input.stateMachineArn];
  }
  const checks: Check[] = [{ action, arns }];
  if ((operation === 'CreateStateMachine' || operation === 'UpdateStateMachine') && input.roleArn)
    checks.push({
      action: 'iam:PassRole',
      arns: { role: [String(input.roleArn)] },
      context: { 'iam:PassedToService': 'states.amazonaws.com' },
    });
  return checks;
}
