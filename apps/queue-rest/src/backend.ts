import { closeSync, fstatSync, readSync } from 'node:fs';
import type { BodySource } from '@smtpq/protocol';
import { type Evpid, evpidMsgid, type Msgid, type QueueClient, randomEvpid } from '@smtpq/protocol';
import type { BodyCache } from './body-cache.js';
import type { Counters } from './counters.js';
import { envelopeProblem } from './envelope-check.js';
import { describeError, hasCode } from './errors.js';
import { ImsgFrameError } from './imsg.js';
import type { Logger } from './log.js';
import type { PendingDeletes } from './pending-deletes.js';
import type { PendingMessages } from './pending-messages.js';
import type { PoolRefusals } from './pool-refusals.js';
import {
  PROC_QUEUE_API_VERSION,
  type QueueReply,
  type QueueRequest,
  replyEmpty,
  replyEnvelopeCreated,
  replyEnvelopeLoaded,
  replyMessageCreated,
  replyMessageFd,
  replyResult,
  replyWalk,
} from './queue-proc.js';
import type { SeenEvpids } from './seen-evpids.js';
import type { WalkReader } from './walk.js';

/** Random evpids tried for one bounce envelope before the create fails. */
const BOUNCE_EVPID_ATTEMPTS = 3;

export interface BackendOptions {
  /** Client with the normal retry budget. */
  client: QueueClient;
  /** Client with the bounce retry budget, for envelopes of committed messages. */
  bounceClient: QueueClient;
  logger: Logger;
  counters: Counters;
  pending: PendingMessages;
  /** Envelope deletes that failed after delivery, retried in the background. */
  pendingDeletes: PendingDeletes;
  bodies: BodyCache;
  walk: WalkReader;
  seen: SeenEvpids;
  /** Whether envelopes must be text (see Config.textEnvelopes). */
  textEnvelopes: boolean;
  /** Pool mode: the handling of not-owner and lease-lost failures. */
  refusals?: PoolRefusals;
  /** Called after an envelope delete reached the frontend (pool takeover waits for these). */
  envelopeDeleted?: (evpid: Evpid) => void;
  now?: () => number;
}

/**
 * Handles smtpd's queue requests and returns their replies. Accepting a message costs one
 * waited HTTP round trip, because MESSAGE_CREATE and ENVELOPE_CREATE reply from memory and
 * MESSAGE_COMMIT sends everything in one bundle. Every storage fault becomes a failure reply
 * (r = 0, no fd, an empty load) after the client's bounded retries, so no storage fault
 * makes this class throw.
 */
export class QueueBackend {
  private readonly options: BackendOptions;
  private readonly now: () => number;

