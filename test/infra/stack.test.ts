/**
 * The synthesized template of the privatelink-verify stack, bundled for real with esbuild and
 * checked by cdk-nag: one synth (beforeAll) shared by every assertion.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { strFromU8, unzipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../infra/app.ts';
import { ASL_PATH, type PrivateLinkVerifyStack } from '../../infra/stack.ts';
import {
  BYSTANDER_NAME_PREFIX,
  POOL_TAG_KEYS,
  PROBE_NAME_PREFIX,
  PROBE_ROLE_PATH,
  TAG_KEYS,
} from '../../statemachine/contract.ts';
import { buildProbeCodeSync, REPO_ROOT } from '../../tasks/build.ts';
import { PROBE_FUNCTION, SWEEPER_FUNCTION, substitutionName, TASK_ENV, TASKS } from '../../tasks/manifest.ts';

const REPOSITORY = 'acme-corp/bedrock-perimeter';
const ENVIRONMENT = 'aws-verify';
const REGION = 'eu-west-1';

type Json = any;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: Json;
  Condition?: Record<string, Record<string, Json>>;
}
interface OwnedStatement {
  owner: string;
  statement: Statement;
  actions: string[];
  resources: Json[];
}

let stack: PrivateLinkVerifyStack;
let template: Template;
let json: Json;
let assemblyDir: string;
let synthError: unknown;

const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const logicalId = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);

/** Every identity and boundary statement in the template, with the resource that holds it. */
function allStatements(): OwnedStatement[] {
  const out: OwnedStatement[] = [];
  for (const [id, res] of Object.entries<Json>(json.Resources)) {
    const docs: Json[] = [];
    if (res.Type === 'AWS::IAM::Policy' || res.Type === 'AWS::IAM::ManagedPolicy')
      docs.push(res.Properties.PolicyDocument);
    if (res.Type === 'AWS::IAM::Role')
      for (const p of arr<Json>(res.Properties.Policies)) docs.push(p.PolicyDocument);
    for (const doc of docs) {
      for (const statement of arr<Statement>(doc.Statement)) {
        out.push({
          owner: id,
          statement,
          actions: arr(statement.Action),
          resources: arr(statement.Resource),
        });
      }
    }
  }
  return out;
}

/** Statements whose policy is attached to the given role (DefaultPolicy resources name their roles). */
function statementsOfRole(roleLogicalId: string): OwnedStatement[] {
  return allStatements().filter((s) => {
    const res = json.Resources[s.owner];
    return arr<Json>(res.Properties.Roles).some((r) => r.Ref === roleLogicalId);
  });
}

function withAction(action: string): OwnedStatement[] {
  return allStatements().filter((s) => s.actions.includes(action));
}

/** `arn:${Partition}:ec2:…:vpc/*` as the template writes it (Fn::Join) → the resource type. */
function ec2ResourceType(resource: Json): string | undefined {
  const arn = joined(resource);
  return arn.includes(':ec2:') ? /:([a-z-]+)\/\*$/.exec(arn)?.[1] : undefined;
}

