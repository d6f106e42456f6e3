import type { Msgid } from '@smtpq/protocol';
import type { StorageDriver } from './driver.js';
import { envelopePrefix } from './keys.js';
import { decodeEnvelope, isOfGeneration } from './records.js';
import { storageCall } from './storage-errors.js';

/** Envelope keys listed per call while looking for one of the message's own generation. */
const PAGE = 16;

/**
 * Returns whether message `msgid` still has an envelope of its generation. Envelopes of
 * another generation (left by a bundle that lost the msgid, or by an interrupted delete) do
 * not count, so a message that holds only those can be removed. It usually reads one
 * listing page and one envelope.
 */
export async function hasOwnEnvelope(
  driver: StorageDriver,
  msgid: Msgid,
  generation: string | null,
): Promise<boolean> {
  let after: string | undefined;
  for (;;) {
    const keys = await storageCall('envelope list', () =>
      driver.list(envelopePrefix(msgid), { after, limit: PAGE }),
    );
    for (const key of keys) {
      const stored = await storageCall('envelope read', () => driver.get(key));
      if (stored !== null && isOfGeneration(decodeEnvelope(stored.data, key), generation)) {
        return true;
      }
    }
    if (keys.length < PAGE) return false;
    after = keys[keys.length - 1];
  }
}
