/** The outcome of one case of a suite. */
export interface CaseOutcome {
  name: string;
  status: 'ok' | 'fail' | 'skip';
  /** Reason the case failed or did not run. */
  reason?: string;
}

/** Counts of a suite run, with the outcome of every case in the order they ran. */
export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
  outcomes: CaseOutcome[];
}

export function emptyCounts(): SuiteCounts {
  return { passed: 0, failed: 0, skipped: 0, outcomes: [] };
}

/** Adds an outcome to the counts. */
export function countOutcome(counts: SuiteCounts, outcome: CaseOutcome): void {
  counts.outcomes.push(outcome);
  if (outcome.status === 'ok') counts.passed += 1;
  else if (outcome.status === 'fail') counts.failed += 1;
  else counts.skipped += 1;
}

/** Formats an outcome as the suite prints it: `ok   name`, `FAIL name: reason`, `skip name: reason`. */
export function formatOutcome(outcome: CaseOutcome): string {
  if (outcome.status === 'ok') return `ok   ${outcome.name}`;
  const reason = (outcome.reason ?? 'no reason given').replace(/\s*\n\s*/g, ' ');
  return `${outcome.status === 'fail' ? 'FAIL' : 'skip'} ${outcome.name}: ${reason}`;
}

/** Formats the last line of a run: `N passed, N failed`, then `, N skipped` when some did not run. */
export function formatSummary(counts: SuiteCounts): string {
  const line = `${counts.passed} passed, ${counts.failed} failed`;
  return counts.skipped > 0 ? `${line}, ${counts.skipped} skipped` : line;
}

/**
 * Builds the case filter of `--only`: a case runs when its name contains the pattern, where
 * `*` matches any run of characters. Matching ignores case.
 */
export function caseFilter(pattern: string | undefined): (name: string) => boolean {
  if (pattern === undefined || pattern === '') return () => true;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(source, 'i');
  return (name) => regex.test(name);
}
