import { type Evpid, type Msgid, type QueueClient, randomMsgid } from '@smtpq/protocol';
import { smtpdEnvelope } from '../smtpd-envelope.js';
import { testMessage } from './context.js';

/** A message written into the store directly, as another MX would write it. */
export interface SeededMessage {
  msgid: Msgid;
  /** Evpids of the relay envelopes, in the order of `recipients`. */
  evpids: Evpid[];
  /** Evpids of the extra envelopes, in their order. */
  extraEvpids: Evpid[];
}

function evpidAt(msgid: Msgid, index: number): Evpid {
  return msgid + (index + 1).toString(16).padStart(8, '0');
}

/**
 * Writes one committed message with a relay envelope per recipient (and `extra` envelopes of
 * any bytes after them) through the frontend's bundle, without smtpd.
 */
export async function seedRelayMessage(
  client: QueueClient,
  testId: string,
  recipients: string[],
  extra: Buffer[] = [],
): Promise<SeededMessage> {
  const msgid = randomMsgid();
  const envelopes = [
    ...recipients.map((recipient) => smtpdEnvelope({ sender: 'alice@sender.test', recipient })),
    ...extra,
  ].map((data, index) => ({ evpid: evpidAt(msgid, index), data }));

  await client.messageBundle(msgid, envelopes, testMessage(testId, { to: recipients }));
  const evpids = envelopes.map((envelope) => envelope.evpid);
  return {
    msgid,
    evpids: evpids.slice(0, recipients.length),
    extraEvpids: evpids.slice(recipients.length),
  };
}
