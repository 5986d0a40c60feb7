import { AwsError } from '../../core/errors.ts';
import { listOf } from '../../core/query.ts';
import { revokedRuleOut, ruleOut } from './responses.ts';
import type { SecurityGroup, SgRule, Vpc } from './state.ts';
import type { Ec2Operations, Ec2Store } from './store.ts';
import { formatCidr, parseCidr, str, strings, tagSet, tagsFromSpecifications } from './util.ts';

/** Security groups and their rules: create, authorize, revoke, delete. */

/** GroupId, or GroupName in the default VPC (the EC2-Classic era form AWS still accepts). */
function groupFrom(s: Ec2Store, input: Record<string, any>, region: string): SecurityGroup {
  const id = str(input.GroupId);
  if (id) return s.find<SecurityGroup>('sg', id, region, 'GroupId');
  const name = str(input.GroupName);
  if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
  const def = s.defaultVpc(region);
  const g = s.inRegion(s.groups, region).find((x) => x.vpcId === def?.id && x.name === name);
  if (!g) {
    throw new AwsError(
      'InvalidGroup.NotFound',
      `The security group '${name}' does not exist in default VPC '${def?.id ?? 'none'}'`,
    );
  }
  return g;
}

const PROTOCOLS: Record<string, string> = {
  '-1': '-1',
  all: '-1',
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  icmp: 'icmp',
  '1': 'icmp',
};

function normaliseProtocol(p: string): string {
  const v = p.toLowerCase();
  if (PROTOCOLS[v]) return PROTOCOLS[v];
  if (/^\d+$/.test(v) && Number(v) <= 255) return v;
  throw new AwsError('InvalidParameterValue', `Invalid value '${p}' for IP protocol. Unknown protocol.`);
}

function portsOf(p: Record<string, any>, ipProtocol: string): { fromPort?: number; toPort?: number } {
  if (ipProtocol === '-1') return {};
  const fromPort = p.FromPort === undefined ? undefined : Number(p.FromPort);
  const toPort = p.ToPort === undefined ? undefined : Number(p.ToPort);
  if (ipProtocol === 'tcp' || ipProtocol === 'udp') {
    if (fromPort === undefined || toPort === undefined) {
      throw new AwsError(
        'InvalidParameterValue',
        "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange",
      );
    }
    if (fromPort < 0 || toPort > 65535 || fromPort > toPort) {
      throw new AwsError('InvalidParameterValue', `Invalid TCP/UDP port range (${fromPort}, ${toPort})`);
    }
  }
  return { fromPort, toPort };
}

/** The group a rule refers to, by id or (same VPC) name. */
function referencedGroup(s: Ec2Store, g: SecurityGroup, pair: Record<string, any>): SecurityGroup {
  let ref: SecurityGroup | undefined;
  const refId = str(pair.GroupId);
  if (refId) {
    ref = s.find<SecurityGroup>('sg', refId, g.region, 'GroupId');
  } else if (pair.GroupName) {
    ref = s.inRegion(s.groups, g.region).find((x) => x.vpcId === g.vpcId && x.name === str(pair.GroupName));
    if (!ref)
      throw new AwsError('InvalidGroup.NotFound', `The security group '${pair.GroupName}' does not exist`);
  }
  if (!ref) throw new AwsError('MissingParameter', 'The request must contain the parameter groupId');
  if (ref.vpcId !== g.vpcId) {
    throw new AwsError(
      'InvalidGroup.NotFound',
      'You have specified two resources that belong to different networks.',
    );
  }
  return ref;
}

/** The rules a request names, one per CIDR or group, in the group's own vocabulary. */
function rulesFrom(s: Ec2Store, input: Record<string, any>, g: SecurityGroup, egress: boolean): SgRule[] {
  const perms: Record<string, any>[] = listOf<Record<string, any>>(input.IpPermissions);
  if (
    perms.length === 0 &&
    (input.IpProtocol !== undefined ||
      input.CidrIp !== undefined ||
      input.SourceSecurityGroupName !== undefined)
  ) {
    perms.push({
      IpProtocol: input.IpProtocol ?? '-1',
      FromPort: input.FromPort,
      ToPort: input.ToPort,
      IpRanges: input.CidrIp ? [{ CidrIp: input.CidrIp }] : [],
      Groups: input.SourceSecurityGroupName ? [{ GroupName: input.SourceSecurityGroupName }] : [],
    });
  }
  const rules: SgRule[] = [];
  for (const p of perms) {
    const ipProtocol = normaliseProtocol(str(p.IpProtocol) ?? '-1');
    const ports = portsOf(p, ipProtocol);
    for (const range of listOf<Record<string, any>>(p.IpRanges)) {
      const cidrText = str(range.CidrIp) ?? '';
      const cidr = parseCidr(cidrText);
      if (!cidr) throw new AwsError('InvalidParameterValue', `CIDR block ${cidrText} is malformed`);
      rules.push({
        ruleId: '',
        egress,
        ipProtocol,
        ...ports,
        cidr: formatCidr(cidr),
        description: str(range.Description),
      });
    }
    for (const pair of listOf<Record<string, any>>(p.Groups ?? p.UserIdGroupPairs)) {
      const ref = referencedGroup(s, g, pair);
      rules.push({
        ruleId: '',
        egress,
        ipProtocol,
        ...ports,
        groupId: ref.id,
        description: str(pair.Description),
      });
    }
  }
  return rules;
}

function sameRule(a: SgRule, b: SgRule): boolean {
  return (
    a.egress === b.egress &&
    a.ipProtocol === b.ipProtocol &&
    a.fromPort === b.fromPort &&
    a.toPort === b.toPort &&
    a.cidr === b.cidr &&
    a.groupId === b.groupId
  );
}

