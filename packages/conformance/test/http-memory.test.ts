import { startServer } from '@smtpq/server';
import { createQueueStore, MemoryDriver } from '@smtpq/store';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHttpSuite } from '../src/index.js';

const TOKEN = 'conformance-test-token';

describe('http suite against servers over one MemoryDriver', () => {
  const driver = new MemoryDriver();
  const servers: Array<{ url: string; close(): Promise<void> }> = [];

  beforeAll(async () => {
    // Two servers over one driver are two frontends of one store.
    for (let i = 0; i < 2; i++) {
      const store = createQueueStore(driver, { maxMessageBytes: 3 * 1024 * 1024 });
      const logger = pino({ level: 'silent' });
      servers.push(
        await startServer({
          store,
          host: '127.0.0.1',
          port: 0,
          token: TOKEN,
          logger,
          gcIntervalMs: 0,
        }),
      );
    }
  });

  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  it('passes every case and leaves the store empty', async () => {
    const counts = await runHttpSuite({
      url: servers[0]?.url ?? '',
      url2: servers[1]?.url,
      token: TOKEN,
      rounds: 20,
    });

    expect(counts.outcomes.filter((outcome) => outcome.status !== 'ok')).toEqual([]);
    expect(counts.passed).toBe(counts.outcomes.length);
    // Lease records of the pool cases stay, released: the protocol has no lease delete.
    const keys = await driver.list('', { limit: 1000 });
    expect(keys.filter((key) => !key.startsWith('node/'))).toEqual([]);
    for (const key of keys) {
      const lease = JSON.parse(String((await driver.get(key))?.data));
      expect(lease.state, key).toBe('released');
    }
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  }, 600_000);
});
