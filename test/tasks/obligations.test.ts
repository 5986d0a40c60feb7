/**
 * The proof obligations without AWS: each comparison on the world where its claim is false, and
 * the rules that fold observations into rows and rows into a verdict.
 */

import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../perimeter/load.ts';
import { perimeterInput } from '../../perimeter/resolve.ts';
import {
  ExecutionInputSchema,
  type MatrixCell,
  OBLIGATION_ORDER,
  type Observation,
  type RunState,
} from '../../statemachine/contract.ts';
import { decideVerdict, matrixOf, obligationsOf } from '../../tasks/build-report.ts';
import { planCells, unobservedCell } from '../../tasks/lib/matrix-cells.ts';
import {
  noEgressRoutes,
  policyReadback,
  roleAsWritten,
  roleFindings,
  throughTheseEnis,
} from '../../tasks/lib/observations.ts';
import {
  allowProbeEndpointPolicy,
  IDENTITY_POLICY_NAME,
  identityPolicy,
  LAMBDA_VPC_MANAGED_POLICY,
} from '../../tasks/lib/policies.ts';
import { arnMatches, comparePolicies } from '../../tasks/lib/policy-compare.ts';
import type { EndpointReading } from '../../tasks/lib/readback.ts';

const ROLE = 'arn:aws:iam::123456789012:role/privatelink-verify/plv-probe-x';
const MODEL_ARN = 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';

describe('comparing the policy read back with the policy written', () => {
  const written = allowProbeEndpointPolicy(ROLE, [MODEL_ARN]);

  it('ignores what IAM ignores: statement order, value order, one value versus a list, Sids', () => {
    const doc = JSON.parse(written);
    const reordered = {
      Version: '2012-10-17',
      Statement: [
        {
          Resource: MODEL_ARN,
          Action: [...doc.Statement[0].Action].reverse(),
          Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE } },
          Principal: '*',
          Effect: 'Allow',
        },
      ],
    };
    expect(comparePolicies(JSON.stringify(reordered), written)).toEqual({ same: true, differences: [] });
  });

  it('names an appended statement, a changed resource and a missing policy', () => {
    const doc = JSON.parse(written);
    doc.Statement.push({ Effect: 'Allow', Principal: '*', Action: 'bedrock:*', Resource: '*' });
    const appended = comparePolicies(JSON.stringify(doc), written);
    expect(appended.same).toBe(false);
    expect(appended.differences).toEqual([
      expect.stringMatching(/^in force but not written: .*"bedrock:\*"/),
    ]);

    const other = allowProbeEndpointPolicy(ROLE, [MODEL_ARN.replace('haiku', 'sonnet')]);
    const changed = comparePolicies(other, written);
    expect(changed.differences).toHaveLength(2);
    expect(comparePolicies(undefined, written).same).toBe(false);
    expect(comparePolicies('{not json', written).differences).toEqual([
      'the policy in force is not valid JSON',
    ]);
  });

  it('matches the wildcard ARNs a profile policy names against the concrete ARN a refusal names', () => {
    expect(
      arnMatches(
        'arn:aws:bedrock:*::foundation-model/anthropic.x',
        'arn:aws:bedrock:us-west-2::foundation-model/anthropic.x',
      ),
    ).toBe(true);
    expect(
      arnMatches(
        'arn:aws:bedrock:*::foundation-model/anthropic.x',
        'arn:aws:bedrock:us-west-2::foundation-model/anthropic.y',
      ),
    ).toBe(false);
  });

  it('a read-back that differs fails the row, naming the moment', () => {
    const reading: EndpointReading = {
      vpcEndpointId: 'vpce-1',
      state: 'available',
      policyDocument: '{"Statement":[]}',
      enis: [],
      dnsNames: [],
    };
    const o = policyReadback('after the flip', reading, written);
    expect(o.result).toBe('failed');
    expect(o.observed).toMatch(/^after the flip: the policy of vpce-1 is not the one the run wrote/);
  });
});

