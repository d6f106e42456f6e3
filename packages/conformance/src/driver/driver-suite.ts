import { CaseSkipped, errorText } from '../failure.js';
import {
  type CaseOutcome,
  caseFilter,
  countOutcome,
  emptyCounts,
  formatOutcome,
  type SuiteCounts,
} from '../results.js';
import { crashCases } from './crash-cases.js';
import type { DriverCase, DriverFactory } from './harness.js';
import { poolCases } from './pool-cases.js';
import { queueCases } from './queue-cases.js';
import { scanCases } from './scan-cases.js';
import { storageCases } from './storage-cases.js';

/** Returns every case of the driver-level contract, in the order they run. */
export function driverCases(): DriverCase[] {
  return [...storageCases(), ...scanCases(), ...queueCases(), ...poolCases(), ...crashCases()];
}

export interface DriverSuiteOptions {
  /** Runs only the cases whose name contains this pattern (`*` matches anything). */
  only?: string;
  /** Receives one line per case as it ends. */
  log?: (line: string) => void;
}

/**
 * Runs the driver-level contract against the stores `factory` opens, outside any test
 * framework, and returns the counts. `runDriverContract` in `@smtpq/conformance/vitest` runs
 * the same cases as vitest tests.
 */
export async function runDriverSuite(
  factory: DriverFactory,
  options: DriverSuiteOptions = {},
): Promise<SuiteCounts> {
  const counts = emptyCounts();
  const selected = caseFilter(options.only);

  for (const entry of driverCases()) {
    if (!selected(entry.name)) continue;
    let outcome: CaseOutcome;
    try {
      await entry.run(factory);
      outcome = { name: entry.name, status: 'ok' };
    } catch (error) {
      const status = error instanceof CaseSkipped ? 'skip' : 'fail';
      outcome = { name: entry.name, status, reason: errorText(error) };
    }
    countOutcome(counts, outcome);
    options.log?.(formatOutcome(outcome));
  }
  return counts;
}
