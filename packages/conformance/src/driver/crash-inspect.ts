import { createHash } from 'node:crypto';
import { evpidMsgid, QueueError } from '@smtpq/protocol';
import type { QueueStore, StorageDriver } from '@smtpq/store';
import { check, fail, show } from '../failure.js';
import { readAll } from './streams.js';

/**
 * The key prefixes of the queue's layout in every driver (packages/store/src/keys.ts):
 * message records, envelope records, expiry tombstones and body blobs.
 */
export const PREFIX = { message: 'msg/', envelope: 'env/', expired: 'expired/', body: 'body/' };

/** Client-visible state of one message. */
export interface MessageView {
  state: 'absent' | 'open' | 'committed';
  /** SHA-256 of the body bytes read back, or null without a body. */
  bodySha256: string | null;
  /** Walk entries of the message as `evpid sha256-of-data`, in walk order. */
  walk: string[];
}

/** Client-visible state of the whole queue, and the keys the store contains. */
export interface QueueSnapshot {
  messages: Map<string, MessageView>;
  /**
   * Record and blob keys, except tombstones, with the random part of body keys left out, so
   * that two stores holding the same queue have the same list.
   */
  keys: string[];
}

export const ABSENT: MessageView = { state: 'absent', bodySha256: null, walk: [] };

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listAll(
  list: (options: { after?: string; limit: number }) => Promise<string[]>,
): Promise<string[]> {
  const keys: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await list({ after, limit: 1000 });
    keys.push(...page);
    if (page.length < 1000) return keys;
    after = page[page.length - 1];
  }
}

/** Runs `read` and turns an unreadable stored record into a failure that names it. */
async function readable<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof QueueError && error.code === 'internal') {
      fail(`${what} is unreadable (a torn record?): ${error.message}`);
    }
    throw error;
  }
}

/**
 * Reads everything a client can see through `store`. On the way it checks that every record
 * is readable and that the walk returns each envelope once, in evpid order. It also checks
 * that the walk shows only envelopes of committed messages, and that every body matches its
 * recorded digest.
 */
export async function inspectQueue(
  store: QueueStore,
  driver: StorageDriver,
): Promise<QueueSnapshot> {
  const walked = new Map<string, string[]>();
  let previous = '';
  let cursor: string | undefined;
  for (;;) {
    const page = await store.walk({ cursor, limit: 3 });
    for (const entry of page.envelopes) {
      check(
        entry.evpid > previous,
        `walk returned ${entry.evpid} after ${previous}: twice or out of order`,
      );
      previous = entry.evpid;
      const data = Buffer.from(entry.data, 'base64');
      const msgid = evpidMsgid(entry.evpid);
      walked.set(msgid, [...(walked.get(msgid) ?? []), `${entry.evpid} ${sha256Hex(data)}`]);
    }
    if (page.end) break;
    cursor = page.next ?? fail('walk page has end false and next null');
  }

  const messages = new Map<string, MessageView>();
  const messageKeys = await listAll((options) => driver.list(PREFIX.message, options));
  for (const key of messageKeys) {
    const msgid = key.slice(PREFIX.message.length);
    const info = await readable(`message record ${key}`, () => store.messageInfo(msgid));
    const walk = walked.get(msgid) ?? [];
    check(
      info.state === 'committed' || walk.length === 0,
      `walk shows ${walk.length} envelopes of message ${msgid}, which is not committed`,
    );

    let bodySha256: string | null = null;
    if (info.bodySha256 !== null) {
      const body = await readable(`body of ${msgid}`, () => store.bodyGet(msgid));
      const data = await readAll(body.stream);
      bodySha256 = sha256Hex(data);
      check(
        bodySha256 === info.bodySha256,
        `body of ${msgid} has sha256 ${bodySha256}, its record says ${info.bodySha256}`,
      );
      check(
        data.length === info.bodySize,
        `body of ${msgid} has ${data.length} bytes, its record says ${info.bodySize}`,
      );
    }

    if (info.state === 'committed') {
      const own: string[] = [];
      let messageCursor: string | undefined;
      for (;;) {
        const page = await store.messageWalk(msgid, { cursor: messageCursor, limit: 2 });
        for (const entry of page.envelopes)
          own.push(`${entry.evpid} ${sha256Hex(Buffer.from(entry.data, 'base64'))}`);
        if (page.end) break;
        messageCursor = page.next ?? fail('message walk page has end false and next null');
      }
      check(
        show(own) === show(walk),
        `walk of message ${msgid} returned ${show(own)}, the queue walk ${show(walk)}`,
      );
    }
    messages.set(msgid, { state: info.state, bodySha256, walk });
  }

  for (const msgid of walked.keys()) {
    check(messages.has(msgid), `walk shows envelopes of message ${msgid}, which has no record`);
  }

  const envelopeKeys = await listAll((options) => driver.list(PREFIX.envelope, options));
  for (const key of envelopeKeys) {
    const evpid = key.slice(key.lastIndexOf('/') + 1);
    await readable(`envelope record ${key}`, () => store.envelopeGet(evpid));
  }

  const records = await listAll((options) => driver.list('', options));
  const blobs = await listAll((options) => driver.blobList('', options));
  const keys = [
    ...records.filter((key) => !key.startsWith(PREFIX.expired)),
    ...blobs.map((key) =>
      key.startsWith(PREFIX.body) ? `${key.slice(0, key.lastIndexOf('/'))}/*` : key,
    ),
  ].sort();
  return { messages, keys };
}

/** Returns the view of one message in a snapshot. */
export function viewOf(snapshot: QueueSnapshot, msgid: string): MessageView {
  return snapshot.messages.get(msgid) ?? ABSENT;
}

export function sameView(a: MessageView, b: MessageView): boolean {
  return (
    a.state === b.state && a.bodySha256 === b.bodySha256 && show(a.walk, 1e6) === show(b.walk, 1e6)
  );
}

export function describeView(view: MessageView): string {
  const body = view.bodySha256 === null ? 'no body' : `body ${view.bodySha256.slice(0, 12)}`;
  const evpids = view.walk.map((entry) => entry.split(' ')[0]);
  return `${view.state}, ${body}, walk [${evpids.join(' ')}]`;
}
