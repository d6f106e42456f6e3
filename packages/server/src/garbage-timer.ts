import type { GarbageReport, QueueStore } from '@smtpq/store';
import type { Logger } from 'pino';

export interface GarbageTimer {
  /** Stops the timer and waits for a collection in progress to end. */
  stop(): Promise<void>;
}

/**
 * Milliseconds after the start before the first pass, at most: it removes what a crash left
 * and counts the queue for the metrics, which would otherwise wait a whole interval.
 */
const FIRST_PASS_DELAY_MS = 10_000;

/**
 * Runs `store.collectGarbage()` every `intervalMs` (never two at once), the first time after
 * at most FIRST_PASS_DELAY_MS, logs what each run removed and hands its report to `onReport`.
 * The timers are unref'd: they never keep the process alive on their own.
 */
export function startGarbageTimer(
  store: QueueStore,
  intervalMs: number,
  logger: Logger,
  onReport: (report: GarbageReport) => void = () => undefined,
): GarbageTimer {
  let running: Promise<void> | undefined;
  let stopped = false;

  const collect = async (): Promise<void> => {
    const started = Date.now();
    try {
      const report = await store.collectGarbage();
      onReport(report);
      const { census, ...removals } = report;
      const removed = report.expiredMessages + report.orphanEnvelopes + report.orphanBodies;
      const level = removed > 0 ? 'info' : 'debug';
      logger[level](
        { ...removals, ...census, durationMs: Date.now() - started },
        'garbage collected',
      );
    } catch (error) {
      logger.warn({ err: error }, 'garbage collection failed; the next run tries again');
    }
  };
  const tick = (): void => {
    if (running !== undefined || stopped) return;
    running = collect().finally(() => {
      running = undefined;
    });
  };

  const first =
    intervalMs > 0 ? setTimeout(tick, Math.min(intervalMs, FIRST_PASS_DELAY_MS)) : undefined;
  const timer = intervalMs > 0 ? setInterval(tick, intervalMs) : undefined;
  first?.unref();
  timer?.unref();

  return {
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
