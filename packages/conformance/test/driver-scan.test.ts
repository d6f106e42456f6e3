import { MemoryDriver } from '@smtpq/store';
import { describe, expect, it } from 'vitest';
import { runDriverSuite, type SuiteCounts } from '../src/index.js';
import { AfterInclusiveScanDriver, withoutScan } from './scan-drivers.js';

function outcomesOf(counts: SuiteCounts, status: 'ok' | 'fail' | 'skip'): string[] {
  return counts.outcomes.filter((outcome) => outcome.status === status).map((entry) => entry.name);
}

describe('scan cases', () => {
  it('skipped with the reason without scan', async () => {
    const counts = await runDriverSuite(
      async () => {
        const driver = withoutScan(new MemoryDriver());
        return { driver, reopen: async () => driver };
      },
      { only: 'storage: scan' },
    );

    expect(counts.outcomes.length).toBeGreaterThanOrEqual(4);
    expect(outcomesOf(counts, 'skip')).toHaveLength(counts.outcomes.length);
    for (const outcome of counts.outcomes) expect(outcome.reason).toMatch(/has no scan/);
  });

  it('pass on MemoryDriver', async () => {
    const counts = await runDriverSuite(
      async () => {
        const driver = new MemoryDriver();
        return { driver, reopen: async () => driver };
      },
      { only: 'storage: scan' },
    );

    expect(outcomesOf(counts, 'ok')).toHaveLength(counts.outcomes.length);
    expect(counts.outcomes.length).toBeGreaterThanOrEqual(4);
  });

  it('catch a scan that includes its after key', async () => {
    const counts = await runDriverSuite(
      async () => {
        const driver = new AfterInclusiveScanDriver();
        return { driver, reopen: async () => driver };
      },
      { only: 'scan' },
    );

    const failed = outcomesOf(counts, 'fail');
    expect(failed).toContain('storage: scan honours prefix, after and limit');
    expect(failed).toContain('storage: scan pages through many keys once each');
    expect(counts.outcomes.find((entry) => entry.name.includes('after and limit'))?.reason).toMatch(
      /returned \[ 'env\/1', 'env\/2', 'env\/3' \], expected \[ 'env\/2', 'env\/3' \]/,
    );
  });

  it('catch a walk over that scan', async () => {
    const counts = await runDriverSuite(
      async () => {
        const driver = new AfterInclusiveScanDriver();
        return { driver, reopen: async () => driver };
      },
      { only: 'queue: walk returns each envelope once' },
    );

    expect(outcomesOf(counts, 'fail')).toEqual([
      'queue: walk returns each envelope once across changes',
    ]);
    expect(counts.outcomes[0]?.reason).toMatch(/walk returned an envelope twice/);
  });
});
