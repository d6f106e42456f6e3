import { REQUEST_NAMES, type RequestName } from './queue-proc.js';

/** Part of smtpd's work that an HTTP round trip served, for the per-message ratios. */
export type WaitGroup = 'accept' | 'delivery' | 'other';

function perRequest(): Record<RequestName, number> {
  return Object.fromEntries(REQUEST_NAMES.map((name) => [name, 0])) as Record<RequestName, number>;
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 100) / 100;
}

/**
 * Counts since start: smtpd's calls by type, the HTTP round trips that a reply waited on
 * ("waits"), retries and failures, for the summary in the log.
 */
export class Counters {
  readonly calls = perRequest();
  readonly waits = perRequest();
  readonly failures = perRequest();
  private readonly waitsByGroup: Record<WaitGroup, number> = { accept: 0, delivery: 0, other: 0 };
  private retries = 0;
  private backgroundRequests = 0;
  private accepted = 0;
  private deliveredMessages = 0;
  private readonly deliveredThisPeriod = new Set<string>();
  private walked = 0;
  private walkSkipped = 0;
  private readonly pendingDeletes = { queued: 0, done: 0, dropped: 0, attempts: 0 };

  call(name: RequestName): void {
    this.calls[name] += 1;
  }

  /** Counts one HTTP call (with its own retries) that smtpd's reply waited for. */
  wait(name: RequestName, group: WaitGroup): void {
    this.waits[name] += 1;
    this.waitsByGroup[group] += 1;
  }

  failure(name: RequestName): void {
    this.failures[name] += 1;
  }

  retry(): void {
    this.retries += 1;
  }

  /** Counts one HTTP call that no reply waited for (walk pages fetched ahead). */
  background(): void {
    this.backgroundRequests += 1;
  }

  messageAccepted(): void {
    this.accepted += 1;
  }

  /** Counts an envelope of `msgid` deleted after delivery, bounce or expiry. */
  envelopeDone(msgid: string): void {
    this.deliveredThisPeriod.add(msgid);
  }

  walkedEnvelope(): void {
    this.walked += 1;
  }

  walkSkippedEnvelope(): void {
    this.walkSkipped += 1;
  }

  /** Counts an envelope delete that failed and went to the background retries. */
  pendingDeleteQueued(): void {
    this.pendingDeletes.queued += 1;
  }

  /** Counts a pending delete that a background pass completed. */
  pendingDeleteDone(): void {
    this.pendingDeletes.done += 1;
  }

  /** Counts a pending delete given up because the set was full. */
  pendingDeleteDropped(): void {
    this.pendingDeletes.dropped += 1;
  }

  /** Counts one background attempt of a pending delete. */
  pendingDeleteAttempt(): void {
    this.pendingDeletes.attempts += 1;
  }

  /**
   * Returns the summary since start. Delivered messages are the distinct msgids with an
   * envelope deleted within one summary period, added up over the periods.
   */
  summary(): Record<string, unknown> {
    this.deliveredMessages += this.deliveredThisPeriod.size;
    this.deliveredThisPeriod.clear();

    return {
      calls: { ...this.calls },
      waits: { ...this.waits },
      failures: { ...this.failures },
      retries: this.retries,
      backgroundRequests: this.backgroundRequests,
      acceptedMessages: this.accepted,
      deliveredMessages: this.deliveredMessages,
      waitsPerAcceptedMessage: ratio(this.waitsByGroup.accept, this.accepted),
      waitsPerDeliveredMessage: ratio(this.waitsByGroup.delivery, this.deliveredMessages),
      walkedEnvelopes: this.walked,
      walkSkippedEnvelopes: this.walkSkipped,
      pendingDeletes: {
        ...this.pendingDeletes,
        waiting:
          this.pendingDeletes.queued - this.pendingDeletes.done - this.pendingDeletes.dropped,
      },
    };
  }
}