describe("the call went to this run's endpoint ENIs", () => {
  const reading: EndpointReading = {
    vpcEndpointId: 'vpce-1',
    state: 'available',
    enis: [
      {
        networkInterfaceId: 'eni-a',
        availabilityZone: 'us-east-1a',
        subnetId: 'subnet-a',
        privateIp: '100.64.0.10',
      },
      {
        networkInterfaceId: 'eni-b',
        availabilityZone: 'us-east-1b',
        subnetId: 'subnet-b',
        privateIp: '100.64.1.10',
      },
    ],
    dnsNames: ['vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com'],
  };
  const probe = (addresses: string[]) => ({
    outcome: 'allowed' as const,
    hostname: 'bedrock-runtime.us-east-1.amazonaws.com',
    resolvedAddresses: addresses,
    resolvedPrivate: false,
    modelId: 'm',
    latencyMs: 1,
    at: '2026-12-02T00:00:00Z',
  });

  it('passes in a 100.64.0.0/10 VPC when the addresses are the ENIs (not RFC 1918, still right)', () => {
    expect(throughTheseEnis('allowed call', probe(['100.64.0.10', '100.64.1.10']), reading).result).toBe(
      'passed',
    );
  });

  it("fails for a private address that is another endpoint's, and for no address at all", () => {
    const other = throughTheseEnis('allowed call', probe(['10.0.0.5']), reading);
    expect(other.result).toBe('failed');
    expect(other.observed).toMatch(/10\.0\.0\.5, which is not an address of vpce-1/);
    expect(throughTheseEnis('allowed call', probe([]), reading).result).toBe('failed');
    expect(throughTheseEnis('allowed call', probe(['100.64.0.10']), { ...reading, enis: [] }).result).toBe(
      'failed',
    );
  });
});

