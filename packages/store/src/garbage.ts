import type { Msgid } from '@smtpq/protocol';
import type { StorageDriver } from './driver.js';
import { bodyKeyTime, expiredKey, KEY_PREFIX, messageKey, msgidOfKey } from './keys.js';
import type { GarbageReport, QueueOptions } from './queue-types.js';
import type { MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';

/** What garbage collection needs of the queue store. */
export interface GarbageSource {
  readonly driver: StorageDriver;
  readonly options: QueueOptions;
  messageLoad(msgid: Msgid): Promise<{ record: MessageRecord; version: string } | null>;
  messageContentsDelete(msgid: Msgid, record: MessageRecord | null): Promise<void>;
}

const PAGE = 1000;

/**
 * Removes what no client can reach any more: messages left uncommitted past the maximum age
 * (with a tombstone, so a late commit gets message-expired), committed messages with no
 * envelope left (a crash between an envelope delete and the message delete), envelopes and
 * bodies whose message is gone, uploads that no message points to, and old tombstones.
 *
 * Limit: every pass lists every message, envelope and body key, so its cost grows with the
 * queue. It runs every few minutes, which suits queues up to hundreds of thousands of mails.
 */
export async function collectGarbage(source: GarbageSource): Promise<GarbageReport> {
  const report: GarbageReport = { expiredMessages: 0, orphanEnvelopes: 0, orphanBodies: 0 };
  const cutoff = source.options.now() - source.options.uncommittedMaxAgeMs;

  await forEachKey(source.driver, KEY_PREFIX.message, false, async (key) => {
    const msgid = msgidOfKey(key);
    if (msgid !== null && (await messageExpire(source, msgid, cutoff))) {
      report.expiredMessages += 1;
    }
  });

  const present = new Map<Msgid, boolean>();
  const messageExists = async (msgid: Msgid) => {
    const known = present.get(msgid);
    if (known !== undefined) return known;
    const exists = (await source.messageLoad(msgid)) !== null;
    present.set(msgid, exists);
    return exists;
  };

  await forEachKey(source.driver, KEY_PREFIX.envelope, false, async (key) => {
    const msgid = msgidOfKey(key);
    if (msgid === null || (await messageExists(msgid))) return;
    await storageCall('envelope delete', () => source.driver.delete(key));
    report.orphanEnvelopes += 1;
  });

  await forEachKey(source.driver, KEY_PREFIX.body, true, async (key) => {
    const msgid = msgidOfKey(key);
    if (msgid === null) return;
    const loaded = await source.messageLoad(msgid);
    if (loaded?.record.body?.key === key) return;

    // An upload in progress is not yet referenced by its message: leave young ones alone.
    const uploadedAt = bodyKeyTime(key);
    if (loaded !== null && (uploadedAt === null || uploadedAt > cutoff)) return;
    await storageCall('body delete', () => source.driver.blobDelete(key));
    report.orphanBodies += 1;
  });

  await forEachKey(source.driver, KEY_PREFIX.expired, false, async (key) => {
    const stored = await storageCall('tombstone read', () => source.driver.get(key));
    const expiredAt = stored === null ? 0 : Number(JSON.parse(stored.data.toString()).expiredAt);
    if (expiredAt < cutoff) await storageCall('tombstone delete', () => source.driver.delete(key));
  });

  return report;
}

/** Removes one message if it is garbage. Returns whether it expired uncommitted. */
async function messageExpire(source: GarbageSource, msgid: Msgid, cutoff: number) {
  const loaded = await source.messageLoad(msgid);
  if (loaded === null || loaded.record.createdAt > cutoff) return false;

  const { record } = loaded;
  if (record.state === 'committed') {
    const envelopes = await storageCall('envelope list', () =>
      source.driver.list(`${KEY_PREFIX.envelope}${msgid}/`, { limit: 1 }),
    );
    if (envelopes.length > 0) return false;
  }

  // Compare-and-swap on the read version: a commit that won the race keeps its message.
  const result = await storageCall('message delete', () =>
    source.driver.delete(messageKey(msgid), loaded.version),
  );
  if (result !== 'deleted') return false;

  if (record.state === 'open') {
    const tombstone = Buffer.from(JSON.stringify({ expiredAt: source.options.now() }));
    await storageCall('tombstone write', () => source.driver.create(expiredKey(msgid), tombstone));
  }
  await source.messageContentsDelete(msgid, record);
  return record.state === 'open';
}

async function forEachKey(
  driver: StorageDriver,
  prefix: string,
  blobs: boolean,
  work: (key: string) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const keys = await storageCall('garbage list', () =>
      blobs
        ? driver.blobList(prefix, { after, limit: PAGE })
        : driver.list(prefix, { after, limit: PAGE }),
    );
    for (const key of keys) await work(key);
    if (keys.length < PAGE) return;
    after = keys[keys.length - 1];
  }
}
