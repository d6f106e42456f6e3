import { type Evpid, evpidMsgid, type Msgid, randomEvpid, randomMsgid } from '@smtpq/protocol';

/**
 * Age in ms after which a message created here but neither committed nor deleted is
 * dropped. smtpd commits or rolls back every transaction long before (its SMTP session
 * timeouts are minutes); this only bounds the memory that a lost transaction keeps.
 */
export const PENDING_MAX_AGE_MS = 2 * 60 * 60 * 1000;

export interface PendingMessage {
  msgid: Msgid;
  createdAt: number;
  /** Envelope bytes by evpid, in creation order. */
  envelopes: Map<Evpid, Buffer>;
}

/**
 * Messages that smtpd created in this process and has not committed yet. They exist only
 * here: MESSAGE_CREATE and ENVELOPE_CREATE reply at once with local ids, and MESSAGE_COMMIT
 * sends the whole message to the frontend in one bundle.
 */
export class PendingMessages {
  private readonly messages = new Map<Msgid, PendingMessage>();

  create(now: number): PendingMessage {
    let msgid = randomMsgid();
    while (this.messages.has(msgid)) msgid = randomMsgid();

    const message: PendingMessage = { msgid, createdAt: now, envelopes: new Map() };
    this.messages.set(msgid, message);
    return message;
  }

  get(msgid: Msgid): PendingMessage | undefined {
    return this.messages.get(msgid);
  }

  remove(msgid: Msgid): PendingMessage | undefined {
    const message = this.messages.get(msgid);
    this.messages.delete(msgid);
    return message;
  }

  /** Adds an envelope to a pending message under a new random evpid of that message. */
  addEnvelope(message: PendingMessage, data: Buffer): Evpid {
    let evpid = randomEvpid(message.msgid);
    while (message.envelopes.has(evpid)) evpid = randomEvpid(message.msgid);

    message.envelopes.set(evpid, Buffer.from(data));
    return evpid;
  }

  /** Returns the bytes of an envelope of a pending message, or undefined. */
  envelope(evpid: Evpid): Buffer | undefined {
    return this.messages.get(evpidMsgid(evpid))?.envelopes.get(evpid);
  }

  /** Replaces a pending envelope; returns false when it is not pending. */
  updateEnvelope(evpid: Evpid, data: Buffer): boolean {
    const envelopes = this.messages.get(evpidMsgid(evpid))?.envelopes;
    if (envelopes === undefined || !envelopes.has(evpid)) return false;

    envelopes.set(evpid, Buffer.from(data));
    return true;
  }

  /** Deletes a pending envelope; returns false when it is not pending. */
  deleteEnvelope(evpid: Evpid): boolean {
    return this.messages.get(evpidMsgid(evpid))?.envelopes.delete(evpid) ?? false;
  }

  /** Removes the messages created before `now - PENDING_MAX_AGE_MS` and returns them. */
  removeExpired(now: number): PendingMessage[] {
    const expired: PendingMessage[] = [];
    for (const message of this.messages.values()) {
      if (now - message.createdAt > PENDING_MAX_AGE_MS) expired.push(message);
    }
    for (const message of expired) this.messages.delete(message.msgid);
    return expired;
  }

  get size(): number {
    return this.messages.size;
  }
}
