/** Every resource a run creates carries these tags from creation, so cleanup and the sweeper can find it. */
import type { ResourceType, TagSpecification } from '@aws-sdk/client-ec2';
import { type ExecutionInput, TAG_KEYS } from '../../statemachine/contract.ts';

export interface RunTags {
  runId: string;
  owner: string;
  expiresAt: string;
}

export function runTags(input: ExecutionInput, expiresAt: string): RunTags {
  return { runId: input.runId, owner: input.owner, expiresAt };
}

export function tagList(t: RunTags, name?: string): { Key: string; Value: string }[] {
  const tags: { Key: string; Value: string }[] = [
    { Key: TAG_KEYS.runId, Value: t.runId },
    { Key: TAG_KEYS.owner, Value: t.owner },
    { Key: TAG_KEYS.expiresAt, Value: t.expiresAt },
  ];
  if (name) tags.push({ Key: 'Name', Value: name });
  return tags;
}

export function tagSpecifications(resourceType: ResourceType, t: RunTags, name?: string): TagSpecification[] {
  return [{ ResourceType: resourceType, Tags: tagList(t, name) }];
}

/** Lambda and IAM take tags as a map. */
export function tagMap(t: RunTags): Record<string, string> {
  return { [TAG_KEYS.runId]: t.runId, [TAG_KEYS.owner]: t.owner, [TAG_KEYS.expiresAt]: t.expiresAt };
}

export const runIdFilter = (runId: string) => ({ Name: `tag:${TAG_KEYS.runId}`, Values: [runId] });