/** The bundle directory of a function in the cloud assembly (its S3 key is the asset hash). */
function bundleDir(fnLogicalId: string): string {
  const key: string = json.Resources[fnLogicalId].Properties.Code.S3Key;
  return join(assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
}

function joined(resource: Json): string {
  if (typeof resource === 'string') return resource;
  if (resource?.['Fn::Join']) {
    return resource['Fn::Join'][1]
      .map((p: Json) => (typeof p === 'string' ? p : p.Ref ? `<${p.Ref}>` : `<${JSON.stringify(p)}>`))
      .join('');
  }
  return JSON.stringify(resource);
}

beforeAll(() => {
  const created = createApp({
    config: {
      repository: REPOSITORY,
      environments: [ENVIRONMENT],
      region: REGION,
      allowedModels: ['us.anthropic.claude-3-haiku-20240307-v1:0'],
    },
  });
  stack = created.stack;
  try {
    // cdk-nag runs as a validation plugin here: any unacknowledged finding makes synth throw.
    const assembly = created.app.synth();
    assemblyDir = assembly.directory;
    json = assembly.getStackByName(stack.stackName).template;
    template = Template.fromJSON(json);
  } catch (err) {
    synthError = err;
  }
}, 180_000);

describe('synth', () => {
  it('passes cdk-nag AwsSolutions with zero unacknowledged findings', () => {
    expect(synthError, String((synthError as Error | undefined)?.message)).toBeUndefined();
    const report = JSON.parse(readFileSync(join(assemblyDir, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((r: Json) => r.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('gives every cdk-nag acknowledgement a reason next to the resource', () => {
    const acks: Json[] = [];
    for (const c of stack.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type === 'aws:cdk:acknowledged-rules')
          acks.push(...Object.entries(entry.data as Record<string, string>));
      }
    }
    expect(acks.length).toBeGreaterThan(0);
    for (const [id, reason] of acks) expect(String(reason).length, id).toBeGreaterThan(30);
  });
});

describe('task functions', () => {
  const all = [...TASKS, SWEEPER_FUNCTION];

  it('creates one arm64 function on the newest Node.js runtime per manifest task and the sweeper, traced and logging to a retained group', () => {
    template.resourceCountIs('AWS::Lambda::Function', all.length);
    for (const task of all) {
      const fn = json.Resources[logicalId(stack.taskFunctions.functions[task.name]!)];
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: task.timeoutSeconds,
        MemorySize: task.memoryMb,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: logicalId(stack.taskFunctions.logGroups[task.name]!) } },
      });
      expect(fn.Properties.Environment.Variables[TASK_ENV.probePermissionsBoundaryArn]).toEqual({
        Ref: logicalId(stack.probeBoundary.policy),
      });
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('bundles each task locally into a minified ESM index.mjs with a source map', () => {
    for (const task of all) {
      const dir = bundleDir(logicalId(stack.taskFunctions.functions[task.name]!));
      expect(existsSync(join(dir, 'index.mjs')), task.name).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), task.name).toBe(true);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      // Minified: our own function names are mangled (zod's code templates keep their indentation,
      // so line shape proves nothing), and the AWS SDK and its @smithy packages are left to the runtime.
      expect(code, task.name).not.toMatch(
        /function (createLogger|parseRunState|parseInput|buildReport|teardownPass|waitUntil)\b/,
      );
      expect(code, task.name).toMatch(/export\s*\{[^}]*\bas handler\b|export\s*\{\s*\w+ as handler/);
      expect(code).not.toMatch(/node_modules\/@(aws-sdk|smithy)\//);
      expect(statSync(join(dir, 'index.mjs')).size).toBeGreaterThan(0);
    }
  });

  it('embeds the probe code in the CreateProbe bundle', () => {
    const code = readFileSync(
      join(bundleDir(logicalId(stack.taskFunctions.functions.CreateProbe!)), 'index.mjs'),
      'utf8',
    );
    const otherCode = readFileSync(
      join(bundleDir(logicalId(stack.taskFunctions.functions.WaitForProbe!)), 'index.mjs'),
      'utf8',
    );
    expect(existsSync(join(process.cwd(), PROBE_FUNCTION.entry))).toBe(true);
    // The probe's own bundle sits in CreateProbe as a string literal: its DNS lookup is there,
    // and nowhere in a task that does not embed it (booleans: a failure must not print 1 MB).
    expect(code.includes('node:dns/promises')).toBe(true);
    expect(otherCode.includes('node:dns/promises')).toBe(false);
    expect(code.length - otherCode.length).toBeGreaterThan(buildProbeCodeSync().length * 0.9);
    expect(/__PROBE_BUNDLE__\b(?!\s*=)/.test(code)).toBe(false);
  });
  it('ships a CreateProbe whose probe zip holds exactly the probe bundle', async () => {
    // Run the deployed CreateProbe code itself (next to node_modules, which provide the SDK like the runtime).
    const dir = join(REPO_ROOT, '.build', 'infra-test');
    mkdirSync(dir, { recursive: true });
    const copy = join(dir, `create-probe-${process.pid}.mjs`);
    copyFileSync(join(bundleDir(logicalId(stack.taskFunctions.functions.CreateProbe!)), 'index.mjs'), copy);
    const mod = await import(pathToFileURL(copy).href).finally(() => rmSync(copy, { force: true }));
    const files = unzipSync(mod.probeZip());
    expect(Object.keys(files)).toEqual(['index.mjs']);
    expect(strFromU8(files['index.mjs']!) === buildProbeCodeSync()).toBe(true);
  });
});

describe('state machine', () => {
  it('is a Standard workflow logging ALL (with execution data) to a retained log group, with X-Ray tracing', () => {
    const sm = json.Resources[logicalId(stack.stateMachine)];
    expect(sm.Properties.StateMachineType).toBe('STANDARD');
    expect(sm.Properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    const destination = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn;
    const groupId = destination['Fn::GetAtt'][0];
    expect(json.Resources[groupId].Properties.RetentionInDays).toBe(90);
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('is the ASL file with the manifest substitutions resolved to the task functions (no drift)', () => {
    const sm = json.Resources[logicalId(stack.stateMachine)];
    const subs: Record<string, Json> = sm.Properties.DefinitionSubstitutions;
    // What CloudFormation deploys: the template's DefinitionString with its substitutions applied.
    const deployed = (sm.Properties.DefinitionString as string).replace(
      /\$\{([A-Za-z0-9_]+)\}/g,
      (_m, name: string) => {
        const value = subs[name];
        expect(value, `no substitution for \${${name}}`).toBeDefined();
        expect(value['Fn::GetAtt'][1]).toBe('Arn');
        return `arn-of:${value['Fn::GetAtt'][0]}`;
      },
    );
    // What the repository says: the ASL file with each task's variable → that task's function.
    const expected = readFileSync(ASL_PATH, 'utf8').replace(/\$\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
      const task = TASKS.find((t) => substitutionName(t) === name);
      expect(task, `ASL names \${${name}} but the manifest has no such task`).toBeDefined();
      return `arn-of:${logicalId(stack.taskFunctions.functions[task!.name]!)}`;
    });
    expect(JSON.parse(deployed)).toEqual(JSON.parse(expected));
    expect(Object.keys(subs).sort()).toEqual(TASKS.map(substitutionName).sort());
  });

  it('keeps the ASL execution timeout', () => {
    const sm = json.Resources[logicalId(stack.stateMachine)];
    const asl = JSON.parse(readFileSync(ASL_PATH, 'utf8'));
    expect(asl.TimeoutSeconds).toBeGreaterThan(0);
    expect(JSON.parse(sm.Properties.DefinitionString).TimeoutSeconds).toBe(asl.TimeoutSeconds);
  });

  it('may invoke exactly the task functions, by unqualified ARN', () => {
    const invoke = withAction('lambda:InvokeFunction').filter((s) => s.owner.startsWith('VerifyRole'));
    expect(invoke).toHaveLength(1);
    expect(invoke[0]!.resources).toEqual(
      TASKS.map((t) => ({ 'Fn::GetAtt': [logicalId(stack.taskFunctions.functions[t.name]!), 'Arn'] })),
    );
  });
});

describe('safety nets', () => {
  it('starts the safety-net state machine with the status-change event for executions that end ABORTED, TIMED_OUT or FAILED', () => {
    const rule = json.Resources[logicalId(stack.cleanupRule)];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
        stateMachineArn: [{ Ref: logicalId(stack.stateMachine) }],
      },
    });
    expect(rule.Properties.Targets).toHaveLength(1);
    expect(rule.Properties.Targets[0]).toMatchObject({
      Arn: { Ref: logicalId(stack.safetyNet) },
      RetryPolicy: { MaximumRetryAttempts: 8 },
    });
    // The whole event is the safety net's input: Cleanup reads detail.input and detail.stopDate.
    expect(rule.Properties.Targets[0].Input).toBeUndefined();
  });

  it('the safety net invokes only Cleanup, retries its timeouts and crashes, and loops while pending', () => {
    const sm = json.Resources[logicalId(stack.safetyNet)];
    const definition = JSON.stringify(
      sm.Properties.DefinitionString ?? sm.Properties.DefinitionSubstitutions,
    );
    expect(definition).toContain('Sandbox.Timedout');
    expect(sm.Properties.DefinitionSubstitutions).toEqual({
      CleanupFunctionArn: { 'Fn::GetAtt': [logicalId(stack.taskFunctions.functions.Cleanup!), 'Arn'] },
    });
  });

  it('runs the sweeper every hour', () => {
    const rule = json.Resources[logicalId(stack.sweepSchedule)];
    expect(rule.Properties.ScheduleExpression).toBe('rate(1 hour)');
    expect(rule.Properties.Targets[0].Arn).toEqual({
      'Fn::GetAtt': [logicalId(stack.taskFunctions.functions[SWEEPER_FUNCTION.name]!), 'Arn'],
    });
  });

  it("tells the sweeper the state machine, and lets the sweeper's role only describe that machine's executions", () => {
    const rule = json.Resources[logicalId(stack.sweepSchedule)];
    // The input is a JSON string with the machine's ARN resolved in (Fn::Join over its Ref).
    expect(JSON.stringify(rule.Properties.Targets[0].Input)).toContain(logicalId(stack.stateMachine));
    expect(JSON.stringify(rule.Properties.Targets[0].Input)).toContain('stateMachineArn');
    const sweeperRole = { Ref: logicalId(stack.taskRoles.roles[SWEEPER_FUNCTION.permissions]) };
    const describing = Object.values(
      json.Resources as Record<string, { Type: string; Properties: any }>,
    ).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties.Roles) === JSON.stringify([sweeperRole]) &&
        JSON.stringify(r.Properties).includes('states:'),
    );
    expect(describing).toHaveLength(1);
    const statements = describing[0]!.Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('states:DescribeExecution');
    expect(JSON.stringify(statements[0].Resource)).toContain(':execution:');
    expect(JSON.stringify(statements[0].Resource)).toContain(logicalId(stack.stateMachine));
  });
});

describe('least privilege: EC2', () => {
  const createdTypes: Record<string, string[]> = {
    'ec2:CreateVpc': ['vpc'],
    'ec2:CreateSubnet': ['subnet'],
    'ec2:CreateSecurityGroup': ['security-group'],
    'ec2:CreateVpcEndpoint': ['vpc-endpoint'],
  };

  it('lets a create make a resource only with every run tag and no foreign tag keys', () => {
    for (const [action, types] of Object.entries(createdTypes)) {
      const onNew = withAction(action).filter((s) =>
        s.resources.some((r) => types.includes(ec2ResourceType(r)!)),
      );
      expect(onNew.length, action).toBeGreaterThan(0);
      for (const { statement, resources, actions } of onNew) {
        // New resources and existing ones never share a statement: RequestTag applies to the new one only.
        const newTypes = actions.flatMap((a) => createdTypes[a] ?? []);
        expect(
          resources.map(ec2ResourceType).every((t) => newTypes.includes(t!)),
          action,
        ).toBe(true);
        for (const key of Object.values(TAG_KEYS)) {
          expect(statement.Condition?.Null?.[`aws:RequestTag/${key}`], `${action} ${key}`).toBe('false');
        }
        expect(statement.Condition?.['ForAllValues:StringEquals']?.['aws:TagKeys']).toEqual(
          expect.arrayContaining(Object.values(TAG_KEYS)),
        );
      }
    }
  });

  it('lets a create use an existing VPC, subnet or security group only if it carries the run tag or is a pooled network', () => {
    const runTagged = { Null: { [`ec2:ResourceTag/${TAG_KEYS.runId}`]: 'false' } };
    const pooled = { Null: { [`ec2:ResourceTag/${POOL_TAG_KEYS.pool}`]: 'false' } };
    for (const action of ['ec2:CreateSubnet', 'ec2:CreateSecurityGroup', 'ec2:CreateVpcEndpoint']) {
      const onParents = withAction(action).filter(
        (s) => !s.resources.some((r) => createdTypes[action]!.includes(ec2ResourceType(r)!)),
      );
      expect(onParents.length, action).toBeGreaterThan(0);
      for (const { statement } of onParents)
        expect([runTagged, pooled], action).toContainEqual(statement.Condition);
    }
    // In a pooled network a run may create its endpoint and its lease group, never a subnet.
    const inPool = (action: string) =>
      withAction(action).filter((s) => JSON.stringify(s.statement.Condition) === JSON.stringify(pooled));
    expect(inPool('ec2:CreateVpcEndpoint').length).toBeGreaterThan(0);
    expect(inPool('ec2:CreateSecurityGroup').length).toBeGreaterThan(0);
    expect(inPool('ec2:CreateSubnet')).toEqual([]);
  });

  it('allows ec2:CreateTags only as part of the create actions', () => {
    const tagging = withAction('ec2:CreateTags');
    expect(tagging.length).toBeGreaterThan(0);
    for (const { statement, actions } of tagging) {
      expect(actions).toEqual(['ec2:CreateTags']);
      expect(statement.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': expect.any(Array) } });
      for (const a of statement.Condition!.StringEquals!['ec2:CreateAction']) {
        expect(['CreateVpc', 'CreateSubnet', 'CreateSecurityGroup', 'CreateVpcEndpoint']).toContain(a);
      }
    }
  });

  it('allows modify and delete actions only on resources carrying the run tag', () => {
    const mutating = /^ec2:(Modify|Delete|Authorize|Revoke)/;
    const statements = allStatements().filter((s) => s.actions.some((a) => mutating.test(a)));
    const seen = new Set(statements.flatMap((s) => s.actions));
    for (const a of [
      'ec2:ModifyVpcAttribute',
      'ec2:ModifyVpcEndpoint',
      'ec2:AuthorizeSecurityGroupIngress',
      'ec2:AuthorizeSecurityGroupEgress',
      'ec2:RevokeSecurityGroupEgress',
      'ec2:RevokeSecurityGroupIngress',
      'ec2:DeleteVpcEndpoints',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteSubnet',
      'ec2:DeleteVpc',
    ]) {
      expect(seen.has(a), a).toBe(true);
    }
    for (const { statement, actions } of statements) {
      // The boundary's ENI actions are a ceiling for Lambda in the probe VPC, not a task permission.
      if (statement.Sid === 'LambdaVpcEnis') continue;
      // The one exception: Lambda's own ENIs carry no tags of ours (see DeleteDetachedLambdaEnis).
      if (actions.includes('ec2:DeleteNetworkInterface')) {
        expect(statement.Sid).toBe('DeleteDetachedLambdaEnis');
        expect(actions).toEqual(['ec2:DeleteNetworkInterface']);
        continue;
      }
      expect(statement.Condition, actions.join(',')).toEqual({
        Null: { [`ec2:ResourceTag/${TAG_KEYS.runId}`]: 'false' },
      });
    }
  });

  it('creates the endpoint only for the regional bedrock-runtime service', () => {
    const create = withAction('ec2:CreateVpcEndpoint').find((s) =>
      s.resources.some((r) => ec2ResourceType(r) === 'vpc-endpoint'),
    );
    expect(create!.statement.Condition!.StringEquals).toEqual({
      'ec2:VpceServiceName': `com.amazonaws.${REGION}.bedrock-runtime`,
    });
  });
});

describe('least privilege: IAM and Lambda', () => {
  const probeRole = `:role${PROBE_ROLE_PATH}${PROBE_NAME_PREFIX}*`;
  /** Obligation 3's bystander roles: the same path (and boundary), a prefix of their own. */
  const bystanderRole = `:role${PROBE_ROLE_PATH}${BYSTANDER_NAME_PREFIX}*`;
  const probeFunction = `:function:${PROBE_NAME_PREFIX}*`;

  it('passes only probe roles, and only to Lambda', () => {
    const pass = withAction('iam:PassRole');
    expect(pass).toHaveLength(1);
    expect(pass[0]!.actions).toEqual(['iam:PassRole']);
    expect(pass[0]!.resources.map(joined)).toEqual([
      expect.stringMatching(new RegExp(`${escapeRegExp(probeRole)}$`)),
    ]);
    expect(pass[0]!.statement.Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' },
    });
  });

  it('creates probe roles only under the dedicated path, with the permissions boundary and the run tags', () => {
    const create = withAction('iam:CreateRole');
    expect(create).toHaveLength(1);
    expect(create[0]!.resources.map(joined)).toEqual([
      expect.stringMatching(new RegExp(`${escapeRegExp(probeRole)}$`)),
      expect.stringMatching(new RegExp(`${escapeRegExp(bystanderRole)}$`)),
    ]);
    expect(create[0]!.statement.Condition!.StringEquals).toEqual({
      'iam:PermissionsBoundary': { Ref: logicalId(stack.probeBoundary.policy) },
    });
    expect(create[0]!.statement.Condition!.Null).toMatchObject({
      [`aws:RequestTag/${TAG_KEYS.runId}`]: 'false',
    });
  });

  it('attaches only AWSLambdaVPCAccessExecutionRole, to bounded probe roles', () => {
    const attach = withAction('iam:AttachRolePolicy');
    expect(attach).toHaveLength(1);
    expect(joined(attach[0]!.statement.Condition!.ArnEquals!['iam:PolicyARN'])).toMatch(
      /:iam::aws:policy\/service-role\/AWSLambdaVPCAccessExecutionRole$/,
    );
    expect(attach[0]!.statement.Condition!.StringEquals).toEqual({
      'iam:PermissionsBoundary': { Ref: logicalId(stack.probeBoundary.policy) },
    });
  });

  it('scopes every IAM action to the probe role path', () => {
    const iamStatements = allStatements().filter((x) => x.actions.some((a) => a.startsWith('iam:')));
    // The sweeper finds probe roles with ListRoles(PathPrefix): an action with no resource type.
    const listRoles = iamStatements.filter((x) => x.actions.includes('iam:ListRoles'));
    expect(listRoles.map((x) => [x.actions, x.resources])).toEqual([[['iam:ListRoles'], ['*']]]);
    // A probe role that does not exist is authorized on its path-less ARN (IAM cannot know the
    // path): read-only lookups may name it too, so they get NoSuchEntity, never anything more.
    const absent = [`:role/${PROBE_NAME_PREFIX}*`, `:role/${BYSTANDER_NAME_PREFIX}*`];
    for (const s of iamStatements.filter((x) => !x.actions.includes('iam:ListRoles'))) {
      for (const r of s.resources) {
        if (absent.some((a) => joined(r).endsWith(a))) {
          expect(
            s.actions.every((a) => /^iam:(Get|List)/.test(a)),
            s.actions.join(','),
          ).toBe(true);
          continue;
        }
        expect(joined(r), s.actions.join(',')).toMatch(
          new RegExp(`(${escapeRegExp(probeRole)}|${escapeRegExp(bystanderRole)})$`),
        );
      }
    }
  });

  it('creates the probe function only inside a VPC and scopes Lambda actions to probe functions', () => {
    const create = withAction('lambda:CreateFunction');
    expect(create).toHaveLength(1);
    expect(create[0]!.statement.Condition!.Null).toEqual({
      'lambda:VpcIds': 'false',
      'lambda:SubnetIds': 'false',
      'lambda:SecurityGroupIds': 'false',
      ...Object.fromEntries(Object.values(TAG_KEYS).map((k) => [`aws:RequestTag/${k}`, 'false'])),
    });
    const taskLambda = allStatements().filter(
      (s) =>
        s.actions.some((a) => a.startsWith('lambda:')) &&
        !s.owner.startsWith('VerifyRole') &&
        // The safety net's role invokes Cleanup only (asserted in 'safety nets').
        !s.owner.startsWith('SafetyNetRole'),
    );
    for (const s of taskLambda) {
      for (const r of s.resources)
        expect(joined(r), s.actions.join(',')).toMatch(new RegExp(`${escapeRegExp(probeFunction)}$`));
    }
  });

  it('lets only the endpoint role associate the private DNS zone, and nothing else in Route 53', () => {
    const route53 = allStatements().filter((s) => s.actions.some((a) => a.startsWith('route53:')));
    expect(route53.map((s) => [s.actions, s.resources.map(joined)])).toEqual([
      [['route53:AssociateVPCWithHostedZone'], ['arn:<AWS::Partition>:route53:::hostedzone/*']],
    ]);
    expect(
      statementsOfRole(logicalId(stack.taskRoles.roles.endpoint)).some(
        (s) => s.statement.Sid === 'AssociatePrivateDnsZone',
      ),
    ).toBe(true);
  });

  it('bounds probe roles to the allowed models, their VPC ENIs and their own logs', () => {
    const boundary = json.Resources[logicalId(stack.probeBoundary.policy)];
    const statements: Statement[] = boundary.Properties.PolicyDocument.Statement;
    const bedrock = statements.find((s) => arr(s.Action).includes('bedrock:InvokeModel'))!;
    expect(arr(bedrock.Action).sort()).toEqual([
      'bedrock:InvokeModel',
      'bedrock:InvokeModelWithResponseStream',
    ]);
    const arns = arr(bedrock.Resource).map(joined);
    expect(arns).toEqual([
      expect.stringMatching(
        /:bedrock:eu-west-1:<AWS::AccountId>:inference-profile\/us\.anthropic\.claude-3-haiku-20240307-v1:0$/,
      ),
      expect.stringMatching(/:bedrock:\*::foundation-model\/anthropic\.claude-3-haiku-20240307-v1:0$/),
    ]);
    const logsStatement = statements.find((s) => arr(s.Action).includes('logs:PutLogEvents'))!;
    for (const r of arr(logsStatement.Resource))
      expect(joined(r)).toContain(`log-group:/aws/lambda/${PROBE_NAME_PREFIX}*`);
  });

  it('gives each permission set its own role, and the "none" set nothing beyond logs and traces', () => {
    const roleIds = Object.values(stack.taskRoles.roles).map((r) => logicalId(r));
    expect(new Set(roleIds).size).toBe(7);
    const none = statementsOfRole(logicalId(stack.taskRoles.roles.none));
    for (const s of none)
      for (const a of s.actions) expect(a).toMatch(/^(logs:CreateLogStream|logs:PutLogEvents|xray:)/);
    const verify = statementsOfRole(logicalId(stack.taskRoles.roles.verify)).flatMap((s) => s.actions);
    // Invoking the probe, and the read-backs of the proof obligations (endpoint, routes, probe role).
    expect(verify.filter((a) => !/^(logs|xray):/.test(a)).sort()).toEqual([
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeRouteTables',
      'ec2:DescribeVpcEndpoints',
      'iam:GetRole',
      'iam:GetRolePolicy',
      'iam:ListAttachedRolePolicies',
      'iam:ListRolePolicies',
      'lambda:InvokeFunction',
      'sts:AssumeRole',
      'sts:AssumeRole',
    ]);
    const iamReads = statementsOfRole(logicalId(stack.taskRoles.roles.verify)).filter((s) =>
      s.actions.some((a) => a.startsWith('iam:') || a.startsWith('sts:')),
    );
    // Only the probe roles and the bystanders, by path and prefix; only AssumeRole reaches a bystander.
    for (const s of iamReads)
      expect(JSON.stringify(s.resources)).toMatch(/role\/privatelink-verify\/plv-(probe|by)-\*/);
    const bystander = iamReads.filter((s) => JSON.stringify(s.resources).includes(BYSTANDER_NAME_PREFIX));
    expect(bystander.map((s) => s.actions)).toEqual([['sts:AssumeRole']]);
  });
});

describe('no wildcards beyond what AWS requires', () => {
  /** Actions AWS authorizes against no resource type: "*" is the only resource they accept. */
  const STAR_ONLY_ACTIONS: Record<string, string> = {
    'ec2:DescribeVpcEndpointServices': 'EC2 Describe* calls have no resource-level permissions',
    'ec2:DescribeAvailabilityZones': 'EC2 Describe*',
    'ec2:DescribeVpcEndpoints': 'EC2 Describe*',
    'ec2:DescribeVpcs': 'EC2 Describe*',
    'ec2:DescribeSubnets': 'EC2 Describe*',
    'ec2:DescribeSecurityGroups': 'EC2 Describe*',
    'ec2:DescribeNetworkInterfaces': 'EC2 Describe*',
    'ec2:DescribeRouteTables': 'EC2 Describe*',
    'sts:GetCallerIdentity': 'no resource type',
    'access-analyzer:ValidatePolicy':
      'no resource type (Service Authorization Reference, IAM Access Analyzer)',
    'iam:ListRoles': 'no resource type (the sweeper passes PathPrefix /privatelink-verify/)',
    'xray:PutTraceSegments': 'X-Ray has no resource-level permissions for trace upload',
    'xray:PutTelemetryRecords': 'X-Ray',
    'xray:GetSamplingRules': 'X-Ray',
    'xray:GetSamplingTargets': 'X-Ray',
    'logs:CreateLogDelivery': 'Step Functions log delivery (vended logs) APIs have no resource type',
    'logs:GetLogDelivery': 'vended logs',
    'logs:UpdateLogDelivery': 'vended logs',
    'logs:DeleteLogDelivery': 'vended logs',
    'logs:ListLogDeliveries': 'vended logs',
    'logs:PutResourcePolicy': 'vended logs: the account-level Logs resource policy',
    'logs:DescribeResourcePolicies': 'vended logs',
    'logs:DescribeLogGroups': 'vended logs',
  };

  it('grants no action with a wildcard', () => {
    for (const s of allStatements()) for (const a of s.actions) expect(a, s.owner).not.toContain('*');
    for (const s of allStatements()) expect(s.statement.Effect).toBe('Allow');
  });

  it('uses Resource "*" only for actions that support nothing narrower', () => {
    const starActions = new Set<string>();
    for (const s of allStatements()) {
      if (!s.resources.includes('*')) continue;
      expect(s.resources, s.owner).toEqual(['*']);
      for (const a of s.actions) {
        expect(Object.keys(STAR_ONLY_ACTIONS), `${a} in ${s.owner}`).toContain(a);
        starActions.add(a);
      }
    }
    expect(starActions.size).toBeGreaterThan(0);
  });

  it('uses NotAction / NotResource nowhere', () => {
    expect(JSON.stringify(json)).not.toMatch(/"Not(Action|Resource|Principal)"/);
  });
});

describe('GitHub access', () => {
  it('creates the GitHub OIDC provider for sts.amazonaws.com', () => {
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  it('trusts only StringEquals on aud and the exact sub values built from the props', () => {
    const role = json.Resources[logicalId(stack.github!.role)];
    const trust = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toHaveLength(1);
    expect(trust[0]).toEqual({
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: { Ref: logicalId(stack.github!.provider as never) } },
      Condition: {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': [
            `repo:${REPOSITORY}:ref:refs/heads/main`,
            `repo:${REPOSITORY}:environment:${ENVIRONMENT}`,
            `repo:${REPOSITORY}:pull_request`,
          ],
        },
      },
    });
    expect(JSON.stringify(trust)).not.toMatch(/ForAllValues|ForAnyValue|StringLike|\*/);
  });

  it('may only start and read executions of this state machine, and validate policy text', () => {
    const statements = statementsOfRole(logicalId(stack.github!.role));
    const smId = logicalId(stack.stateMachine);
    expect(statements.map((s) => [s.actions, s.resources.map(joined)])).toEqual([
      [['states:StartExecution', 'states:ListExecutions'], [`{"Ref":"${smId}"}`]],
      [
        ['states:DescribeExecution', 'states:GetExecutionHistory'],
        [
          expect.stringMatching(
            new RegExp(
              `:states:${REGION}:<AWS::AccountId>:execution:<\\{"Fn::GetAtt":\\["${smId}","Name"\\]\\}>:\\*$`,
            ),
          ),
        ],
      ],
      // ValidatePolicy reads no resource: it checks the policy text a pull request's spec renders.
      [['access-analyzer:ValidatePolicy'], ['*']],
    ]);
  });

  it('outputs the state machine ARN, the GitHub role ARN and the region', () => {
    template.hasOutput('StateMachineArn', { Value: { Ref: logicalId(stack.stateMachine) } });
    template.hasOutput('GitHubRoleArn', { Value: { 'Fn::GetAtt': [logicalId(stack.github!.role), 'Arn'] } });
    template.hasOutput('Region', { Value: REGION });
    expect(Match).toBeDefined();
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
