import { describe, it } from 'vitest';
import { driverCases } from './driver/driver-suite.js';
import type { DriverFactory } from './driver/harness.js';

export interface DriverContractOptions {
  /** Runs only the cases whose name contains this text. */
  only?: string;
  /** Timeout of each case in ms; a crash case reopens the store dozens of times. */
  timeoutMs?: number;
  /**
   * Whether the driver has the optional `scan` method. Its cases run only when this is true,
   * and then fail if the driver lacks it.
   */
  scan?: boolean;
}

/**
 * Registers the driver-level contract as vitest tests under `driver contract: NAME`: the
 * StorageDriver rules, the queue rules through createQueueStore, and the crash cases. Call it
 * at the top level of a test file. `factory` opens a new, empty store for each case.
 */
export function runDriverContract(
  name: string,
  factory: DriverFactory,
  options: DriverContractOptions = {},
): void {
  describe(`driver contract: ${name}`, () => {
    for (const entry of driverCases()) {
      if (options.only !== undefined && !entry.name.includes(options.only)) continue;
      if (entry.needs === 'scan' && options.scan !== true) continue;
      it(entry.name, () => entry.run(factory), options.timeoutMs ?? 180_000);
    }
  });
}

export type { DriverFactory, DriverHandle } from './driver/harness.js';
