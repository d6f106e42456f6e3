import type { Msgid } from '@smtpq/protocol';
import { forEachBounded } from './bounded.js';
import type { ScannedRecord, StorageDriver, StoredRecord } from './driver.js';
import { evpidOfKey, KEY_PREFIX, messageKey, msgidOfKey } from './keys.js';
import { decodeEnvelope, decodeMessage, isOfGeneration, type MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';

/** The parts of the queue store that reading a walk batch uses. */
export interface WalkBatchSource {
  readonly driver: StorageDriver;
  messageLoad(msgid: Msgid): Promise<{ record: MessageRecord; version: string } | null>;
}

/** Selection of the messages a walk shows: committed or open too, of every owner or of one. */
export interface WalkFilter {
  includeUncommitted: boolean;
  owner?: string;
}

/**
 * Whether the envelopes of a message are shown, and the generation they must carry: an
 * envelope of another generation was left by another message of the same msgid.
 */
export type Visibility = { shown: false } | { shown: true; generation: string | null };

/** One listing step of a walk page: the keys it covered, and the envelopes shown among them. */
export interface WalkBatch {
  keys: string[];
  shown: Map<string, StoredRecord>;
}

/** Maximum records of one `scan` call of message records. */
const MESSAGE_SCAN_LIMIT = 1000;

/**
 * Message records the scans of one batch may read before the remaining messages are read one
 * by one. The scans also read the records between the batch's msgids that have no envelope in
 * it, such as messages created but not yet given envelopes. This bound keeps that cost finite.
 */
const MESSAGE_SCAN_BUDGET = 2 * MESSAGE_SCAN_LIMIT;

/**
 * Reads up to `limit` keys of `prefix` after `after`, with the envelopes among them that the
 * walk shows. `visibility` caches the messages already read for the page and is filled here.
 * With the driver's `scan`, the envelopes take one request and their message records one or a
 * few more. Without it, the keys are listed and each record is read with `get`.
 */
export async function walkBatchRead(
  source: WalkBatchSource,
  prefix: string,
  options: { after?: string; limit: number },
  visibility: Map<Msgid, Visibility>,
  filter: WalkFilter,
): Promise<WalkBatch> {
  const driver = source.driver;
  if (driver.scan === undefined) {
    const keys = await storageCall('walk list', () => driver.list(prefix, options));
    await visibilityLoad(source, keys, visibility, filter);
    return { keys, shown: await envelopesRead(driver, keys, visibility) };
  }

  const scan = driver.scan.bind(driver);
  const records = await storageCall('walk scan', () => scan(prefix, options));
  const keys = records.map((record) => record.key);
  await visibilityLoad(source, keys, visibility, filter);

  const shown = new Map<string, StoredRecord>();
  for (const record of records) {
    const data = shownEnvelope(record.key, record, visibility);
    if (data !== null) shown.set(record.key, data);
  }
  return { keys, shown };
}

/** Returns the envelope bytes and version when the walk shows the record, else null. */
function shownEnvelope(
  key: string,
  stored: StoredRecord,
  visibility: Map<Msgid, Visibility>,
): StoredRecord | null {
  const msgid = msgidOfKey(key);
  if (evpidOfKey(key) === null || msgid === null) return null;
  const message = visibility.get(msgid);
  if (message?.shown !== true) return null;

  const envelope = decodeEnvelope(stored.data, key);
  if (!isOfGeneration(envelope, message.generation)) return null;
  return { data: envelope.data, version: stored.version };
}

/** Reads the message records of the msgids of `keys` that `visibility` does not have yet. */
async function visibilityLoad(
  source: WalkBatchSource,
  keys: string[],
  visibility: Map<Msgid, Visibility>,
  filter: WalkFilter,
): Promise<void> {
  const unknown = new Set<Msgid>();
  for (const key of keys) {
    const msgid = msgidOfKey(key);
    if (msgid !== null && !visibility.has(msgid)) unknown.add(msgid);
  }

  const loaded = await messagesRead(source, [...unknown].sort());
  for (const [msgid, record] of loaded) visibility.set(msgid, visibilityOf(record, filter));
}

function visibilityOf(record: MessageRecord | null, filter: WalkFilter): Visibility {
  const shown =
    record !== null &&
    (record.state === 'committed' || filter.includeUncommitted) &&
    (filter.owner === undefined || record.owner === filter.owner);
  return shown ? { shown, generation: record.generation } : { shown: false };
}

/**
 * Reads the records of `msgids` (sorted, without repeats); null stands for an absent message.
 * With `scan`, the `msg/` range from the first msgid to the last is read in growing steps, so
 * that few requests cover it without reading far past the last msgid.
 */
async function messagesRead(
  source: WalkBatchSource,
  msgids: Msgid[],
): Promise<Map<Msgid, MessageRecord | null>> {
  const records = new Map<Msgid, MessageRecord | null>();
  const driver = source.driver;
  const first = msgids[0];
  const last = msgids[msgids.length - 1];
  if (driver.scan === undefined || first === undefined || last === undefined) {
    await messagesLoad(source, msgids, records);
    return records;
  }

  const scan = driver.scan.bind(driver);
  const requested = new Set(msgids);
  const lastKey = messageKey(last);
  let after = messageKeyBefore(first);
  let limit = Math.min(MESSAGE_SCAN_LIMIT, msgids.length);
  let read = 0;

  for (;;) {
    const options = { after, limit };
    const scanned = await storageCall('message scan', () => scan(KEY_PREFIX.message, options));
    for (const record of scanned) messageKeep(record, requested, records);
    read += scanned.length;

    // The range contains no more records, or the scan reached the last msgid.
    const end = scanned[scanned.length - 1]?.key;
    if (scanned.length < limit || end === undefined || end >= lastKey) break;

    if (read >= MESSAGE_SCAN_BUDGET) {
      const rest = msgids.filter((msgid) => messageKey(msgid) > end);
      await messagesLoad(source, rest, records);
      break;
    }
    after = end;
    limit = Math.min(MESSAGE_SCAN_LIMIT, limit * 2);
  }

  // Every msgid is now either read or passed over by a scan, which means it does not exist.
  for (const msgid of msgids) if (!records.has(msgid)) records.set(msgid, null);
  return records;
}

function messageKeep(
  scanned: ScannedRecord,
  requested: Set<Msgid>,
  records: Map<Msgid, MessageRecord | null>,
): void {
  const msgid = msgidOfKey(scanned.key);
  if (msgid === null || !requested.has(msgid) || scanned.key !== messageKey(msgid)) return;
  records.set(msgid, decodeMessage(scanned.data, scanned.key));
}

/**
 * Returns the message key right before the key of `msgid`, so that a scan after it starts
 * with that message. Message keys are `msg/` and 8 hex digits, so it is the key of msgid − 1.
 */
function messageKeyBefore(msgid: Msgid): string | undefined {
  const value = Number.parseInt(msgid, 16);
  if (value === 0) return undefined;
  return messageKey((value - 1).toString(16).padStart(8, '0'));
}

async function messagesLoad(
  source: WalkBatchSource,
  msgids: Msgid[],
  records: Map<Msgid, MessageRecord | null>,
): Promise<void> {
  await forEachBounded(msgids, async (msgid) => {
    const loaded = await source.messageLoad(msgid);
    records.set(msgid, loaded?.record ?? null);
  });
}

async function envelopesRead(
  driver: StorageDriver,
  keys: string[],
  visibility: Map<Msgid, Visibility>,
): Promise<Map<string, StoredRecord>> {
  const shown = new Map<string, StoredRecord>();
  const shownKeys = keys.filter((key) => {
    const msgid = msgidOfKey(key);
    return evpidOfKey(key) !== null && msgid !== null && visibility.get(msgid)?.shown === true;
  });

  await forEachBounded(shownKeys, async (key) => {
    const stored = await storageCall('walk read', () => driver.get(key));
    // An envelope deleted since the listing is simply not part of the walk.
    if (stored === null) return;
    const data = shownEnvelope(key, stored, visibility);
    if (data !== null) shown.set(key, data);
  });
  return shown;
}
