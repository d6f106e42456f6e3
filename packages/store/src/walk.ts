import {
  DEFAULT_WALK_PAGE_ENVELOPES,
  type MessageInfo,
  type Msgid,
  QueueError,
  type WalkEntry,
  type WalkPage,
} from '@smtpq/protocol';
import { forEachBounded } from './bounded.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { etagOf } from './etag.js';
import { envelopePrefix, evpidOfKey, KEY_PREFIX, msgidOfKey } from './keys.js';
import type { MessageListOptions, QueueOptions, WalkOptions } from './queue-types.js';
import { messageInfoOf } from './records.js';
import { storageCall } from './storage-errors.js';
import { type Visibility, type WalkBatchSource, walkBatchRead } from './walk-batch.js';

/** What the walk needs of the queue store. */
export interface WalkSource extends WalkBatchSource {
  readonly options: QueueOptions;
}

/** Keys read in one listing or scan call. */
const LIST_BATCH = 1000;

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
  const filter = { includeUncommitted, owner };
  let bytes = 0;
  let scanned = 0;
  let end = false;

  page: for (;;) {
    const batch = Math.min(LIST_BATCH, limit - envelopes.length);
    const range = { after, limit: batch };
    const { keys, shown } = await walkBatchRead(source, prefix, range, visibility, filter);

    for (const key of keys) {
      const data = shown.get(key);
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
