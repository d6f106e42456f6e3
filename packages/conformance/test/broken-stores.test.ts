import { startServer } from '@smtpq/server';
import { createQueueStore, MemoryDriver, type QueueStore } from '@smtpq/store';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { runDriverSuite, runHttpSuite, type SuiteCounts } from '../src/index.js';
import {
  digestSkipped,
  ifMatchIgnored,
  LossyDriver,
  lastPageDropped,
  visibleBeforeCommit,
  walkRepeatsEntry,
} from './broken-stores.js';

/** Runs the HTTP suite against a server over `breakStore(a working store)`. */
async function httpSuiteOver(breakStore: (store: QueueStore) => QueueStore): Promise<SuiteCounts> {
  const store = createQueueStore(new MemoryDriver(), { maxMessageBytes: 1024 * 1024 });
  const server = await startServer({
    store: breakStore(store),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
  });
  try {
    return await runHttpSuite({ url: server.url, rounds: 10, largeBodyBytes: 1024 * 1024 });
  } finally {
    await server.close();
  }
}

function failedNames(counts: SuiteCounts): string[] {
  return counts.outcomes
    .filter((outcome) => outcome.status === 'fail')
    .map((outcome) => outcome.name);
}

function reasonOf(counts: SuiteCounts, name: string): string {
  return counts.outcomes.find((outcome) => outcome.name === name)?.reason ?? '';
}

describe('suite catches broken stores', () => {
  it('message visible before commit', async () => {
    const counts = await httpSuiteOver(visibleBeforeCommit);

    expect(failedNames(counts)).toContain('commit makes envelopes visible at once');
    expect(reasonOf(counts, 'commit makes envelopes visible at once')).toMatch(/walk returned/);
  }, 120_000);

  it('If-Match ignored', async () => {
    const counts = await httpSuiteOver(ifMatchIgnored);

    expect(failedNames(counts)).toContain('envelope If-Match with stale ETag 412');
    expect(failedNames(counts)).toContain('if-match race on one frontend');
    expect(reasonOf(counts, 'envelope If-Match with stale ETag 412')).toMatch(
      /expected 412 precondition-failed, got 200/,
    );
  }, 120_000);

  it('walk entry returned twice', async () => {
    const counts = await httpSuiteOver(walkRepeatsEntry);

    expect(failedNames(counts)).toContain('walk pages in evpid order to an explicit end');
    expect(reasonOf(counts, 'walk pages in evpid order to an explicit end')).toMatch(
      /returned twice/,
    );
  }, 120_000);

  it('last walk page dropped', async () => {
    const counts = await httpSuiteOver(lastPageDropped);

    expect(failedNames(counts)).toContain('walk pages in evpid order to an explicit end');
    expect(failedNames(counts)).toContain('walk of 2500 envelopes in pages of 1000');
    expect(reasonOf(counts, 'walk of 2500 envelopes in pages of 1000')).toMatch(
      /envelopes missing/,
    );
  }, 120_000);

  it('digest checks skipped', async () => {
    const counts = await httpSuiteOver(digestSkipped);

    expect(failedNames(counts)).toContain('body digest mismatch 400');
    expect(failedNames(counts)).toContain('bundle digest mismatch 400');
    expect(reasonOf(counts, 'body digest mismatch 400')).toMatch(
      /expected 400 digest-mismatch, got 204/,
    );
  }, 120_000);

  it('driver that loses an acknowledged write on a crash', async () => {
    const counts = await runDriverSuite(
      async () => {
        let driver = new LossyDriver();
        return {
          driver,
          reopen: async () => {
            driver = driver.reopen();
            return driver;
          },
        };
      },
      { only: 'crash: ' },
    );

    const failed = failedNames(counts);
    expect(failed).toContain('crash: messageCreate, crash at every storage call');
    expect(failed).toContain('crash: messageCommit, crash at every storage call');
    expect(reasonOf(counts, 'crash: messageCreate, crash at every storage call')).toMatch(
      /acknowledged message 0000b001 changed/,
    );
  }, 120_000);

  it('working store passes the same suites', async () => {
    const http = await httpSuiteOver((store) => store);
    const driver = await runDriverSuite(
      async () => {
        const memory = new MemoryDriver();
        return { driver: memory, reopen: async () => memory };
      },
      { only: 'crash: ' },
    );

    expect(failedNames(http)).toEqual([]);
    expect(failedNames(driver)).toEqual([]);
  }, 120_000);
});
