import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import {
  type BodyUpload,
  createQueueStore,
  type QueueOptions,
  type QueueStore,
  type StorageDriver,
} from '@smtpq/store';
import { chunksOf } from './streams.js';

/** A clock that tests move by hand. */
export interface TestClock {
  now: number;
}

export function newClock(): TestClock {
  return { now: Date.now() };
}

/** Opens the queue semantics over `driver` with the test clock and any option overrides. */
export function queueOver(
  driver: StorageDriver,
  clock: TestClock,
  options: Partial<QueueOptions> = {},
): QueueStore {
  return createQueueStore(driver, { ...options, now: () => clock.now });
}

/** Returns a body upload of `data` with its digest and length, as the server passes it. */
export function uploadOf(data: Buffer): BodyUpload {
  return {
    source: chunksOf(data),
    sha256: createHash('sha256').update(data).digest(),
    length: data.length,
  };
}

/** Returns the error code a promise rejects with, or `ok` when it resolves. */
export async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
}

/** Returns the evpid `index` (from 1) of `msgid`. */
export function evpidOf(msgid: string, index: number): string {
  return msgid + index.toString(16).padStart(8, '0');
}

/** Creates a committed message with the given envelopes and body. */
export async function commitMessage(
  store: QueueStore,
  msgid: string,
  envelopes: Array<{ evpid: string; data: Buffer }>,
  body: Buffer,
): Promise<void> {
  await store.messageCreate({ msgid });
  for (const envelope of envelopes) {
    await store.envelopeCreate(msgid, envelope.data, { evpid: envelope.evpid });
  }
  await store.bodyPut(msgid, uploadOf(body));
  await store.messageCommit(msgid);
}

/** Walks the whole queue, or one message, and returns every entry in the order received. */
export async function walkEntries(
  store: QueueStore,
  options: { limit?: number; msgid?: string; includeUncommitted?: boolean } = {},
): Promise<Array<{ evpid: string; data: Buffer; etag: string }>> {
  const entries: Array<{ evpid: string; data: Buffer; etag: string }> = [];
  let cursor: string | undefined;
  for (;;) {
    const page =
      options.msgid === undefined
        ? await store.walk({ cursor, limit: options.limit })
        : await store.messageWalk(options.msgid, {
            cursor,
            limit: options.limit,
            includeUncommitted: options.includeUncommitted,
          });
    for (const entry of page.envelopes) {
      entries.push({
        evpid: entry.evpid,
        etag: entry.etag,
        data: Buffer.from(entry.data, 'base64'),
      });
    }
    if (page.end) return entries;
    if (page.next === null) throw new Error('walk page has end false and next null');
    cursor = page.next;
  }
}
