import { setTimeout as sleep } from 'node:timers/promises';
import { StorageFault } from '@smtpq/store';
import { classifyMongoError, describeError } from './faults.js';

/** The part of a pino logger the driver uses; retries are logged at warn. */
export interface DriverLogger {
  warn(object: object, message: string): void;
}

export interface RetryPolicy {
  /** Milliseconds one operation may spend on attempts before it fails with a StorageFault. */
  budgetMs: number;
  logger?: DriverLogger;
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;

/**
 * Runs one MongoDB operation, and again after a jittered, growing pause while it fails with a
 * transient fault (lost connection, no primary, step-down, timeout) and the budget lasts.
 * Then it throws StorageFault with the last fault's kind. Errors that are not storage faults
 * are thrown as they are. `attempt` receives the attempt number, from 1.
 *
 * An attempt that starts just before the budget ends may itself take up to the client's
 * serverSelectionTimeoutMS or socketTimeoutMS, so the bound on one operation is the budget
 * plus the larger of those two.
 */
export async function withRetry<T>(
  operation: string,
  policy: RetryPolicy,
  attempt: (attemptNumber: number) => Promise<T>,
): Promise<T> {
  const started = Date.now();

  for (let attemptNumber = 1; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      const fault = classifyMongoError(error);
      if (fault === null) throw error;
      if (error instanceof StorageFault) throw error;

      const elapsedMs = Date.now() - started;
      if (!fault.retry) throw storageFault(operation, error);

      const delayMs = jitter(Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attemptNumber - 1)));
      if (elapsedMs + delayMs >= policy.budgetMs) {
        throw new StorageFault(
          fault.kind,
          `MongoDB ${operation} failed ${attemptNumber} times in ${elapsedMs} ms: ` +
            describeError(error),
          { cause: error },
        );
      }

      // One line per operation: an outage would otherwise log every attempt of every request.
      if (attemptNumber === 1) {
        policy.logger?.warn(
          { operation, fault: fault.kind, budgetMs: policy.budgetMs, err: error },
          'mongodb: retrying after a transient fault',
        );
      }
      await sleep(delayMs);
    }
  }
}

/**
 * Converts an error of one attempt that cannot be repeated (a cursor that failed in the
 * middle) into a StorageFault when it is a storage fault; other errors are returned as they are.
 */
export function storageFault(operation: string, error: unknown): unknown {
  const fault = classifyMongoError(error);
  if (fault === null || error instanceof StorageFault) return error;
  return new StorageFault(fault.kind, `MongoDB ${operation}: ${describeError(error)}`, {
    cause: error,
  });
}

function jitter(delayMs: number): number {
  return Math.round(delayMs * (0.5 + Math.random() / 2));
}
