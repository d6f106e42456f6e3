import {
  DEFAULT_WALK_PAGE_ENVELOPES,
  type MessageInfo,
  type Msgid,
  QueueError,
  type WalkEntry,
  type WalkPage,
} from '@smtpq/protocol';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { StorageDriver } from './driver.js';
import { etagOf } from './etag.js';
import { envelopePrefix, evpidOfKey, KEY_PREFIX, msgidOfKey } from './keys.js';
import type { MessageListOptions, QueueOptions, WalkOptions } from './queue-types.js';
import { decodeEnvelope, isOfGeneration, type MessageRecord, messageInfoOf } from './records.js';
import { storageCall } from './storage-errors.js';

/** What the walk needs of the queue store. */
export interface WalkSource {
  readonly driver: StorageDriver;
  readonly options: QueueOptions;
  messageLoad(msgid: Msgid): Promise<{ record: MessageRecord; version: string } | null>;
}

/** Keys read in one listing call. */
const LIST_BATCH = 1000;

/** Envelope and message reads in flight at once while a page is filled. */
const READ_CONCURRENCY = 32;

/**
 * Keys a page may pass over (invisible envelopes of open messages) before it is returned
 * short, so that one request stays bounded however much uncommitted mail the store holds.
 */
const SCAN_BUDGET = 20_000;

/**
 * Reads one walk page in evpid order. `scope` is `all` for the queue walk or a msgid for the
 * walk of one message. The cursor is the last key the page covered, so a key is never
 * returned twice in one walk whatever changes between pages. With `owner`, only envelopes of
 * messages that pool node owns are shown.
 */
export async function walkPage(
  source: WalkSource,
  scope: string,
  options: WalkOptions,
  includeUncommitted: boolean,
  owner?: string,
): Promise<WalkPage> {
  const limit = pageLimit(options.limit, source.options.maxWalkPageEnvelopes);
  const prefix = scope === 'all' ? KEY_PREFIX.envelope : envelopePrefix(scope);
  let after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, scope).after;

  const envelopes: WalkEntry[] = [];
  const visibility = new Map<Msgid, Visibility>();
  let bytes = 0;
  let scanned = 0;
  let end = false;

  page: for (;;) {
    const batch = Math.min(LIST_BATCH, limit - envelopes.length);
    const keys = await storageCall('walk list', () =>
      source.driver.list(prefix, { after, limit: batch }),
    );
    await loadVisibility(source, keys, visibility, includeUncommitted, owner);
    const records = await readEnvelopes(source.driver, keys, visibility);

    for (const key of keys) {
      const data = records.get(key);
      if (data !== undefined) {
        const full =
          envelopes.length > 0 && bytes + data.data.length > source.options.maxWalkPageBytes;
        if (full) break page;

        envelopes.push({
          evpid: evpidOfKey(key) as string,
          etag: etagOf(data.version),
          data: data.data.toString('base64'),
        });
        bytes += data.data.length;
      }
      after = key;
      if (envelopes.length >= limit) break page;
    }

    if (keys.length < batch) {
      end = true;
      break;
    }
    scanned += keys.length;
    if (scanned >= SCAN_BUDGET) break;
  }

  if (end) return { envelopes, next: null, end: true };
  return { envelopes, next: encodeCursor({ scope, after: after ?? '' }), end: false };
}

/**
 * Whether the envelopes of a message are shown, and the generation they must carry: an
 * envelope of another generation was left by another message of the same msgid.
 */
type Visibility = { shown: false } | { shown: true; generation: string | null };

async function loadVisibility(
  source: WalkSource,
  keys: string[],
  visibility: Map<Msgid, Visibility>,
  includeUncommitted: boolean,
  owner: string | undefined,
): Promise<void> {
  const unknown = new Set<Msgid>();
  for (const key of keys) {
    const msgid = msgidOfKey(key);
    if (msgid !== null && !visibility.has(msgid)) unknown.add(msgid);
  }

  await forEachBounded([...unknown], async (msgid) => {
    const loaded = await source.messageLoad(msgid);
    const shown =
      loaded !== null &&
      (loaded.record.state === 'committed' || includeUncommitted) &&
      (owner === undefined || loaded.record.owner === owner);
    visibility.set(
      msgid,
      shown ? { shown, generation: loaded.record.generation } : { shown: false },
    );
  });
}

async function readEnvelopes(
  driver: StorageDriver,
  keys: string[],
  visibility: Map<Msgid, Visibility>,
): Promise<Map<string, { data: Buffer; version: string }>> {
  const records = new Map<string, { data: Buffer; version: string }>();
  const shownKeys = keys.filter((key) => {
    const msgid = msgidOfKey(key);
    return evpidOfKey(key) !== null && msgid !== null && visibility.get(msgid)?.shown === true;
  });

  await forEachBounded(shownKeys, async (key) => {
    const stored = await storageCall('walk read', () => driver.get(key));
    // An envelope deleted since the listing is simply not part of the walk.
    if (stored === null) return;
    const envelope = decodeEnvelope(stored.data, key);
    const message = visibility.get(msgidOfKey(key) as Msgid);
    if (message?.shown !== true || !isOfGeneration(envelope, message.generation)) return;
    records.set(key, { data: envelope.data, version: stored.version });
  });
  return records;
}

/**
 * Lists messages in msgid order, for operators and for pool nodes that look for messages to
 * claim. `options.owner` keeps the messages of one node, or with null the unowned ones.
 */
export async function listMessages(
  source: WalkSource,
  options: MessageListOptions,
): Promise<{ messages: MessageInfo[]; next: string | null; end: boolean }> {
  const limit = pageLimit(options.limit, source.options.maxWalkPageEnvelopes);
  const scope = `messages:${options.state ?? 'any'}`;
  const after =
    options.cursor === undefined ? undefined : decodeCursor(options.cursor, scope).after;

  const keys = await storageCall('message list', () =>
    source.driver.list(KEY_PREFIX.message, { after, limit }),
  );
  const infos = new Map<string, MessageInfo>();
  await forEachBounded(keys, async (key) => {
    const msgid = msgidOfKey(key);
    // A message deleted since the listing is simply not part of the page.
    const loaded = msgid === null ? null : await source.messageLoad(msgid);
    if (msgid !== null && loaded !== null) infos.set(key, messageInfoOf(msgid, loaded.record));
  });

  const messages = keys
    .map((key) => infos.get(key))
    .filter((info): info is MessageInfo => info !== undefined)
    .filter((info) => options.state === undefined || info.state === options.state)
    .filter((info) => options.owner === undefined || info.owner === options.owner);

  if (keys.length < limit) return { messages, next: null, end: true };
  const last = keys[keys.length - 1] ?? '';
  return { messages, next: encodeCursor({ scope, after: last }), end: false };
}

function pageLimit(limit: number | undefined, max: number): number {
  if (limit === undefined) return Math.min(DEFAULT_WALK_PAGE_ENVELOPES, max);
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new QueueError('invalid-limit', `limit ${limit} is not an integer from 1 to ${max}`, {
      details: { max },
    });
  }
  return limit;
}

export async function forEachBounded<T>(
  items: T[],
  work: (item: T) => Promise<void>,
  concurrency = READ_CONCURRENCY,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
