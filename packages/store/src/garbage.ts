import type { Msgid } from '@smtpq/protocol';
import type { StorageDriver } from './driver.js';
import { bodyKeyTime, expiredKey, KEY_PREFIX, messageKey, msgidOfKey } from './keys.js';
import type { GarbageReport, QueueCensus, QueueOptions } from './queue-types.js';
import { decodeEnvelope, type MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';
import { hasOwnEnvelope } from './visibility.js';

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
 * envelope of their generation left (a crash between an envelope delete and the message
 * delete), envelopes and bodies whose message is gone, uploads that no message points to, and
 * old tombstones. Envelopes and uploads younger than the uncommitted age stay even without a
 * message, because a bundle in progress writes them before its message exists. The report
 * also counts what the pass found (its census), which the server exports as metrics.
 *
 * Limit: every pass lists every message, envelope and body key, so its cost grows with the
 * queue. It runs every few minutes, which suits queues up to hundreds of thousands of mails.
 */
export async function collectGarbage(source: GarbageSource): Promise<GarbageReport> {
  const now = source.options.now();
  const cutoff = now - source.options.uncommittedMaxAgeMs;
  const census: QueueCensus = {
    openMessages: 0,
    committedMessages: 0,
    envelopes: 0,
    oldestCommittedAt: null,
    takenAt: now,
  };
  const report: GarbageReport = {
    expiredMessages: 0,
    orphanEnvelopes: 0,
    orphanBodies: 0,
    census,
  };

  await forEachKey(source.driver, KEY_PREFIX.message, false, async (key) => {
    const msgid = msgidOfKey(key);
    if (msgid === null) return;

    const outcome = await messageExpire(source, msgid, cutoff);
    if (outcome.kind === 'expired') report.expiredMessages += 1;
    if (outcome.kind !== 'kept') return;

    const { record } = outcome;
    if (record.state === 'open') {
      census.openMessages += 1;
      return;
    }
    census.committedMessages += 1;
    if (census.oldestCommittedAt === null || record.createdAt < census.oldestCommittedAt) {
      census.oldestCommittedAt = record.createdAt;
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
    if (msgid === null) return;
    census.envelopes += 1;
    if (await messageExists(msgid)) return;

    // A bundle writes its envelopes while it creates its message, so a young envelope without
    // a message may belong to a bundle in progress.
    const stored = await storageCall('envelope read', () => source.driver.get(key));
    if (stored === null) return;
    const createdAt = decodeEnvelope(stored.data, key).createdAt;
    if (createdAt !== null && createdAt > cutoff) return;

    const result = await storageCall('envelope delete', () =>
      source.driver.delete(key, stored.version),
    );
    if (result !== 'deleted') return;
    report.orphanEnvelopes += 1;
    census.envelopes -= 1;
  });

  await forEachKey(source.driver, KEY_PREFIX.body, true, async (key) => {
    const msgid = msgidOfKey(key);
    if (msgid === null) return;
    const loaded = await source.messageLoad(msgid);
    if (loaded?.record.body?.key === key) return;

    // An upload in progress is not yet referenced by its message, which a bundle may not even
    // have created yet: leave young ones alone.
    const uploadedAt = bodyKeyTime(key);
    if (uploadedAt !== null && uploadedAt > cutoff) return;
    if (uploadedAt === null && loaded !== null) return;
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

/** The outcome of messageExpire for one message. */
type MessageOutcome =
  | { kind: 'absent' }
  | { kind: 'kept'; record: MessageRecord }
  | { kind: 'expired' }
  | { kind: 'removed' };

/**
 * Removes one message if it is garbage: `expired` when it stayed uncommitted too long,
 * `removed` when it was committed and has no envelope left.
 */
export async function messageExpire(
  source: GarbageSource,
  msgid: Msgid,
  cutoff: number,
): Promise<MessageOutcome> {
  const loaded = await source.messageLoad(msgid);
  if (loaded === null) return { kind: 'absent' };

  const { record } = loaded;
  if (record.createdAt > cutoff) return { kind: 'kept', record };
  if (record.state === 'committed') {
    if (await hasOwnEnvelope(source.driver, msgid, record.generation)) {
      return { kind: 'kept', record };
    }
  }

  // Compare-and-swap on the read version: a commit that won the race keeps its message.
  const result = await storageCall('message delete', () =>
    source.driver.delete(messageKey(msgid), loaded.version),
  );
  if (result === 'missing') return { kind: 'absent' };
  if (result === 'mismatch') return { kind: 'kept', record };

  if (record.state === 'open') {
    const tombstone = Buffer.from(JSON.stringify({ expiredAt: source.options.now() }));
    await storageCall('tombstone write', () => source.driver.create(expiredKey(msgid), tombstone));
  }
  await source.messageContentsDelete(msgid, record);
  return record.state === 'open' ? { kind: 'expired' } : { kind: 'removed' };
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
