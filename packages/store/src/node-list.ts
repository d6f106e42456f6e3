import type { Msgid, NodeInfo, NodeList, OwnedCounts } from '@smtpq/protocol';
import { forEachBounded } from './bounded.js';
import { KEY_PREFIX, msgidOfKey } from './keys.js';
import { decodeLease, type LeaseSource, nodeInfoOf } from './node-lease.js';
import type { MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';

/** Keys read per listing call. */
const PAGE = 1000;

/** The parts of the queue store that the node list uses. */
export interface NodeListSource extends LeaseSource {
  messageLoad(msgid: Msgid): Promise<{ record: MessageRecord; version: string } | null>;
}

/**
 * Lists the pool nodes that have a lease record, in name order. With `counts`, each entry
 * also has the messages and envelopes its node owns, and `unowned` those of no node.
 *
 * Limit: counts read every message record and list every envelope key, so their cost grows
 * with the queue, like a garbage-collection pass. They are meant for an operator's command.
 */
export async function nodeList(
  source: NodeListSource,
  options: { counts?: boolean } = {},
): Promise<NodeList> {
  const now = source.options.now();
  const nodes: NodeInfo[] = [];

  await forEachKeyPage(source, KEY_PREFIX.node, async (keys) => {
    const entries = new Map<string, NodeInfo>();
    await forEachBounded(keys, async (key) => {
      const stored = await storageCall('lease read', () => source.driver.get(key));
      if (stored === null) return;
      const name = key.slice(KEY_PREFIX.node.length);
      const record = decodeLease(stored.data, key);
      entries.set(key, nodeInfoOf(name, record, now, source.options.claimGraceMs));
    });
    for (const key of keys) {
      const entry = entries.get(key);
      if (entry !== undefined) nodes.push(entry);
    }
  });
  if (options.counts !== true) return { nodes };

  const counts = await ownedCounts(source);
  for (const entry of nodes) {
    const owned = counts.get(entry.node) ?? { messages: 0, envelopes: 0 };
    entry.messages = owned.messages;
    entry.envelopes = owned.envelopes;
  }
  return { nodes, unowned: counts.get(null) ?? { messages: 0, envelopes: 0 } };
}

/**
 * Counts the messages (open and committed) and envelopes of each owner, with null for the
 * unowned ones. Envelopes whose message is gone are not counted.
 */
async function ownedCounts(source: NodeListSource): Promise<Map<string | null, OwnedCounts>> {
  const ownerOf = new Map<Msgid, string | null>();
  const counts = new Map<string | null, OwnedCounts>();
  const countOf = (owner: string | null): OwnedCounts => {
    let count = counts.get(owner);
    if (count === undefined) {
      count = { messages: 0, envelopes: 0 };
      counts.set(owner, count);
    }
    return count;
  };

  await forEachKeyPage(source, KEY_PREFIX.message, async (keys) => {
    await forEachBounded(keys, async (key) => {
      const msgid = msgidOfKey(key);
      const loaded = msgid === null ? null : await source.messageLoad(msgid);
      if (msgid === null || loaded === null) return;
      ownerOf.set(msgid, loaded.record.owner);
      countOf(loaded.record.owner).messages += 1;
    });
  });

  await forEachKeyPage(source, KEY_PREFIX.envelope, async (keys) => {
    for (const key of keys) {
      const msgid = msgidOfKey(key);
      if (msgid === null || !ownerOf.has(msgid)) continue;
      countOf(ownerOf.get(msgid) ?? null).envelopes += 1;
    }
  });
  return counts;
}

async function forEachKeyPage(
  source: LeaseSource,
  prefix: string,
  work: (keys: string[]) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const keys = await storageCall('key list', () =>
      source.driver.list(prefix, { after, limit: PAGE }),
    );
    await work(keys);
    if (keys.length < PAGE) return;
    after = keys[keys.length - 1];
  }
}
