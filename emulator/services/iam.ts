import type { EmulatorContext } from '../core/context.ts';
import { AwsError } from '../core/errors.ts';
import type { IamModel, PolicyDocument, PolicyStatement, RoleView, Tags } from '../core/models.ts';
import { listOf } from '../core/query.ts';
import type { EmulatedService, InventoryItem, QueryApi } from '../core/service.ts';
import { AWS_MANAGED_POLICIES } from './iam-managed-policies.ts';

const XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** IAM's default quotas (adjustable on AWS; fixed here). */
const INLINE_POLICY_CHARS_PER_ROLE = 10_240;
const TRUST_POLICY_CHARS = 2_048;
const MANAGED_POLICIES_PER_ROLE = 10;
const TAGS_PER_ROLE = 50;
const MANAGED_POLICY_CHARS = 6_144;
const VERSIONS_PER_POLICY = 5;

const NAME_PATTERN = /^[\w+=,.@-]+$/;
const PATH_PATTERN = /^\/([\x21-\x7E]*\/)?$/;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

interface Tag {
  Key: string;
  Value: string;
}

interface RoleRecord {
  roleName: string;
  roleId: string;
  arn: string;
  path: string;
  createdAt: number;
  /** The trust policy as the caller sent it (AWS hands it back verbatim, URL-encoded). */
  trustPolicyText: string;
  trustPolicy: PolicyDocument;
  description?: string;
  maxSessionDuration: number;
  permissionsBoundaryArn?: string;
  tags: Tag[];
  /** Inline policies by name, in the order they were put. */
  inlinePolicies: Map<string, string>;
  attachedPolicyArns: string[];
  /** This role's draw of the "cannot be assumed by Lambda" window, virtual ms. */
  assumableDelayMs: number;
  assumableAt: number;
}

interface PolicyVersionRecord {
  versionId: string;
  document: string;
  createDate: number;
}

/** A managed policy: one of AWS's (read-only) or the account's own. */
interface ManagedPolicy {
  policyName: string;
  policyId: string;
  arn: string;
  path: string;
  description?: string;
  createDate: number;
  updateDate: number;
  awsManaged: boolean;
  versions: PolicyVersionRecord[];
  defaultVersionId: string;
  /** Version ids are never reused: v1, v2, ... */
  nextVersion: number;
  tags: Tag[];
}

/**
 * IAM: roles with trust policies, inline policies, AWS and customer managed policies, tags and
 * permissions boundaries. A global service: nothing here depends on the signing region.
 */
export class IamService implements EmulatedService, IamModel {
  readonly name = 'iam' as const;
  readonly api: QueryApi;
  private readonly ctx: EmulatorContext;
  /** By lower-cased role name: IAM role names are unique regardless of case. */
  private readonly roles = new Map<string, RoleRecord>();
  /** By ARN. */
  private readonly policies = new Map<string, ManagedPolicy>();

