import { AwsError } from '../../core/errors.ts';
import { listOf } from '../../core/query.ts';
import type { Resource } from './state.ts';
import { type Ec2Operations, type Ec2Store, type Kind, PREFIX } from './store.ts';
import { isIdOf, str, strings, validateTags } from './util.ts';

/** CreateTags and DeleteTags on any resource by id (tags at creation come with TagSpecifications). */

function taggable(s: Ec2Store, id: string, region: string): Resource {
  const prefix = id.split('-')[0] ?? '';
  const kind = (Object.keys(PREFIX) as Kind[]).find((k) => PREFIX[k] === prefix);
  if (!kind || !isIdOf(PREFIX[kind], id)) throw new AwsError('InvalidID', `The ID '${id}' is not valid`);
  return s.find(kind, id, region);
}

function resourcesOf(s: Ec2Store, input: Record<string, any>, region: string): Resource[] {
  const ids = strings(input.ResourceId);
  if (ids.length === 0)
    throw new AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet');
  return ids.map((id) => taggable(s, id, region));
}

export function tagOperations(s: Ec2Store): Ec2Operations {
  return {
    CreateTags(input, region) {
      const resources = resourcesOf(s, input, region);
      const tags = validateTags(listOf<Record<string, any>>(input.Tag));
      // Check every resource first: CreateTags is all or nothing.
      for (const r of resources) {
        if (new Set([...r.tags.keys(), ...tags.map(([k]) => k)]).size > 50) {
          throw new AwsError(
            'TagLimitExceeded',
            'The maximum number of Tags for a resource has been reached.',
          );
        }
      }
      for (const r of resources) for (const [k, v] of tags) r.tags.set(k, v);
      return {};
    },
    DeleteTags(input, region) {
      const resources = resourcesOf(s, input, region);
      const pairs = listOf<Record<string, any>>(input.Tag);
      for (const r of resources) {
        if (pairs.length === 0) {
          r.tags.clear();
          continue;
        }
        for (const p of pairs) {
          const key = str(p.Key) ?? '';
          // A tag named with a value goes only if the value matches; without a value it goes whatever its value.
          if (p.Value === undefined || r.tags.get(key) === str(p.Value)) r.tags.delete(key);
        }
      }
      return {};
    },
  };
}