describe('routes and the probe role', () => {
  it('any route to a gateway fails; no route table at all is could-not-verify, not a pass', () => {
    expect(noEgressRoutes('vpc-1', ['rtb-1'], []).result).toBe('passed');
    const igw = noEgressRoutes(
      'vpc-1',
      ['rtb-1'],
      [{ routeTableId: 'rtb-1', destination: '0.0.0.0/0', target: 'igw-1' }],
    );
    expect(igw.result).toBe('failed');
    expect(noEgressRoutes('vpc-1', [], []).result).toBe('could-not-verify');
  });

  describe('the probe role as written, weighed against the outside call (obligation 5)', () => {
    const written = {
      identityPolicy: identityPolicy('vpce-1', [MODEL_ARN]),
      boundaryArn: 'arn:aws:iam::1:policy/b',
    };
    const exact = {
      roleArn: ROLE,
      permissionsBoundaryArn: 'arn:aws:iam::1:policy/b',
      inline: [{ name: IDENTITY_POLICY_NAME, document: written.identityPolicy }],
      attached: [LAMBDA_VPC_MANAGED_POLICY],
    };
    const outside = (result: Observation['result']): Observation => ({
      obligation: 'no-other-way-out',
      result,
      observed: 'outside call',
      evidence: [],
    });
    const weigh = (reading: typeof exact | Omit<typeof exact, 'permissionsBoundaryArn'>, o?: Observation) =>
      roleAsWritten(roleFindings('r', reading, written), written, o);
    const deciding = (obs: Observation[], id: Observation['obligation']) =>
      obs.filter((x) => x.obligation === id && !x.warning).map((x) => x.result);
    const extraManaged = { ...exact, attached: [...exact.attached, 'arn:aws:iam::aws:policy/Admin'] };
    const extraInline = { ...exact, inline: [...exact.inline, { name: 'x', document: '{}' }] };

    it('the role exactly as written passes, with no warning', () => {
      const obs = weigh(exact, outside('passed'));
      expect(obs.map((o) => [o.obligation, o.result, o.warning ?? false])).toEqual([
        ['probe-role-as-written', 'passed', false],
      ]);
    });

    it('an extra policy with the outside call refused anyway is a warning naming it, not a failure', () => {
      for (const [reading, name] of [
        [extraManaged, /managed policy arn:aws:iam::aws:policy\/Admin was not attached by the run/],
        [extraInline, /inline policy x was not written by the run/],
      ] as const) {
        const obs = weigh(reading, outside('passed'));
        expect(deciding(obs, 'probe-role-as-written')).toEqual(['passed']);
        expect(deciding(obs, 'no-other-way-out')).toEqual([]);
        const warnings = obs.filter((o) => o.warning);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]!.observed).toMatch(name);
        expect(warnings[0]!.observed).toMatch(/refused from outside the VPC anyway/);
      }
    });

    it('an extra policy fails obligations 2 and 5 when the outside call was not refused, not observed or not made', () => {
      for (const o of [outside('failed'), outside('could-not-verify'), undefined]) {
        const obs = weigh(extraManaged, o);
        expect(deciding(obs, 'probe-role-as-written')).toEqual(['failed']);
        expect(deciding(obs, 'no-other-way-out')).toEqual(['failed']);
        expect(obs.find((x) => x.obligation === 'no-other-way-out')!.observed).toMatch(
          /carries what the run did not attach \(managed policy arn:aws:iam::aws:policy\/Admin was not attached by the run\)/,
        );
        expect(obs.some((x) => x.warning)).toBe(false);
      }
    });

    it("the run's own grants changed or missing fail obligation 5 even with the outside call refused", () => {
      const loosened = identityPolicy('vpce-OTHER', [MODEL_ARN]);
      const changed = { ...exact, inline: [{ name: IDENTITY_POLICY_NAME, document: loosened }] };
      expect(deciding(weigh(changed, outside('passed')), 'probe-role-as-written')).toEqual(['failed']);
      const { permissionsBoundaryArn: _b, ...unbounded } = exact;
      const obs = weigh(unbounded, outside('passed'));
      expect(deciding(obs, 'probe-role-as-written')).toEqual(['failed']);
      expect(obs[0]!.observed).toMatch(/permissions boundary is none/);
      const noVpcPolicy = { ...exact, attached: [] };
      expect(deciding(weigh(noVpcPolicy, outside('passed')), 'probe-role-as-written')).toEqual(['failed']);
    });

    it('folded into the report, a warning shows on a passed row and does not change the verdict', () => {
      const obs = weigh(extraManaged, outside('passed'));
      const row = obligationsOf({
        input: ExecutionInputSchema.parse({
          runId: 'r',
          region: 'us-east-1',
          modelId: 'amazon.titan-text-express-v1',
        }),
        allow: {
          name: 'allow',
          status: 'passed',
          expected: 'allowed',
          reason: '',
          attempts: 1,
          elapsedSeconds: 1,
          outcomesSeen: [],
          observations: obs,
        },
      } as RunState).find((r) => r.id === 'probe-role-as-written')!;
      expect(row.result).toBe('passed');
      expect(row.warnings.join(' ')).toMatch(/arn:aws:iam::aws:policy\/Admin/);
    });
  });
});

describe('folding observations into rows and rows into a verdict', () => {
  const input = ExecutionInputSchema.parse({
    runId: 'r',
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
  });
  const check = (name: 'allow' | 'deny', observations: Observation[]) => ({
    name,
    status: 'passed' as const,
    expected: 'allowed' as const,
    reason: '',
    attempts: 1,
    elapsedSeconds: 1,
    outcomesSeen: [],
    observations,
  });
  const all = (result: Observation['result']): Observation[] =>
    OBLIGATION_ORDER.map((obligation) => ({
      obligation,
      result,
      observed: `${obligation} ${result}`,
      evidence: [],
    }));

  it('passes only when every row passed', () => {
    const s = { input, allow: check('allow', all('passed')), deny: check('deny', []) } as unknown as RunState;
    expect(decideVerdict(s).verdict).toBe('pass');
  });

  it('a row with no observation is could-not-verify, and makes the verdict error, not fail', () => {
    const obs = all('passed').filter((o) => o.obligation !== 'own-deny-refuses-stably');
    const s = { input, allow: check('allow', obs) } as unknown as RunState;
    const rows = obligationsOf(s);
    expect(rows.find((o) => o.id === 'own-deny-refuses-stably')?.result).toBe('could-not-verify');
    expect(decideVerdict(s).verdict).toBe('error');
  });

  it('one failed observation fails its row even beside passed and unobserved ones; fail beats error', () => {
    const obs: Observation[] = [
      ...all('passed'),
      {
        obligation: 'no-other-way-out',
        result: 'could-not-verify',
        observed: 'outside call throttled',
        evidence: [],
      },
      { obligation: 'no-other-way-out', result: 'failed', observed: 'a route to igw-1', evidence: [] },
    ];
    const s = { input, allow: check('allow', obs) } as unknown as RunState;
    const row = obligationsOf(s).find((o) => o.id === 'no-other-way-out')!;
    expect(row.result).toBe('failed');
    expect(row.reason).toBe('a route to igw-1');
    const v = decideVerdict(s);
    expect(v.verdict).toBe('fail');
    // The summary quotes the deciding observation and what passed, never the ones that did not.
    expect(v.summary).toMatch(/^Failed: a route to igw-1\. Proven: /);
    expect(v.summary).not.toMatch(/throttled/);
  });
});

