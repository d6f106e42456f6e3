import { type Evpid, type MessageClaimed, type Msgid, QueueError } from '@smtpq/protocol';
import { messageKey } from './keys.js';
import { leaseClaimableInMs, leaseLoad } from './node-lease.js';
import { claimLost, leaseLive, messageOpen, nodeNameCheck } from './pool-errors.js';
import { encodeMessage, type MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';
import { type WalkSource, walkPage } from './walk.js';

/**
 * Moves committed message `msgid` from owner `from` (null: unowned) to node `node`, with a
 * compare-and-swap of the message record, so of two racing claimers exactly one wins. The
 * claim is allowed only while `from`'s lease is claimable (see leaseClaimableInMs); a node
 * that never had a lease record counts as claimable. Claiming a message that `node` already
 * owns succeeds, so a claim whose response was lost can be retried. The caller checked the
 * lease of `node` before.
 */
export async function messageClaim(
  source: WalkSource,
  msgid: Msgid,
  node: string,
  from: string | null,
): Promise<MessageClaimed> {
  if (from !== null) nodeNameCheck(from);

  for (;;) {
    const loaded = await source.messageLoad(msgid);
    if (loaded === null) {
      throw new QueueError('message-not-found', `message ${msgid} does not exist`);
    }

    const { record } = loaded;
    if (record.owner === node) return { msgid, owner: node, evpids: await evpidsOf(source, msgid) };
    if (record.owner !== from) throw claimLost(msgid, record.owner, from);
    if (record.state !== 'committed') throw messageOpen(msgid);

    if (from !== null) {
      const lease = await leaseLoad(source, from);
      const waitMs =
        lease === null
          ? 0
          : leaseClaimableInMs(lease.record, source.options.now(), source.options.claimGraceMs);
      if (waitMs > 0) throw leaseLive(msgid, from, waitMs);
    }

    const claimed: MessageRecord = { ...record, owner: node };
    const result = await storageCall('message claim', () =>
      source.driver.replace(messageKey(msgid), encodeMessage(claimed), loaded.version),
    );
    // On a mismatch the next pass reads who wrote first: this node, another claimer, or a delete.
    if (result === 'mismatch' || result === 'missing') continue;
    return { msgid, owner: node, evpids: await evpidsOf(source, msgid) };
  }
}

/** Returns the evpids that the walk of the message shows, in order. */
async function evpidsOf(source: WalkSource, msgid: Msgid): Promise<Evpid[]> {
  const evpids: Evpid[] = [];
  let cursor: string | undefined;
  for (;;) {
    const limit = source.options.maxWalkPageEnvelopes;
    const page = await walkPage(source, msgid, { cursor, limit }, false);
    for (const entry of page.envelopes) evpids.push(entry.evpid);
    if (page.end) return evpids;
    cursor = page.next ?? undefined;
  }
}
