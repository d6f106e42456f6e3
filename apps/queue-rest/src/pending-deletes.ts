import { type Evpid, evpidMsgid, type QueueClient } from '@smtpq/protocol';
import type { Counters } from './counters.js';
import { describeError, errorDetail, hasCode } from './errors.js';
import type { Logger } from './log.js';

/**
 * Maximum failed deletes kept. Each entry is a few dozen bytes, so even a long outage on a
 * busy MX stays within a few MB. Past this the oldest entry is dropped, logged and counted.
 */
export const PENDING_DELETES_MAX = 100_000;

/** Delay in ms between two background passes over the failed deletes. */
export const PENDING_DELETES_RETRY_MS = 2_000;

/** Maximum evpids listed in the log line of deletes lost at exit, which always has the count. */
const LOST_EVPIDS_LOGGED = 100;

export interface PendingDeletesOptions {
  /** Client for the background passes. Each pass is one attempt, so its retry budget can be 0. */
  client: QueueClient;
  logger: Logger;
  counters: Counters;
  maxEntries?: number;
  retryIntervalMs?: number;
  /** Called for each delete that a background pass completed. */
  onDone?: (evpid: Evpid) => void;
}

/**
 * Envelope deletes that failed after delivery. smtpd has already delivered such an envelope
 * and forgotten it, but the store still contains it, so the next smtpd start would walk it and
 * deliver it again. The deletes are retried in the background, one pass every
 * `retryIntervalMs`, and smtpd never waits for them.
 *
 * Limit: the set lives in memory only. Deletes still pending when queue-rest exits are lost
 * (logged with their evpids), and those envelopes are delivered again after the restart:
 * delivery through queue-rest is at least once.
 */
export class PendingDeletes {
  private readonly options: Required<PendingDeletesOptions>;
  /** Failed deletes in the order they failed, the oldest first. */
  private readonly evpids = new Set<Evpid>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Passes in a row that ended on a failure, to thin out the log in a long outage. */
  private failedPasses = 0;

  constructor(options: PendingDeletesOptions) {
    this.options = {
      maxEntries: PENDING_DELETES_MAX,
      retryIntervalMs: PENDING_DELETES_RETRY_MS,
      onDone: () => {},
      ...options,
    };
  }

  get size(): number {
    return this.evpids.size;
  }

  has(evpid: Evpid): boolean {
    return this.evpids.has(evpid);
  }

  /** Queues a delete that failed, for the next background pass. */
  add(evpid: Evpid): void {
    const { counters, logger, maxEntries } = this.options;
    if (this.evpids.has(evpid)) return;

    if (this.evpids.size >= maxEntries) {
      const oldest = this.evpids.values().next().value as Evpid;
      this.evpids.delete(oldest);
      counters.pendingDeleteDropped();
      logger.error(
        { evpid: oldest, maxEntries },
        'pending envelope delete dropped because the set is full; ' +
          'the envelope will be delivered again after a restart',
      );
    }

    this.evpids.add(evpid);
    counters.pendingDeleteQueued();
    this.schedule();
  }

  /** Stops the background passes. The failed deletes stay in the set. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Runs one last pass, for at most `timeoutMs`, and returns the evpids still pending. It is
   * called after smtpd has closed the socket, when no reply waits for it.
   */
  async flush(timeoutMs: number): Promise<Evpid[]> {
    this.stop();
    await this.running;
    if (this.evpids.size > 0) {
      const deadline = Date.now() + timeoutMs;
      await this.pass(() => Date.now() < deadline);
    }
    return [...this.evpids];
  }

  /** Logs the deletes that are lost because the process exits now. */
  logLost(): void {
    if (this.evpids.size === 0) return;

    const evpids = [...this.evpids];
    this.options.logger.error(
      { count: evpids.length, evpids: evpids.slice(0, LOST_EVPIDS_LOGGED) },
      'pending envelope deletes lost at exit; ' +
        'these envelopes will be delivered again after the next smtpd start',
    );
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined || this.running !== undefined) return;
    if (this.evpids.size === 0) return;

    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass(() => !this.stopped).finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.options.retryIntervalMs);
    this.timer.unref();
  }

  /**
   * Tries each pending delete once, the oldest first, while `shouldContinue()` returns true.
   * The pass stops at the first failure, because the frontend is most likely still down.
   */
  private async pass(shouldContinue: () => boolean): Promise<void> {
    const { client, counters, logger } = this.options;
    let done = 0;

    for (const evpid of [...this.evpids]) {
      if (!shouldContinue()) break;
      counters.pendingDeleteAttempt();
      try {
        await client.envelopeDelete(evpid);
      } catch (error) {
        // Pool mode: another node took the message over, so this delete can never succeed.
        if (hasCode(error, 'not-owner')) {
          this.evpids.delete(evpid);
          counters.pendingDeleteDropped();
          logger.warn(
            { evpid, owner: errorDetail(error, 'owner') ?? null },
            'pending envelope delete dropped: another node owns the message now and will ' +
              'deliver this envelope again',
          );
          continue;
        }
        this.failedPasses += 1;
        // A long outage would log a line every pass: after the first three, one in 30.
        if (this.failedPasses <= 3 || this.failedPasses % 30 === 0) {
          logger.warn(
            {
              evpid,
              pending: this.evpids.size,
              failedPasses: this.failedPasses,
              retryInMs: this.options.retryIntervalMs,
              ...describeError(error),
            },
            'pending envelope delete failed again',
          );
        }
        break;
      }

      this.evpids.delete(evpid);
      counters.pendingDeleteDone();
      counters.envelopeDone(evpidMsgid(evpid));
      this.options.onDone(evpid);
      done += 1;
      logger.debug({ evpid }, 'pending envelope delete done');
    }

    if (done > 0) {
      this.failedPasses = 0;
      logger.info({ done, pending: this.evpids.size }, 'pending envelope deletes done');
    }
  }
}