  constructor(ctx: EmulatorContext) {
    this.ctx = ctx;
    this.seedAwsManagedPolicies();
    this.api = {
      protocol: 'query',
      xmlns: XMLNS,
      operations: {
        CreateRole: (input) => ({ Role: this.roleOutput(this.createRole(input)) }),
        GetRole: (input) => {
          const role = this.mustGetRole(input.RoleName);
          // IAM is eventually consistent: a role just created may not be visible to reads yet.
          if (this.ctx.faults.take('not-found-after-create', 'iam', 'GetRole')) {
            throw noSuchRole(role.roleName);
          }
          return { Role: this.roleOutput(role) };
        },
        DeleteRole: (input) => this.deleteRole(input),
        UpdateRole: (input) => {
          const role = this.mustGetRole(input.RoleName);
          if (input.Description !== undefined) role.description = validDescription(input.Description);
          if (input.MaxSessionDuration !== undefined) {
            role.maxSessionDuration = validMaxSessionDuration(input.MaxSessionDuration);
          }
          return {};
        },
        UpdateRoleDescription: (input) => {
          const role = this.mustGetRole(input.RoleName);
          role.description = validDescription(input.Description ?? '');
          return { Role: this.roleOutput(role) };
        },
        UpdateAssumeRolePolicy: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const { text, doc } = parseTrustPolicy(input.PolicyDocument, this.ctx.accountId, (n) =>
            this.findRole(n),
          );
          role.trustPolicyText = text;
          role.trustPolicy = doc;
          // Lambda sees the new trust policy only after it propagates: the window opens again.
          role.assumableAt = Math.max(role.assumableAt, this.ctx.now() + role.assumableDelayMs);
          return {};
        },
        TagRole: (input) => {
          const role = this.mustGetRole(input.RoleName);
          role.tags = mergeTags(role.tags, validTags(input.Tags));
          return {};
        },
        UntagRole: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const drop = new Set(listOf<string>(input.TagKeys).map((k) => String(k).toLowerCase()));
          role.tags = role.tags.filter((t) => !drop.has(t.Key.toLowerCase()));
          return {};
        },
        ListRoleTags: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const page = paginate(role.tags, (t) => t.Key, input);
          return { Tags: page.items, IsTruncated: page.isTruncated, Marker: page.marker };
        },
        ListRoles: (input) => {
          const prefix = validPathPrefix(input.PathPrefix);
          const matching = this.sortedRoles().filter((r) => r.path.startsWith(prefix));
          const page = paginate(matching, (r) => r.roleName.toLowerCase(), input);
          // ListRoles leaves out tags, permissions boundary and last use: GetRole has them.
          return {
            Roles: page.items.map((r) => this.roleOutput(r, { summary: true })),
            IsTruncated: page.isTruncated,
            Marker: page.marker,
          };
        },
        ListInstanceProfilesForRole: (input) => {
          this.mustGetRole(input.RoleName);
          return { InstanceProfiles: [], IsTruncated: false };
        },
        PutRolePolicy: (input) => this.putRolePolicy(input),
        GetRolePolicy: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const name = String(input.PolicyName ?? '');
          const text = role.inlinePolicies.get(name);
          if (text === undefined) throw noSuchRolePolicy(name);
          return { RoleName: role.roleName, PolicyName: name, PolicyDocument: encodeURIComponent(text) };
        },
        DeleteRolePolicy: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const name = String(input.PolicyName ?? '');
          if (!role.inlinePolicies.delete(name)) throw noSuchRolePolicy(name);
          return {};
        },
        ListRolePolicies: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const names = [...role.inlinePolicies.keys()].sort();
          const page = paginate(names, (n) => n, input);
          return { PolicyNames: page.items, IsTruncated: page.isTruncated, Marker: page.marker };
        },
        AttachRolePolicy: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const arn = validPolicyArn(input.PolicyArn);
          if (!this.managedPolicy(arn)) {
            throw new AwsError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, 404);
          }
          if (role.attachedPolicyArns.includes(arn)) return {};
          if (role.attachedPolicyArns.length >= MANAGED_POLICIES_PER_ROLE) {
            throw new AwsError(
              'LimitExceeded',
              `Cannot exceed quota for PoliciesPerRole: ${MANAGED_POLICIES_PER_ROLE}`,
              409,
            );
          }
          role.attachedPolicyArns.push(arn);
          return {};
        },
        DetachRolePolicy: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const arn = validPolicyArn(input.PolicyArn);
          const i = role.attachedPolicyArns.indexOf(arn);
          if (i < 0) throw new AwsError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
          role.attachedPolicyArns.splice(i, 1);
          return {};
        },
        ListAttachedRolePolicies: (input) => {
          const role = this.mustGetRole(input.RoleName);
          const prefix = validPathPrefix(input.PathPrefix);
          const attached = role.attachedPolicyArns
            .map((arn) => this.managedPolicy(arn))
            .filter((p): p is ManagedPolicy => p?.path.startsWith(prefix) === true);
          const page = paginate(attached, (p) => p.arn, input);
          return {
            AttachedPolicies: page.items.map((p) => ({ PolicyName: p.policyName, PolicyArn: p.arn })),
            IsTruncated: page.isTruncated,
            Marker: page.marker,
          };
        },
        PutRolePermissionsBoundary: (input) => {
          const role = this.mustGetRole(input.RoleName);
          role.permissionsBoundaryArn = this.validBoundary(input.PermissionsBoundary);
          return {};
        },
        DeleteRolePermissionsBoundary: (input) => {
          const role = this.mustGetRole(input.RoleName);
          if (!role.permissionsBoundaryArn) {
            throw new AwsError(
              'NoSuchEntity',
              `The role with name ${role.roleName} has no permissions boundary.`,
              404,
            );
          }
          role.permissionsBoundaryArn = undefined;
          return {};
        },
        CreatePolicy: (input) => ({ Policy: this.policyOutput(this.createPolicy(input)) }),
        GetPolicy: (input) => ({ Policy: this.policyOutput(this.mustGetPolicy(input.PolicyArn)) }),
        DeletePolicy: (input) => {
          const p = this.mustModifyPolicy(input.PolicyArn, 'DeletePolicy');
          const { attachments, boundaries } = this.policyUsage(p.arn);
          if (attachments + boundaries > 0) {
            throw new AwsError('DeleteConflict', 'Cannot delete a policy attached to entities.', 409);
          }
          if (p.versions.length > 1) {
            throw new AwsError(
              'DeleteConflict',
              "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
              409,
            );
          }
          this.policies.delete(p.arn);
          return {};
        },
        ListPolicies: (input) => {
          const scope = String(input.Scope ?? 'All');
          const prefix = validPathPrefix(input.PathPrefix);
          const onlyAttached = String(input.OnlyAttached ?? 'false') === 'true';
          const matching = [...this.policies.values()]
            .filter((p) => scope === 'All' || (scope === 'AWS') === p.awsManaged)
            .filter((p) => p.path.startsWith(prefix))
            .filter((p) => !onlyAttached || this.policyUsage(p.arn).attachments > 0)
            .sort((a, b) => (policyKey(a) < policyKey(b) ? -1 : 1));
          const page = paginate(matching, policyKey, input);
          // Like ListRoles, the listing leaves out description and tags.
          return {
            Policies: page.items.map((p) => this.policyOutput(p, { summary: true })),
            IsTruncated: page.isTruncated,
            Marker: page.marker,
          };
        },
        CreatePolicyVersion: (input) => {
          const p = this.mustModifyPolicy(input.PolicyArn, 'CreatePolicyVersion');
          if (p.versions.length >= VERSIONS_PER_POLICY) {
            throw new AwsError(
              'LimitExceeded',
              `A managed policy can have up to ${VERSIONS_PER_POLICY} versions. Before you create a new version, you must delete an existing version.`,
              409,
            );
          }
          const version = this.addVersion(p, parseManagedPolicy(input.PolicyDocument));
          if (String(input.SetAsDefault ?? 'false') === 'true') p.defaultVersionId = version.versionId;
          return { PolicyVersion: versionOutput(p, version, false) };
        },
        DeletePolicyVersion: (input) => {
          const p = this.mustModifyPolicy(input.PolicyArn, 'DeletePolicyVersion');
          const version = this.mustGetVersion(p, input.VersionId);
          if (version.versionId === p.defaultVersionId) {
            throw new AwsError('DeleteConflict', 'Cannot delete the default version of a policy.', 409);
          }
          p.versions = p.versions.filter((v) => v !== version);
          return {};
        },
        SetDefaultPolicyVersion: (input) => {
          const p = this.mustModifyPolicy(input.PolicyArn, 'SetDefaultPolicyVersion');
          p.defaultVersionId = this.mustGetVersion(p, input.VersionId).versionId;
          p.updateDate = this.ctx.now();
          return {};
        },
        ListPolicyVersions: (input) => {
          const p = this.mustGetPolicy(input.PolicyArn);
          const newestFirst = [...p.versions].reverse();
          const page = paginate(newestFirst, (v) => v.versionId, input);
          return {
            Versions: page.items.map((v) => versionOutput(p, v, true)),
            IsTruncated: page.isTruncated,
            Marker: page.marker,
          };
        },
        GetPolicyVersion: (input) => {
          const p = this.mustGetPolicy(input.PolicyArn);
          return { PolicyVersion: versionOutput(p, this.mustGetVersion(p, input.VersionId), false) };
        },
      },
    };
  }

  // ---- IamModel ----

  role(nameOrArn: string): RoleView | undefined {
    const r = this.findRole(nameOrArn);
    if (!r) return undefined;
    return {
      roleName: r.roleName,
      roleId: r.roleId,
      arn: r.arn,
      path: r.path,
      createdAt: r.createdAt,
      assumeRolePolicyDocument: structuredClone(r.trustPolicy),
      tags: tagsRecord(r.tags),
      ...(r.permissionsBoundaryArn ? { permissionsBoundaryArn: r.permissionsBoundaryArn } : {}),
    };
  }

  identityPolicies(roleName: string): PolicyDocument[] {
    const r = this.findRole(roleName);
    if (!r) return [];
    const inline = [...r.inlinePolicies.values()].map((t) => JSON.parse(t) as PolicyDocument);
    const managed = r.attachedPolicyArns
      .map((arn) => this.managedPolicy(arn))
      .filter((p): p is ManagedPolicy => p !== undefined)
      .map((p) => JSON.parse(defaultDocument(p)) as PolicyDocument);
    return [...inline, ...managed];
  }

  assumableByLambdaAt(roleName: string): number {
    return this.findRole(roleName)?.assumableAt ?? Number.POSITIVE_INFINITY;
  }

  /** The permissions boundary document of a role, if it has one (for the policy model). */
  permissionsBoundary(roleName: string): PolicyDocument | undefined {
    const arn = this.findRole(roleName)?.permissionsBoundaryArn;
    const p = arn ? this.managedPolicy(arn) : undefined;
    return p ? (JSON.parse(defaultDocument(p)) as PolicyDocument) : undefined;
  }

  // ---- EmulatedService ----

  inventory(): InventoryItem[] {
    const roles = this.sortedRoles().map((r) => ({
      service: 'iam' as const,
      type: 'role',
      id: r.roleName,
      tags: tagsRecord(r.tags),
    }));
    const policies = [...this.policies.values()]
      .filter((p) => !p.awsManaged)
      .map((p) => ({ service: 'iam' as const, type: 'policy', id: p.arn, tags: tagsRecord(p.tags) }));
    return [...roles, ...policies];
  }

  reset(): void {
    this.roles.clear();
    this.policies.clear();
    this.seedAwsManagedPolicies();
  }

  // ---- operations ----

  private createRole(input: Record<string, any>): RoleRecord {
    const roleName = validRoleName(input.RoleName);
    const path = validPath(input.Path);
    if (input.AssumeRolePolicyDocument === undefined) {
      throw validationError('null', 'assumeRolePolicyDocument', 'Member must not be null');
    }
    const tags = validTags(input.Tags);
    const description = input.Description === undefined ? undefined : validDescription(input.Description);
    const maxSessionDuration =
      input.MaxSessionDuration === undefined ? 3600 : validMaxSessionDuration(input.MaxSessionDuration);
    const boundary =
      input.PermissionsBoundary === undefined ? undefined : this.validBoundary(input.PermissionsBoundary);
    if (this.roles.has(roleName.toLowerCase())) {
      throw new AwsError('EntityAlreadyExists', `Role with name ${roleName} already exists.`, 409);
    }
    const { text, doc } = parseTrustPolicy(input.AssumeRolePolicyDocument, this.ctx.accountId, (n) =>
      this.findRole(n),
    );
    const createdAt = this.ctx.now();
    const assumableDelayMs = this.ctx.delay('roleAssumable');
    const role: RoleRecord = {
      roleName,
      roleId: `AROA${this.randomId(17)}`,
      arn: `arn:aws:iam::${this.ctx.accountId}:role${path}${roleName}`,
      path,
      createdAt,
      trustPolicyText: text,
      trustPolicy: doc,
      maxSessionDuration,
      tags,
      inlinePolicies: new Map(),
      attachedPolicyArns: [],
      assumableDelayMs,
      assumableAt: createdAt + assumableDelayMs,
    };
    if (description !== undefined) role.description = description;
    if (boundary !== undefined) role.permissionsBoundaryArn = boundary;
    this.roles.set(roleName.toLowerCase(), role);
    return role;
  }

  private deleteRole(input: Record<string, any>): Record<string, never> {
    const role = this.mustGetRole(input.RoleName);
    if (role.inlinePolicies.size > 0) {
      throw new AwsError('DeleteConflict', 'Cannot delete entity, must delete policies first.', 409);
    }
    if (role.attachedPolicyArns.length > 0) {
      throw new AwsError('DeleteConflict', 'Cannot delete entity, must detach all policies first.', 409);
    }
    this.roles.delete(role.roleName.toLowerCase());
    return {};
  }

  private putRolePolicy(input: Record<string, any>): Record<string, never> {
    const role = this.mustGetRole(input.RoleName);
    const name = String(input.PolicyName ?? '');
    checkLength(name, 'policyName', 1, 128);
    if (!NAME_PATTERN.test(name)) {
      throw validationError(
        name,
        'policyName',
        'Member must satisfy regular expression pattern: [\\w+=,.@-]+',
      );
    }
    const { text } = parseIdentityPolicy(input.PolicyDocument);
    // The quota counts every inline policy of the role together, without whitespace.
    let total = policySize(text);
    for (const [other, t] of role.inlinePolicies) if (other !== name) total += policySize(t);
    if (total > INLINE_POLICY_CHARS_PER_ROLE) {
      throw new AwsError(
        'LimitExceeded',
        `Maximum policy size of ${INLINE_POLICY_CHARS_PER_ROLE} bytes exceeded for role ${role.roleName}`,
        409,
      );
    }
    role.inlinePolicies.set(name, text);
    return {};
  }

  // ---- helpers ----

  private findRole(nameOrArn: unknown): RoleRecord | undefined {
    const s = String(nameOrArn ?? '');
    if (s.startsWith('arn:')) {
      const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(s);
      if (!m || m[1] !== this.ctx.accountId) return undefined;
      const r = this.roles.get(m[2]!.toLowerCase());
      return r && r.arn === s ? r : undefined;
    }
    return this.roles.get(s.toLowerCase());
  }

  private mustGetRole(name: unknown): RoleRecord {
    const roleName = validRoleName(name);
    const r = this.roles.get(roleName.toLowerCase());
    if (!r) throw noSuchRole(roleName);
    return r;
  }

  private sortedRoles(): RoleRecord[] {
    return [...this.roles.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }

  private seedAwsManagedPolicies(): void {
    for (const d of AWS_MANAGED_POLICIES) {
      this.policies.set(d.arn, {
        policyName: d.policyName,
        policyId: d.policyId,
        arn: d.arn,
        path: d.path,
        description: d.description,
        createDate: d.createDate,
        updateDate: d.updateDate,
        awsManaged: true,
        // Only the current version of AWS's own policies is modelled.
        versions: [{ versionId: d.defaultVersionId, document: d.document, createDate: d.updateDate }],
        defaultVersionId: d.defaultVersionId,
        nextVersion: Number(d.defaultVersionId.slice(1)) + 1,
        tags: [],
      });
    }
  }

  private managedPolicy(arn: string): ManagedPolicy | undefined {
    return this.policies.get(arn);
  }

  private mustGetPolicy(arnInput: unknown): ManagedPolicy {
    const arn = validPolicyArn(arnInput);
    const p = this.policies.get(arn);
    if (!p) throw new AwsError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
    return p;
  }

  /** AWS managed policies belong to AWS: the account may read and attach them, not change them. */
  private mustModifyPolicy(arnInput: unknown, action: string): ManagedPolicy {
    const p = this.mustGetPolicy(arnInput);
    if (p.awsManaged) {
      throw new AwsError(
        'AccessDenied',
        `User: arn:aws:iam::${this.ctx.accountId}:root is not authorized to perform: iam:${action} on resource: policy ${p.arn}`,
        403,
      );
    }
    return p;
  }

  private mustGetVersion(p: ManagedPolicy, versionIdInput: unknown): PolicyVersionRecord {
    const versionId = String(versionIdInput ?? '');
    if (!/^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$/.test(versionId)) {
      throw validationError(
        versionId,
        'versionId',
        'Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?',
      );
    }
    const v = p.versions.find((x) => x.versionId === versionId);
    if (!v) throw new AwsError('NoSuchEntity', `Policy ${p.arn} version ${versionId} does not exist.`, 404);
    return v;
  }

  private createPolicy(input: Record<string, any>): ManagedPolicy {
    const name = String(input.PolicyName ?? '');
    checkLength(name, 'policyName', 1, 128);
    if (!NAME_PATTERN.test(name)) {
      throw validationError(
        name,
        'policyName',
        'Member must satisfy regular expression pattern: [\\w+=,.@-]+',
      );
    }
    const path = validPath(input.Path);
    const tags = validTags(input.Tags);
    const description = input.Description === undefined ? undefined : validDescription(input.Description);
    const text = parseManagedPolicy(input.PolicyDocument);
    // Policy names, like role names, are unique in the account regardless of case and path.
    for (const p of this.policies.values()) {
      if (!p.awsManaged && p.policyName.toLowerCase() === name.toLowerCase()) {
        throw new AwsError(
          'EntityAlreadyExists',
          `A policy called ${name} already exists. Duplicate names are not allowed.`,
          409,
        );
      }
    }
    const now = this.ctx.now();
    const policy: ManagedPolicy = {
      policyName: name,
      policyId: `ANPA${this.randomId(17)}`,
      arn: `arn:aws:iam::${this.ctx.accountId}:policy${path}${name}`,
      path,
      createDate: now,
      updateDate: now,
      awsManaged: false,
      versions: [],
      defaultVersionId: 'v1',
      nextVersion: 1,
      tags,
    };
    if (description !== undefined) policy.description = description;
    this.addVersion(policy, text);
    this.policies.set(policy.arn, policy);
    return policy;
  }

  private addVersion(p: ManagedPolicy, document: string): PolicyVersionRecord {
    const version = { versionId: `v${p.nextVersion++}`, document, createDate: this.ctx.now() };
    p.versions.push(version);
    p.updateDate = version.createDate;
    return version;
  }

  private policyUsage(arn: string): { attachments: number; boundaries: number } {
    let attachments = 0;
    let boundaries = 0;
    for (const r of this.roles.values()) {
      if (r.attachedPolicyArns.includes(arn)) attachments++;
      if (r.permissionsBoundaryArn === arn) boundaries++;
    }
    return { attachments, boundaries };
  }

  private validBoundary(v: unknown): string {
    const arn = validPolicyArn(v);
    if (!this.managedPolicy(arn)) {
      throw new AwsError('NoSuchEntity', `Scope ARN: ${arn} does not exist or is not attachable.`, 404);
    }
    return arn;
  }

  private randomId(len: number): string {
    let s = '';
    for (let i = 0; i < len; i++) s += ID_ALPHABET[Math.floor(this.ctx.rng.next() * ID_ALPHABET.length)];
    return s;
  }

  private roleOutput(r: RoleRecord, opts: { summary?: boolean } = {}): Record<string, unknown> {
    const out: Record<string, unknown> = {
      Path: r.path,
      RoleName: r.roleName,
      RoleId: r.roleId,
      Arn: r.arn,
      CreateDate: isoSeconds(r.createdAt),
      AssumeRolePolicyDocument: encodeURIComponent(r.trustPolicyText),
      Description: r.description,
      MaxSessionDuration: r.maxSessionDuration,
    };
    if (opts.summary) return out;
    if (r.permissionsBoundaryArn) {
      out.PermissionsBoundary = {
        PermissionsBoundaryType: 'Policy',
        PermissionsBoundaryArn: r.permissionsBoundaryArn,
      };
    }
    if (r.tags.length) out.Tags = r.tags;
    return out;
  }

  private policyOutput(p: ManagedPolicy, opts: { summary?: boolean } = {}): Record<string, unknown> {
    const { attachments, boundaries } = this.policyUsage(p.arn);
    const out: Record<string, unknown> = {
      PolicyName: p.policyName,
      PolicyId: p.policyId,
      Arn: p.arn,
      Path: p.path,
      DefaultVersionId: p.defaultVersionId,
      AttachmentCount: attachments,
      PermissionsBoundaryUsageCount: boundaries,
      IsAttachable: true,
      CreateDate: isoSeconds(p.createDate),
      UpdateDate: isoSeconds(p.updateDate),
    };
    if (opts.summary) return out;
    out.Description = p.description;
    if (p.tags.length) out.Tags = p.tags;
    return out;
  }
}

