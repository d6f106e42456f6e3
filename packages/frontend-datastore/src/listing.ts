import { and, PropertyFilter } from '@google-cloud/datastore';
import type { DatastoreAccess } from './access.js';
import { checkStorePrefix, groupsOfRange, KIND, MISC_GROUP, prefixEnd } from './layout.js';
import { clientCall, withRetries } from './retry.js';

/** Group queries in flight at once while a listing fans out over shard groups. */
const GROUP_QUERIES_IN_FLIGHT = 32;

/**
 * Lists record (`SmtpqRecord`) or blob (`SmtpqBlob`) keys with `prefix` after `after`, in
 * byte order. Every query is an ancestor query over one entity group (the group directory
 * first, then each group that can hold such keys), so a listing sees every write that
 * completed before it, even where non-ancestor queries are eventually consistent.
 *
 * The shard groups hold disjoint key ranges in group order, so they are read in that order
 * (a wave at a time) until `limit` keys are found; the misc group can hold keys anywhere in
 * the range, so its first `limit` keys are merged in.
 */
export async function listKeys(
  access: DatastoreAccess,
  kind: typeof KIND.record | typeof KIND.blob,
  prefix: string,
  options: { after?: string; limit: number },
): Promise<string[]> {
  access.checkOpen();
  checkStorePrefix(prefix);
  const { limit } = options;
  const after = options.after === '' ? undefined : options.after;
  if (limit <= 0) return [];

  const groups = groupsOfRange(prefix, after);
  const only = groups.shards[0];
  if (!groups.misc && groups.shards.length === 1 && only !== undefined) {
    // One group: querying it costs no more than asking the directory whether it exists.
    return listGroup(access, kind, only, prefix, after, limit);
  }

  const existing = new Set(await access.directory.groups());
  const shards = groups.shards.filter((group) => existing.has(group));
  const misc =
    groups.misc && existing.has(MISC_GROUP)
      ? listGroup(access, kind, MISC_GROUP, prefix, after, limit)
      : [];

  const shardKeys: string[] = [];
  for (let start = 0; start < shards.length; start += GROUP_QUERIES_IN_FLIGHT) {
    if (shardKeys.length >= limit) break;
    const wave = shards.slice(start, start + GROUP_QUERIES_IN_FLIGHT);
    const wanted = limit - shardKeys.length;
    const pages = await Promise.all(
      wave.map((group) => listGroup(access, kind, group, prefix, after, wanted)),
    );
    for (const page of pages) shardKeys.push(...page);
  }

  const merged = [...(await misc), ...shardKeys];
  // Byte order of the keys, as every driver lists them (localeCompare would not give it).
  merged.sort((a, b) => {
    if (a < b) return -1;
    if (a > b) return 1;
    return 0;
  });
  return merged.slice(0, limit);
}

/** Reads the first `limit` keys of one group in the range, by an ancestor keys-only query. */
async function listGroup(
  access: DatastoreAccess,
  kind: string,
  group: string,
  prefix: string,
  after: string | undefined,
  limit: number,
): Promise<string[]> {
  const child = (name: string) => access.key([KIND.group, group, kind, name]);
  const filters = [new PropertyFilter('__key__', 'HAS_ANCESTOR', access.groupKey(group))];
  if (prefix !== '') {
    filters.push(new PropertyFilter('__key__', '>=', child(prefix)));
    filters.push(new PropertyFilter('__key__', '<', child(prefixEnd(prefix))));
  }
  if (after !== undefined) filters.push(new PropertyFilter('__key__', '>', child(after)));

  const query = access.client
    .createQuery(access.target.namespace, kind)
    .filter(and(filters))
    .select('__key__')
    .order('__key__')
    .limit(limit);

  return withRetries(`list ${kind} ${group}`, access.policy, async () => {
    const [entities] = await clientCall(`list ${kind} ${group}`, () =>
      access.client.runQuery(query, { gaxOptions: access.callOptions() }),
    );
    return entities.map((entity) => String(entity[access.client.KEY].name));
  });
}
