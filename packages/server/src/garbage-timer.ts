import type { QueueStore } from '@smtpq/store';
import type { Logger } from 'pino';

export interface GarbageTimer {
  /** Stops the timer and waits for a collection in progress to end. */
  stop(): Promise<void>;
}

/**
 * Runs `store.collectGarbage()` every `intervalMs` (never two at once) and logs what each run
 * removed. The timer is unref'd: it never keeps the process alive on its own.
 */
export function startGarbageTimer(
  store: QueueStore,
  intervalMs: number,
  logger: Logger,
): GarbageTimer {
  let running: Promise<void> | undefined;

  const collect = async (): Promise<void> => {
    const started = Date.now();
    try {
      const report = await store.collectGarbage();
      const removed = report.expiredMessages + report.orphanEnvelopes + report.orphanBodies;
      const level = removed > 0 ? 'info' : 'debug';
      logger[level]({ ...report, durationMs: Date.now() - started }, 'garbage collected');
    } catch (error) {
      logger.warn({ err: error }, 'garbage collection failed; the next run tries again');
    }
  };

  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (running !== undefined) return;
          running = collect().finally(() => {
            running = undefined;
          });
        }, intervalMs)
      : undefined;
  timer?.unref();

  return {
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await running;
    },
  };
}