function authorize(s: Ec2Store, input: Record<string, any>, region: string, egress: boolean) {
  const g = groupFrom(s, input, region);
  const rules = rulesFrom(s, input, g, egress);
  if (rules.length === 0) {
    throw new AwsError('MissingParameter', 'The request must contain the parameter ipPermissions');
  }
  for (const r of rules) {
    if (g.rules.some((x) => sameRule(x, r)) || rules.filter((x) => sameRule(x, r)).length > 1) {
      const peer = r.cidr ?? r.groupId;
      const proto = r.ipProtocol === '-1' ? 'ALL' : r.ipProtocol.toUpperCase();
      const ports = r.fromPort !== undefined ? `, from port: ${r.fromPort}, to port: ${r.toPort}` : '';
      throw new AwsError(
        'InvalidPermission.Duplicate',
        `the specified rule "peer: ${peer}, ${proto}${ports}, ALLOW" already exists`,
      );
    }
  }
  for (const r of rules) {
    r.ruleId = s.newId('sgr');
    g.rules.push(r);
  }
  return { return: true, securityGroupRuleSet: rules.map((r) => ruleOut(s, g, r)) };
}

function revoke(s: Ec2Store, input: Record<string, any>, region: string, egress: boolean) {
  const g = groupFrom(s, input, region);
  const ruleIds = strings(input.SecurityGroupRuleId);
  const wanted: SgRule[] = [];
  const unknown: SgRule[] = [];
  if (ruleIds.length) {
    for (const id of ruleIds) {
      const r = g.rules.find((x) => x.ruleId === id && x.egress === egress);
      if (!r) {
        throw new AwsError(
          'InvalidSecurityGroupRuleId.NotFound',
          `The security group rule ID '${id}' does not exist`,
        );
      }
      wanted.push(r);
    }
  } else {
    for (const r of rulesFrom(s, input, g, egress)) {
      const match = g.rules.find((x) => sameRule(x, r));
      if (match) wanted.push(match);
      else unknown.push(r);
    }
    // One unknown rule and nothing is revoked (AWS-FACTS, wave 2; EC2 error codes: InvalidPermission.NotFound).
    if (unknown.length > 0 || wanted.length === 0) {
      throw new AwsError(
        'InvalidPermission.NotFound',
        'The specified rule does not exist in this security group.',
      );
    }
  }
  g.rules = g.rules.filter((r) => !wanted.includes(r));
  return {
    return: true,
    revokedSecurityGroupRuleSet: wanted.map((r) => revokedRuleOut(g, r)),
  };
}

export function securityGroupOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateSecurityGroup(input, region) {
      const name = str(input.GroupName);
      const description = str(input.GroupDescription);
      if (!name) throw new AwsError('MissingParameter', 'The request must contain the parameter groupName');
      if (description === undefined) {
        throw new AwsError('MissingParameter', 'The request must contain the parameter groupDescription');
      }
      if (name === 'default')
        throw new AwsError('InvalidGroup.Reserved', "The security group 'default' is reserved");
      if (name.startsWith('sg-')) {
        throw new AwsError('InvalidParameterValue', 'Group names may not be in the format sg-*');
      }
      const vpcId = str(input.VpcId);
      const vpc = vpcId ? s.find<Vpc>('vpc', vpcId, region, 'VpcId') : s.defaultVpc(region);
      if (!vpc) throw new AwsError('VPCIdNotSpecified', 'No default VPC for this user');
      if (s.inRegion(s.groups, region).some((g) => g.vpcId === vpc.id && g.name === name)) {
        throw new AwsError(
          'InvalidGroup.Duplicate',
          `The security group '${name}' already exists for VPC '${vpc.id}'`,
        );
      }
      const tags = tagsFromSpecifications(input, 'security-group');
      const g: SecurityGroup = {
        ...s.base(region, tags),
        id: s.newId('sg'),
        vpcId: vpc.id,
        name,
        description,
        isDefault: false,
        rules: [],
      };
      // Every new group may send anywhere until told otherwise, as on AWS.
      g.rules.push({ ruleId: s.newId('sgr'), egress: true, ipProtocol: '-1', cidr: '0.0.0.0/0' });
      s.groups.set(g.id, g);
      return {
        groupId: g.id,
        securityGroupArn: s.arn(region, 'security-group', g.id),
        tagSet: tagSet(g.tags),
      };
    },
    AuthorizeSecurityGroupIngress: (input, region) => authorize(s, input, region, false),
    AuthorizeSecurityGroupEgress: (input, region) => authorize(s, input, region, true),
    RevokeSecurityGroupIngress: (input, region) => revoke(s, input, region, false),
    RevokeSecurityGroupEgress: (input, region) => revoke(s, input, region, true),

    DeleteSecurityGroup(input, region) {
      const g = groupFrom(s, input, region);
      if (g.isDefault) {
        throw new AwsError(
          'CannotDelete',
          `the specified group: "${g.id}" name: "default" cannot be deleted by a user`,
        );
      }
      const referenced = [...s.groups.values()].some(
        (other) => other.id !== g.id && other.rules.some((r) => r.groupId === g.id),
      );
      const inUse =
        [...s.enis.values()].some((n) => n.groupIds.includes(g.id)) ||
        [...s.endpoints.values()].some((e) => e.groupIds.includes(g.id));
      if (referenced || inUse || s.ctx.faults.take('dependency-violation', 'ec2', 'DeleteSecurityGroup')) {
        throw new AwsError('DependencyViolation', `resource ${g.id} has a dependent object`);
      }
      s.groups.delete(g.id);
      return { return: true, groupId: g.id };
    },
  };
}
