import { closeSync, openSync, writeSync } from 'node:fs';
import type { Msgid, QueueClient } from '@smtpq/protocol';
import { describeError, isRetryable } from './errors.js';
import { errno, MFD_CLOEXEC, memfdCreate } from './libc.js';
import type { Logger } from './log.js';

/** Time in ms a fetched body stays cached after its last use. */
export const BODY_IDLE_MS = 5_000;

/** Maximum bytes of cached bodies; a larger body is used once and not cached. */
export const BODY_CACHE_MAX_BYTES = 256 * 1024 * 1024;

/** Maximum cached bodies. */
export const BODY_CACHE_MAX_ENTRIES = 64;

/** A transient failure while a body streamed, after the client's request had succeeded. */
class BodyStreamError extends Error {
  constructor(override readonly cause: unknown) {
    super('body stream failed', { cause });
    this.name = 'BodyStreamError';
  }
}

interface CachedBody {
  msgid: Msgid;
  memfd: number;
  size: number;
  /** MESSAGE_FD_R calls served from this body. */
  opened: number;
  /** ENVELOPE_DELETE and ENVELOPE_UPDATE calls of the message since it was fetched. */
  finished: number;
  timer: NodeJS.Timeout;
}

/**
 * Message bodies fetched for MESSAGE_FD_R, each in a memfd (readable and seekable, gone
 * with its last fd). smtpd requests the body once per envelope it delivers, and the cache
 * keeps a message with several recipients from being downloaded several times. Each call
 * gets its own open file description, opened through /proc/self/fd, because smtpd reads
 * from the file offset and a shared offset would move under a second reader.
 *
 * An entry is closed when it has been idle for BODY_IDLE_MS, when the message is deleted, or
 * when as many of its envelopes were deleted or updated (delivered or deferred) as there were
 * MESSAGE_FD_R calls for it. A closed entry only costs a new download.
 */
export class BodyCache {
  private readonly entries = new Map<Msgid, CachedBody>();
  private cachedBytes = 0;

  constructor(
    private readonly client: QueueClient,
    private readonly logger: Logger,
    private readonly retryBudgetMs: number,
    /**
     * Check of whether a cached body may be handed out without a request to the frontend. A
     * pool node whose lease may have run out downloads the body again, so that the frontend
     * rejects a message that another node claimed.
     */
    private readonly reuseAllowed: () => boolean = () => true,
  ) {}

  /**
   * Returns a new read-only fd of the body at offset 0, which the caller closes, and whether
   * it was downloaded for this call. Throws when the body cannot be fetched.
   */
  async open(msgid: Msgid): Promise<{ fd: number; fetched: boolean }> {
    let entry = this.entries.get(msgid);
    if (entry !== undefined && !this.reuseAllowed()) {
      this.drop(msgid);
      entry = undefined;
    }
    const fetched = entry === undefined;
    if (entry === undefined) {
      entry = await this.fetch(msgid);
    } else {
      // Moves the entry to the end of the map, which evicts from its start.
      this.entries.delete(msgid);
      this.entries.set(msgid, entry);
    }

    let fd: number;
    try {
      fd = openSync(`/proc/self/fd/${entry.memfd}`, 'r');
    } finally {
      // A body too large to cache lives on only through the fd handed to smtpd.
      if (!this.entries.has(msgid)) this.close(entry);
    }

    entry.opened += 1;
    entry.timer.refresh();
    return { fd, fetched };
  }

  /** Counts an envelope of `msgid` done with its delivery attempt; see the class comment. */
  envelopeFinished(msgid: Msgid): void {
    const entry = this.entries.get(msgid);
    if (entry === undefined) return;

    entry.finished += 1;
    if (entry.finished >= entry.opened) this.drop(msgid);
  }

  drop(msgid: Msgid): void {
    const entry = this.entries.get(msgid);
    if (entry === undefined) return;

    this.entries.delete(msgid);
    this.cachedBytes -= entry.size;
    this.close(entry);
  }

  dropAll(): void {
    for (const msgid of [...this.entries.keys()]) this.drop(msgid);
  }

  get size(): number {
    return this.entries.size;
  }

  private close(entry: CachedBody): void {
    clearTimeout(entry.timer);
    closeSync(entry.memfd);
  }

  /**
   * Downloads a body into a new memfd. The client retries the request itself, but not a
   * connection that fails while the body streams. Such a failure is tried again here, within
   * the same budget.
   */
  private async fetch(msgid: Msgid): Promise<CachedBody> {
    const startedAt = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return this.store(msgid, await this.download(msgid));
      } catch (error) {
        const spent = Date.now() - startedAt;
        if (!(error instanceof BodyStreamError) || spent >= this.retryBudgetMs) {
          throw error instanceof BodyStreamError ? error.cause : error;
        }
        this.logger.warn(
          { msgid, attempt, ...describeError(error.cause) },
          'body download failed while streaming; retrying',
        );
      }
    }
  }

  private async download(msgid: Msgid): Promise<{ memfd: number; size: number }> {
    const body = await this.client.bodyGet(msgid);

    const memfd = Number(memfdCreate(`queue-rest-${msgid}`, MFD_CLOEXEC));
    if (memfd < 0) {
      body.stream.destroy();
      throw new Error(`memfd_create failed with errno ${errno()}`);
    }

    let position = 0;
    try {
      // The stream checks the size and the digest that the frontend sent, and fails at its end
      // when they differ.
      for await (const chunk of body.stream) {
        const bytes = chunk as Buffer;
        let written = 0;
        while (written < bytes.length) {
          written += writeSync(memfd, bytes, written, bytes.length - written, position + written);
        }
        position += bytes.length;
      }
    } catch (error) {
      closeSync(memfd);
      throw isRetryable(error) ? new BodyStreamError(error) : error;
    }
    return { memfd, size: position };
  }

  private store(msgid: Msgid, body: { memfd: number; size: number }): CachedBody {
    const entry: CachedBody = {
      msgid,
      memfd: body.memfd,
      size: body.size,
      opened: 0,
      finished: 0,
      timer: setTimeout(() => this.drop(msgid), BODY_IDLE_MS),
    };
    entry.timer.unref();

    if (body.size > BODY_CACHE_MAX_BYTES) return entry;

    while (
      this.entries.size >= BODY_CACHE_MAX_ENTRIES ||
      this.cachedBytes + body.size > BODY_CACHE_MAX_BYTES
    ) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }

    this.entries.set(msgid, entry);
    this.cachedBytes += body.size;
    return entry;
  }
}
