import type { DecodedWalkEntry, Evpid, QueueClient } from '@smtpq/protocol';
import type { Counters } from './counters.js';
import { envelopeProblem } from './envelope-check.js';
import { describeError } from './errors.js';
import type { Logger } from './log.js';
import type { SeenEvpids } from './seen-evpids.js';

/** Envelopes asked for per walk page. */
export const WALK_PAGE_ENVELOPES = 1000;

/** Delay in ms before a walk page that failed (after the client's own retries) is asked again. */
export const WALK_RETRY_DELAY_MS = 1_000;

export type WalkStep = { evpid: Evpid; data: Buffer } | 'again' | 'end';

export interface WalkOptions {
  client: QueueClient;
  logger: Logger;
  counters: Counters;
  seen: SeenEvpids;
  /** Whether envelopes must be text (see Config.textEnvelopes). */
  textEnvelopes: boolean;
  pageEnvelopes?: number;
  retryDelayMs?: number;
}

/**
 * smtpd's start-up walk (ENVELOPE_WALK until -1), read from the frontend's walk once, from
 * the start of this process. Pages are fetched ahead in the background, so that every call
 * gets its reply from memory. While no envelope is at hand (the frontend is slow or down),
 * the reply is "ask again" (r = 0). The walk ends (r = -1) only after the frontend's last
 * page (`end: true`).
 *
 * Limit: the frontend's walk is not a snapshot. An envelope committed by another process
 * during the walk is handed to smtpd when its evpid sorts after the cursor.
 */
export class WalkReader {
  private readonly options: Required<WalkOptions>;
  private buffer: DecodedWalkEntry[] = [];
  private position = 0;
  private cursor: string | undefined;
  private frontendDone = false;
  private fetching = false;
  private finished = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private walked = 0;
  private skipped = 0;
  /** Page fetches that failed in a row. */
  private failures = 0;

  constructor(options: WalkOptions) {
    this.options = {
      pageEnvelopes: WALK_PAGE_ENVELOPES,
      retryDelayMs: WALK_RETRY_DELAY_MS,
      ...options,
    };
  }

  start(): void {
    this.fetchAhead();
  }

  /** Whether smtpd has received the end of the walk (r = -1). */
  get ended(): boolean {
    return this.finished;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** Returns the next envelope for smtpd, or 'again', or 'end'. */
  next(): WalkStep {
    if (this.finished) return 'end';

    while (this.position < this.buffer.length) {
      const entry = this.buffer[this.position]!;
      this.position += 1;
      if (this.accept(entry)) {
        this.fetchAhead();
        return { evpid: entry.evpid, data: entry.data };
      }
    }
    this.buffer = [];
    this.position = 0;

    if (this.frontendDone) {
      this.finish();
      return 'end';
    }
    this.fetchAhead();
    return 'again';
  }

  private accept(entry: DecodedWalkEntry): boolean {
    const { seen, logger, counters } = this.options;

    if (seen.has(entry.evpid)) {
      logger.debug({ evpid: entry.evpid }, 'walk skipped an envelope smtpd already has');
      return false;
    }

    const problem = envelopeProblem(entry.data, { text: this.options.textEnvelopes });
    if (problem !== null) {
      this.skipped += 1;
      counters.walkSkippedEnvelope();
      logger.warn(
        { evpid: entry.evpid, bytes: entry.data.length, reason: problem },
        'walk skipped an envelope that smtpd cannot read',
      );
      return false;
    }

    seen.add(entry.evpid);
    this.walked += 1;
    counters.walkedEnvelope();
    return true;
  }

  private finish(): void {
    this.finished = true;
    // Nothing can be walked twice any more, so the set of known evpids is no longer needed.
    this.options.seen.retire();
    this.options.logger.info({ walked: this.walked, skipped: this.skipped }, 'walk finished');
  }

  /** Starts fetching the next page when less than half a page is left and none is on its way. */
  private fetchAhead(): void {
    const left = this.buffer.length - this.position;
    if (this.stopped || this.fetching || this.frontendDone || this.retryTimer !== undefined) return;
    if (left >= this.options.pageEnvelopes / 2) return;

    this.fetching = true;
    void this.fetchPage();
  }

  private async fetchPage(): Promise<void> {
    const { client, logger, counters } = this.options;
    counters.background();

    try {
      const page = await client.walk({ cursor: this.cursor, limit: this.options.pageEnvelopes });
      this.buffer = this.buffer.slice(this.position).concat(page.envelopes);
      this.position = 0;
      this.cursor = page.next ?? undefined;
      this.frontendDone = page.end;
      this.fetching = false;
      if (this.failures > 0) {
        logger.info({ failures: this.failures }, 'walk page fetch succeeded after failures');
        this.failures = 0;
      }
      this.fetchAhead();
    } catch (error) {
      this.fetching = false;
      this.failures += 1;
      // A long outage would log a line every few seconds: after the first three, one in 30.
      if (this.failures <= 3 || this.failures % 30 === 0) {
        logger.warn(
          {
            failures: this.failures,
            retryInMs: this.options.retryDelayMs,
            ...describeError(error),
          },
          'walk page fetch failed',
        );
      }
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.fetchAhead();
      }, this.options.retryDelayMs);
      this.retryTimer.unref();
    }
  }
}
