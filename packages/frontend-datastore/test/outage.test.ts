import { type RunningTestServer, startTestServer } from '@smtpq/datastore-testserver';
import { StorageFault } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatastoreDriver } from '../src/index.js';
import { driverOpen, freshTarget, SHORT_RETRY, testServerStart } from './helpers.js';

let server: RunningTestServer;
let driver: DatastoreDriver;

beforeAll(async () => {
  server = await testServerStart();
  driver = await driverOpen(freshTarget('outage'), { retry: SHORT_RETRY });
});

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

const key = (index: number) => `env/0000abcd/0000abcd${(index + 1).toString(16).padStart(8, '0')}`;

async function untilWriteSucceeds(index: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await driver.create(key(index), Buffer.from(`envelope ${index}`));
      return attempt;
    } catch (error) {
      if (!(error instanceof StorageFault) || attempt >= 20) throw error;
    }
  }
}

describe('test server stopped during a stream of writes', () => {
  it('outage fails writes, then recovers', async () => {
    const acknowledged: number[] = [];
    for (let index = 0; index < 20; index++) {
      await driver.create(key(index), Buffer.from(`envelope ${index}`));
      acknowledged.push(index);
    }

    const state = server.state;
    const port = server.port;
    await server.stop();

    const during = await driver.create(key(20), Buffer.from('envelope 20')).then(
      () => 'stored',
      (error: unknown) => error,
    );
    expect(during).toBeInstanceOf(StorageFault);
    expect((during as StorageFault).kind).toMatch(/^(unavailable|timeout)$/);
    await expect(driver.health()).rejects.toBeInstanceOf(StorageFault);

    server = await startTestServer({ port, state });
    await untilWriteSucceeds(20);
    await driver.health();
    for (let index = 21; index < 30; index++) {
      await driver.create(key(index), Buffer.from(`envelope ${index}`));
    }

    for (const index of [...acknowledged, 20, 21, 29]) {
      expect((await driver.get(key(index)))?.data.toString()).toBe(`envelope ${index}`);
    }
    expect(await driver.list('env/0000abcd/', { limit: 100 })).toHaveLength(30);
  });

  it('UNAVAILABLE commit is retried once', async () => {
    server.injectFault({ method: 'Commit', code: 14, times: 2 });
    const version = await driver.create('msg/00000fff', Buffer.from('after faults'));
    expect(version).toEqual(expect.any(String));
    expect((await driver.get('msg/00000fff'))?.version).toBe(version);
  });

  it('lasting fault becomes StorageFault', async () => {
    server.injectFault({ method: 'Lookup', code: 8, times: 1000 });
    const outcome = await driver.get('msg/00000fff').then(
      () => 'read',
      (error: unknown) => error,
    );
    server.clearFaults();
    expect(outcome).toBeInstanceOf(StorageFault);
  });
});