function policyKey(p: ManagedPolicy): string {
  return `${p.policyName.toLowerCase()} ${p.arn}`;
}

function defaultDocument(p: ManagedPolicy): string {
  return p.versions.find((v) => v.versionId === p.defaultVersionId)!.document;
}

function versionOutput(p: ManagedPolicy, v: PolicyVersionRecord, summary: boolean): Record<string, unknown> {
  return {
    // Documents travel URL-encoded, as AWS sends them; listings leave them out.
    Document: summary ? undefined : encodeURIComponent(v.document),
    VersionId: v.versionId,
    IsDefaultVersion: v.versionId === p.defaultVersionId,
    CreateDate: isoSeconds(v.createDate),
  };
}

// ---- validation ----

function validationError(value: string, member: string, constraint: string): AwsError {
  return new AwsError(
    'ValidationError',
    `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

/**
 * The length constraint of a member, in AWS's words: below the minimum is "greater than or equal
 * to", above the maximum "less than or equal to" (IAM API reference: RoleName 1–64, PolicyName
 * 1–128, Tag Key 1–128; the message form is the awsQuery ValidationError seen from real accounts,
 * NixOS/nixops#328 quotes the full XML ValidationError for a 65+ character roleName).
 */
function checkLength(value: string, member: string, min: number, max: number): void {
  if (value.length < min)
    throw validationError(value, member, `Member must have length greater than or equal to ${min}`);
  if (value.length > max)
    throw validationError(value, member, `Member must have length less than or equal to ${max}`);
}

function noSuchRole(name: string): AwsError {
  return new AwsError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
}

function noSuchRolePolicy(name: string): AwsError {
  return new AwsError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
}

function validRoleName(v: unknown): string {
  if (v === undefined || v === null) throw validationError('null', 'roleName', 'Member must not be null');
  const s = String(v);
  checkLength(s, 'roleName', 1, 64);
  if (!NAME_PATTERN.test(s)) {
    throw validationError(s, 'roleName', 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
  }
  return s;
}

function validPath(v: unknown): string {
  const path = v === undefined ? '/' : String(v);
  if (path.length > 512 || !PATH_PATTERN.test(path)) {
    throw validationError(
      path,
      'path',
      'Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)',
    );
  }
  return path;
}

function validDescription(v: unknown): string {
  const s = String(v);
  if (s.length > 1000)
    throw validationError(s, 'description', 'Member must have length less than or equal to 1000');
  return s;
}

function validMaxSessionDuration(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 3600 || n > 43200) {
    throw validationError(
      String(v),
      'maxSessionDuration',
      'Member must have value less than or equal to 43200',
    );
  }
  return n;
}

function validPathPrefix(v: unknown): string {
  if (v === undefined) return '/';
  const s = String(v);
  if (!/^\/[\x21-\x7F]*$/.test(s)) {
    throw validationError(
      s,
      'pathPrefix',
      'Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*',
    );
  }
  return s;
}

function validPolicyArn(v: unknown): string {
  const s = String(v ?? '');
  if (!/^arn:aws[\w-]*:iam::(aws|\d{12}):policy\/.+$/.test(s)) {
    throw new AwsError('InvalidInput', `ARN ${s} is not valid.`, 400);
  }
  return s;
}

function validTags(v: unknown): Tag[] {
  const tags = listOf<Record<string, unknown>>(v).map((t) => ({
    Key: String(t?.Key ?? ''),
    Value: String(t?.Value ?? ''),
  }));
  const seen = new Set<string>();
  for (const t of tags) {
    checkLength(t.Key, 'tags.member.key', 1, 128);
    if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u.test(t.Key)) {
      throw validationError(
        t.Key,
        'tags.member.key',
        'Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+',
      );
    }
    if (t.Value.length > 256) {
      throw validationError(
        t.Value,
        'tags.member.value',
        'Member must have length less than or equal to 256',
      );
    }
    if (seen.has(t.Key.toLowerCase())) {
      throw new AwsError(
        'InvalidInput',
        'Duplicate tag keys found. Please note that Tag keys are case insensitive.',
        400,
      );
    }
    seen.add(t.Key.toLowerCase());
  }
  if (tags.length > TAGS_PER_ROLE) {
    throw new AwsError('LimitExceeded', `The number of tags has reached the maximum limit.`, 409);
  }
  return tags;
}

/** Tag keys are case-insensitive in IAM: a new value for an existing key replaces it. */
function mergeTags(existing: Tag[], added: Tag[]): Tag[] {
  const merged = existing.filter((t) => !added.some((a) => a.Key.toLowerCase() === t.Key.toLowerCase()));
  merged.push(...added);
  if (merged.length > TAGS_PER_ROLE) {
    throw new AwsError('LimitExceeded', `The number of tags has reached the maximum limit.`, 409);
  }
  return merged;
}

function tagsRecord(tags: Tag[]): Tags {
  return Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
}

// ---- policy documents ----

function malformed(message: string): AwsError {
  return new AwsError('MalformedPolicyDocument', message, 400);
}

/** IAM's size quotas ignore whitespace. */
function policySize(text: string): number {
  return text.replace(/\s/g, '').length;
}

function parseJsonPolicy(v: unknown): { text: string; doc: PolicyDocument; statements: PolicyStatement[] } {
  let text = String(v ?? '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Documents copied from a GetRole answer arrive URL-encoded; IAM accepts them.
    try {
      if (!text.trimStart().startsWith('%')) throw new Error('not encoded');
      text = decodeURIComponent(text);
      parsed = JSON.parse(text);
    } catch {
      throw malformed('This policy contains invalid Json');
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw malformed('This policy contains invalid Json');
  const doc = parsed as Record<string, unknown>;
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17') {
    throw malformed('The policy failed legacy parsing');
  }
  if (doc.Statement === undefined) throw malformed('Syntax errors in policy.');
  const statements = listOf<PolicyStatement>(doc.Statement);
  for (const s of statements) {
    if (!s || typeof s !== 'object') throw malformed('Syntax errors in policy.');
    if (s.Effect === undefined) throw malformed('Missing required field Effect');
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed(`Invalid effect: ${String(s.Effect)}`);
    const actions = [...listOf<string>(s.Action), ...listOf<string>(s.NotAction)];
    if (actions.length === 0) throw malformed('Policy statement must contain actions.');
    for (const a of actions) {
      if (typeof a !== 'string' || (a !== '*' && !/^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/.test(a))) {
        throw malformed('Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.');
      }
    }
  }
  return { text, doc: doc as unknown as PolicyDocument, statements };
}

function parseIdentityPolicy(v: unknown): { text: string; doc: PolicyDocument } {
  const { text, doc, statements } = parseJsonPolicy(v);
  for (const s of statements) {
    if (s.Principal !== undefined || s.NotPrincipal !== undefined) {
      throw malformed('Policy document should not specify a principal.');
    }
    const resources = [...listOf<string>(s.Resource), ...listOf<string>(s.NotResource)];
    if (resources.length === 0) throw malformed('Policy statement must contain resources.');
    for (const r of resources) {
      if (typeof r !== 'string' || (r !== '*' && !r.startsWith('arn:'))) {
        throw malformed(`Resource ${String(r)} must be in ARN format or "*".`);
      }
    }
  }
  return { text, doc };
}

/** A managed policy's document: an identity policy with its own, smaller, size quota. */
function parseManagedPolicy(v: unknown): string {
  const { text } = parseIdentityPolicy(v);
  if (policySize(text) > MANAGED_POLICY_CHARS) {
    throw new AwsError('LimitExceeded', `Cannot exceed quota for PolicySize: ${MANAGED_POLICY_CHARS}`, 409);
  }
  return text;
}

function parseTrustPolicy(
  v: unknown,
  accountId: string,
  findRole: (arn: string) => RoleRecord | undefined,
): { text: string; doc: PolicyDocument } {
  const { text, doc, statements } = parseJsonPolicy(v);
  if (policySize(text) > TRUST_POLICY_CHARS) {
    throw new AwsError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_CHARS}`, 409);
  }
  for (const s of statements) {
    if (s.Resource !== undefined || s.NotResource !== undefined)
      throw malformed('Has prohibited field Resource');
    if (s.Principal === undefined && s.NotPrincipal === undefined) {
      throw malformed('Missing required field Principal');
    }
    const principal = (s.Principal ?? s.NotPrincipal) as unknown;
    if (principal === '*') continue;
    if (!principal || typeof principal !== 'object')
      throw malformed(`Invalid principal in policy: ${JSON.stringify(principal)}`);
    for (const [kind, values] of Object.entries(principal as Record<string, unknown>)) {
      for (const value of listOf<string>(values)) {
        if (!validPrincipal(kind, String(value), accountId, findRole)) {
          throw malformed(`Invalid principal in policy: "${kind.toUpperCase()}":"${String(value)}"`);
        }
      }
    }
  }
  return { text, doc };
}