describe("folding a perimeter's matrix into the verdict", () => {
  const perimeter = perimeterInput(
    loadSpec(fileURLToPath(new URL('../../examples/walkthrough.yml', import.meta.url))),
  );
  const input = ExecutionInputSchema.parse({
    runId: 'r',
    region: 'us-east-1',
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
    perimeter,
  });
  const passedAll: Observation[] = OBLIGATION_ORDER.map((obligation) => ({
    obligation,
    result: 'passed',
    observed: `${obligation} passed`,
    evidence: [],
  }));
  const cellsOf = (phase: 'allow-policy' | 'after-deny', result: (row: string) => MatrixCell['result']) =>
    planCells(perimeter, phase, 'amazon.titan-text-express-v1').map((c) => ({
      ...unobservedCell(c, 'x'),
      result: result(c.row.name!),
      reason: `${c.row.name} ${result(c.row.name!)}`,
    }));
  const state = (allowCell: (row: string) => MatrixCell['result'], deny = true) =>
    ({
      input,
      allow: {
        name: 'allow',
        status: 'passed',
        expected: 'allowed',
        reason: '',
        attempts: 1,
        elapsedSeconds: 1,
        outcomesSeen: [],
        observations: passedAll,
        matrix: cellsOf('allow-policy', allowCell),
      },
      ...(deny
        ? {
            deny: {
              name: 'deny',
              status: 'passed',
              expected: 'denied-by-endpoint-policy',
              reason: '',
              attempts: 1,
              elapsedSeconds: 1,
              outcomesSeen: [],
              observations: [],
              matrix: cellsOf('after-deny', () => 'passed'),
            },
          }
        : {}),
    }) as unknown as RunState;

  it('passes only when every obligation and every cell passed', () => {
    expect(decideVerdict(state(() => 'passed')).verdict).toBe('pass');
    expect(matrixOf(state(() => 'passed'))).toHaveLength(5);
  });

  it('one failed cell fails the run, beside passing obligations, and the summary names it', () => {
    const v = decideVerdict(state((row) => (row === 'bystander-in-vpc-refused' ? 'failed' : 'passed')));
    expect(v.verdict).toBe('fail');
    expect(v.summary).toMatch(/^Failed: matrix bystander-in-vpc-refused/);
  });

  it('an unobserved cell makes it error, not fail; a phase that did not run leaves its cells unobserved', () => {
    expect(
      decideVerdict(state((row) => (row === 'unlisted-model-refused' ? 'could-not-verify' : 'passed')))
        .verdict,
    ).toBe('error');
    const noDeny = state(() => 'passed', false);
    const denyCell = matrixOf(noDeny)!.find((c) => c.phase === 'after-deny')!;
    expect(denyCell.result).toBe('could-not-verify');
    expect(denyCell.reason).toMatch(/^not run: the run stopped before it/);
    expect(decideVerdict(noDeny).verdict).toBe('error');
  });
});
