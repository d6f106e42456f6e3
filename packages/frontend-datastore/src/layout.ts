/**
 * How store keys map to Datastore entities.
 *
 * Every record and blob head lives under a root key `SmtpqGroup:<group>`, its entity group.
 * Queue keys (`msg/`, `env/`, `expired/`, `body/` and a msgid) are grouped by their type and
 * the first two hex digits of the msgid, 1024 groups in all, so that a listing is a set of
 * ancestor queries (strongly consistent even on legacy Cloud Datastore) and a group's write
 * load is a 256th of the queue's. Every other key goes to one group of its own, `~`.
 *
 *   record   SmtpqGroup:<group> / SmtpqRecord:<key>      data, version
 *   blob     SmtpqGroup:<group> / SmtpqBlob:<key>        upload, size, chunkSize, chunks, ...
 *   chunk    SmtpqChunk:<key>#<upload>#<index>           data   (a root entity per chunk)
 *   group    SmtpqDirectory:groups / SmtpqGroupEntry:<group>   (see GroupDirectory)
 */

export const KIND = {
  group: 'SmtpqGroup',
  record: 'SmtpqRecord',
  blob: 'SmtpqBlob',
  chunk: 'SmtpqChunk',
  directory: 'SmtpqDirectory',
  directoryEntry: 'SmtpqGroupEntry',
} as const;

/** Group of every key that is not a queue key. */
export const MISC_GROUP = '~';

const QUEUE_KEY = /^(body|env|expired|msg)\/([0-9a-f]{2})/;

/** The 1024 groups of queue keys, in key order. */
export const SHARD_GROUPS: readonly string[] = ['body', 'env', 'expired', 'msg'].flatMap((type) =>
  Array.from({ length: 256 }, (_, shard) => `${type}/${shard.toString(16).padStart(2, '0')}`),
);

/** Longest store key the driver accepts, so that every entity key stays far below 6 KiB. */
export const MAX_STORE_KEY_LENGTH = 500;

const STORE_KEY = /^[a-z0-9._-]+(?:\/[a-z0-9._-]+)*$/;
const STORE_PREFIX = /^[a-z0-9._/-]*$/;

export function checkStoreKey(key: string): void {
  if (key.length > MAX_STORE_KEY_LENGTH || !STORE_KEY.test(key)) {
    throw new Error(
      `invalid store key ${JSON.stringify(key.slice(0, 80))}: expected '/'-separated names of ` +
        `a-z, 0-9, '.', '_' and '-', at most ${MAX_STORE_KEY_LENGTH} characters`,
    );
  }
}

export function checkStorePrefix(prefix: string): void {
  if (prefix.length > MAX_STORE_KEY_LENGTH || !STORE_PREFIX.test(prefix)) {
    throw new Error(
      `invalid store key prefix ${JSON.stringify(prefix.slice(0, 80))}: expected a-z, 0-9, ` +
        `'.', '_', '-' and '/', at most ${MAX_STORE_KEY_LENGTH} characters`,
    );
  }
}

/** Returns the entity group of a store key. */
export function groupOf(key: string): string {
  const match = QUEUE_KEY.exec(key);
  return match === null ? MISC_GROUP : `${match[1]}/${match[2]}`;
}

/**
 * Returns the groups that can hold keys with `prefix` sorting after `after`: the shard groups
 * in key order, and whether the misc group can hold some too.
 */
export function groupsOfRange(
  prefix: string,
  after: string | undefined,
): { shards: string[]; misc: boolean } {
  const match = QUEUE_KEY.exec(prefix);
  if (match !== null) return { shards: [`${match[1]}/${match[2]}`], misc: false };

  const shards = SHARD_GROUPS.filter((group) => {
    if (!group.startsWith(prefix)) return false;
    // Every key of a group starts with the group's name; skip groups that end before `after`.
    return after === undefined || after <= group || after.startsWith(group);
  });
  return { shards, misc: true };
}

/** Returns the smallest string above every string that starts with `prefix` (ASCII keys). */
export function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return `${prefix.slice(0, -1)}${String.fromCharCode(last + 1)}`;
}

/** Name of the chunk entity `index` of an upload of blob `key`. */
export function chunkName(key: string, upload: string, index: number): string {
  return `${key}#${upload}#${index.toString().padStart(8, '0')}`;
}

/** Splits a chunk name into its blob key, upload id and index, or returns null. */
export function parseChunkName(
  name: string,
): { key: string; upload: string; index: number } | null {
  const match = /^(.+)#([0-9a-f]{12}-[0-9a-f]{16})#([0-9]{8})$/.exec(name);
  if (match === null) return null;
  return { key: match[1] as string, upload: match[2] as string, index: Number(match[3]) };
}

/** A new upload id: the time in ms (12 hex digits), then 16 random hex digits. */
export function uploadId(now: number, random: string): string {
  return `${now.toString(16).padStart(12, '0')}-${random}`;
}

/** Returns the time an upload began, in ms, from its id. */
export function uploadTime(upload: string): number {
  return Number.parseInt(upload.slice(0, 12), 16);
}