/** IAM resolves principals when the policy is saved: a role that does not exist is rejected. */
function validPrincipal(
  kind: string,
  value: string,
  accountId: string,
  findRole: (arn: string) => RoleRecord | undefined,
): boolean {
  switch (kind) {
    case 'Service':
      return /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(value);
    case 'Federated':
      return value.length > 0;
    case 'AWS': {
      if (value === '*' || /^\d{12}$/.test(value)) return true;
      const m = /^arn:aws:(iam|sts)::(\d{12}):(.+)$/.exec(value);
      if (!m) return false;
      const [, , acct, resource] = m;
      if (acct === accountId && m[1] === 'iam' && resource!.startsWith('role/'))
        return findRole(value) !== undefined;
      return true;
    }
    case 'CanonicalUser':
      return /^[0-9a-f]{64}$/.test(value);
    default:
      return false;
  }
}

// ---- pagination ----

/**
 * IAM's Marker/MaxItems: the marker is opaque; here it names the last item returned, so a page
 * boundary survives deletions between calls.
 */
function paginate<T>(
  items: T[],
  keyOf: (item: T) => string,
  input: Record<string, any>,
): { items: T[]; isTruncated: boolean; marker?: string } {
  const maxItems = input.MaxItems === undefined ? 100 : Number(input.MaxItems);
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 1000) {
    throw validationError(String(input.MaxItems), 'maxItems', 'Member must have value between 1 and 1000');
  }
  let start = 0;
  if (input.Marker !== undefined) {
    let after: string;
    try {
      after = Buffer.from(String(input.Marker), 'base64url').toString('utf8');
    } catch {
      throw new AwsError('InvalidInput', 'Invalid Marker.', 400);
    }
    const exact = items.findIndex((x) => keyOf(x) === after);
    // The last item may have gone meanwhile: resume at the next key (lists here are sorted by key).
    const next = exact >= 0 ? exact + 1 : items.findIndex((x) => keyOf(x) > after);
    start = next < 0 ? items.length : next;
  }
  const page = items.slice(start, start + maxItems);
  const isTruncated = start + maxItems < items.length;
  const last = page[page.length - 1];
  return {
    items: page,
    isTruncated,
    ...(isTruncated && last !== undefined
      ? { marker: Buffer.from(keyOf(last), 'utf8').toString('base64url') }
      : {}),
  };
}

function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