  constructor(options: BackendOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  async handle(request: QueueRequest): Promise<QueueReply> {
    this.options.counters.call(request.name);

    switch (request.name) {
      case 'INIT':
        return this.init(request.version);
      case 'CLOSE':
        return this.close();
      case 'MESSAGE_CREATE':
        return this.messageCreate();
      case 'MESSAGE_DELETE':
        return this.messageDelete(request.msgid);
      case 'MESSAGE_COMMIT':
        return this.messageCommit(request.msgid, request.fd);
      case 'MESSAGE_FD_R':
        return this.messageFdR(request.msgid);
      case 'ENVELOPE_CREATE':
        return this.envelopeCreate(request.msgid, request.data);
      case 'ENVELOPE_DELETE':
        return this.envelopeDelete(request.evpid);
      case 'ENVELOPE_LOAD':
        return this.envelopeLoad(request.evpid);
      case 'ENVELOPE_UPDATE':
        return this.envelopeUpdate(request.evpid, request.data);
      case 'ENVELOPE_WALK':
        return this.envelopeWalk();
    }
  }

  private init(version: number): QueueReply {
    if (version !== PROC_QUEUE_API_VERSION) {
      throw new ImsgFrameError(
        `INIT request has queue API version ${version}, ` +
          `but queue-rest speaks version ${PROC_QUEUE_API_VERSION}`,
      );
    }
    this.options.logger.info({ version }, 'smtpd connected');
    return replyEmpty();
  }

  private close(): QueueReply {
    this.options.logger.info(
      {
        pendingMessages: this.options.pending.size,
        pendingDeletes: this.options.pendingDeletes.size,
      },
      'smtpd closed the queue',
    );
    this.options.walk.stop();
    this.options.bodies.dropAll();
    return replyResult(true);
  }

  private messageCreate(): QueueReply {
    const { pending, logger, seen } = this.options;
    const now = this.now();

    for (const message of pending.removeExpired(now)) {
      seen.removeMessage(message.msgid);
      logger.warn(
        { msgid: message.msgid, envelopes: message.envelopes.size },
        'dropped a message that smtpd neither committed nor deleted',
      );
    }
    return replyMessageCreated(pending.create(now).msgid);
  }

  private async messageDelete(msgid: Msgid): Promise<QueueReply> {
    const { pending, bodies, client, counters, seen } = this.options;
    bodies.drop(msgid);

    // A message that was never sent exists only here.
    if (pending.remove(msgid) !== undefined) {
      seen.removeMessage(msgid);
      return replyResult(true);
    }

    counters.wait('MESSAGE_DELETE', 'other');
    try {
      await client.messageDelete(msgid);
      return replyResult(true);
    } catch (error) {
      return this.fail(
        'MESSAGE_DELETE',
        { msgid },
        error,
        'message delete failed',
        replyResult(false),
      );
    }
  }

  private async messageCommit(msgid: Msgid, fd: number): Promise<QueueReply> {
    const { pending, client, counters, logger, seen } = this.options;

    try {
      const message = pending.remove(msgid);
      if (message === undefined) {
        counters.failure('MESSAGE_COMMIT');
        logger.warn(
          { msgid },
          'commit of a message that this process did not create or already dropped',
        );
        return replyResult(false);
      }

      const envelopes = [...message.envelopes].map(([evpid, data]) => ({ evpid, data }));
      counters.wait('MESSAGE_COMMIT', 'accept');
      try {
        await client.messageBundle(msgid, envelopes, bodySourceOf(fd));
      } catch (error) {
        seen.removeMessage(msgid);
        const logMessage = hasCode(error, 'message-exists')
          ? 'message commit failed: the msgid exists in the store'
          : 'message commit failed';
        return this.fail(
          'MESSAGE_COMMIT',
          { msgid, envelopes: envelopes.length },
          error,
          logMessage,
          replyResult(false),
        );
      }

      for (const envelope of envelopes) seen.add(envelope.evpid);
      counters.messageAccepted();
      logger.debug({ msgid, envelopes: envelopes.length }, 'message committed');
      return replyResult(true);
    } finally {
      closeSync(fd);
    }
  }

  private async messageFdR(msgid: Msgid): Promise<QueueReply> {
    const { pending, bodies, counters, logger } = this.options;

    if (pending.get(msgid) !== undefined) {
      counters.failure('MESSAGE_FD_R');
      logger.warn({ msgid }, 'message fd requested for a message that is not committed');
      return replyMessageFd(null);
    }

    try {
      const { fd, fetched } = await bodies.open(msgid);
      if (fetched) counters.wait('MESSAGE_FD_R', 'delivery');
      return replyMessageFd(fd);
    } catch (error) {
      counters.wait('MESSAGE_FD_R', 'delivery');
      return this.fail(
        'MESSAGE_FD_R',
        { msgid },
        error,
        'message body fetch failed',
        replyMessageFd(null),
      );
    }
  }

  private async envelopeCreate(msgid: Msgid, data: Buffer): Promise<QueueReply> {
    const { pending, seen } = this.options;

    const message = pending.get(msgid);
    if (message !== undefined) {
      const evpid = pending.addEnvelope(message, data);
      seen.add(evpid);
      return replyEnvelopeCreated(evpid);
    }
    return this.bounceCreate(msgid, data);
  }

  /**
   * Writes an envelope of a message that is already committed (smtpd does this for a bounce)
   * straight to the frontend, with the long bounce retry budget. If this create fails, smtpd
   * only warns "cannot bounce!" and deletes the original envelope, so the bounce is lost.
   */
  private async bounceCreate(msgid: Msgid, data: Buffer): Promise<QueueReply> {
    const { bounceClient, counters, logger, seen } = this.options;
    counters.wait('ENVELOPE_CREATE', 'other');

    let lastError: unknown;
    for (let attempt = 1; attempt <= BOUNCE_EVPID_ATTEMPTS; attempt++) {
      const evpid = randomEvpid(msgid);
      try {
        await bounceClient.envelopeCreate(msgid, data, { evpid });
        seen.add(evpid);
        logger.debug({ msgid, evpid }, 'envelope of a committed message created');
        return replyEnvelopeCreated(evpid);
      } catch (error) {
        lastError = error;
        // Another writer has that random evpid: pick another one.
        if (!hasCode(error, 'envelope-exists')) break;
      }
    }
    return this.fail(
      'ENVELOPE_CREATE',
      { msgid },
      lastError,
      'envelope create failed',
      replyEnvelopeCreated(null),
    );
  }

  /**
   * Deletes an envelope after its delivery, bounce or expiry. smtpd drops the envelope from
   * its queue whatever the reply, so a failed delete goes to the background retries. Without
   * them the envelope would stay in the store and be delivered again after a restart.
   */
  private async envelopeDelete(evpid: Evpid): Promise<QueueReply> {
    const { pending, pendingDeletes, bodies, client, counters } = this.options;
    const msgid = evpidMsgid(evpid);

    if (pending.deleteEnvelope(evpid)) return replyResult(true);

    counters.wait('ENVELOPE_DELETE', 'delivery');
    try {
      await client.envelopeDelete(evpid);
      counters.envelopeDone(msgid);
      this.envelopeGone(evpid);
      return replyResult(true);
    } catch (error) {
      // The new owner delivers this envelope again, and a retry can never succeed.
      if (hasCode(error, 'not-owner')) {
        const message = 'envelope delete failed: another node owns the message';
        return this.fail('ENVELOPE_DELETE', { evpid }, error, message, replyResult(false));
      }
      pendingDeletes.add(evpid);
      return this.fail(
        'ENVELOPE_DELETE',
        { evpid, pendingDeletes: pendingDeletes.size },
        error,
        'envelope delete failed; retrying it in the background',
        replyResult(false),
      );
    } finally {
      bodies.envelopeFinished(msgid);
    }
  }

  private async envelopeLoad(evpid: Evpid): Promise<QueueReply> {
    const { pending, pendingDeletes, client, counters, logger, seen } = this.options;

    const local = pending.envelope(evpid);
    if (local !== undefined) return replyEnvelopeLoaded(local);

    // smtpd delivered it already, and only its delete has not reached the store yet.
    if (pendingDeletes.has(evpid)) {
      counters.failure('ENVELOPE_LOAD');
      logger.warn({ evpid }, 'envelope load rejected: the envelope was delivered already');
      return replyEnvelopeLoaded(null);
    }

    counters.wait('ENVELOPE_LOAD', 'delivery');
    let data: Buffer;
    try {
      data = (await client.envelopeGet(evpid)).data;
    } catch (error) {
      return this.fail(
        'ENVELOPE_LOAD',
        { evpid },
        error,
        'envelope load failed',
        replyEnvelopeLoaded(null),
      );
    }

    const problem = envelopeProblem(data, { text: this.options.textEnvelopes });
    if (problem !== null) {
      counters.failure('ENVELOPE_LOAD');
      logger.warn(
        { evpid, bytes: data.length, reason: problem },
        'envelope load refused an envelope that smtpd cannot read',
      );
      return replyEnvelopeLoaded(null);
    }

    seen.add(evpid);
    return replyEnvelopeLoaded(data);
  }

  private async envelopeUpdate(evpid: Evpid, data: Buffer): Promise<QueueReply> {
    const { pending, bodies, client, counters } = this.options;

    if (pending.updateEnvelope(evpid, data)) return replyResult(true);

    counters.wait('ENVELOPE_UPDATE', 'delivery');
    try {
      await client.envelopeUpdate(evpid, data);
      return replyResult(true);
    } catch (error) {
      return this.fail(
        'ENVELOPE_UPDATE',
        { evpid },
        error,
        'envelope update failed',
        replyResult(false),
      );
    } finally {
      bodies.envelopeFinished(evpidMsgid(evpid));
    }
  }

  private envelopeWalk(): QueueReply {
    return replyWalk(this.options.walk.next());
  }

  /** Forgets an envelope that smtpd deleted and the frontend no longer has. */
  envelopeGone(evpid: Evpid): void {
    this.options.seen.remove(evpid);
    this.options.envelopeDeleted?.(evpid);
  }

  /** Counts and logs a failed request, and returns its failure reply. */
  private fail(
    name: QueueRequest['name'],
    ids: Record<string, unknown>,
    error: unknown,
    message: string,
    reply: QueueReply,
  ): QueueReply {
    this.options.counters.failure(name);
    if (this.options.refusals?.handle(name, ids as { msgid?: Msgid; evpid?: Evpid }, error)) {
      return reply;
    }
    this.options.logger.warn({ ...ids, ...describeError(error) }, message);
    return reply;
  }
}

/**
 * Bodies up to this size are read into memory at once: one synchronous read of a file smtpd
 * just wrote costs less than the thread-pool round trips of hashing and streaming from the fd
 * (measured with pnpm bench:smtp: about 0.25 ms less per 4 KiB commit).
 */
const INLINE_BODY_BYTES = 256 * 1024;

/** Returns the body of smtpd's message file: a Buffer when small, else the fd to stream. */
function bodySourceOf(fd: number): BodySource {
  const size = fstatSync(fd).size;
  if (size > INLINE_BODY_BYTES) return { fd };

  const body = Buffer.allocUnsafe(size);
  let offset = 0;
  while (offset < size) {
    const read = readSync(fd, body, offset, size - offset, offset);
    if (read === 0) break;
    offset += read;
  }
  return offset === size ? body : { fd };
}
