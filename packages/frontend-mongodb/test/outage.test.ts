import { QueueError } from '@smtpq/protocol';
import { StorageFault } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoQueueStore, type MongoDriver, openMongoDriver } from '../src/index.js';
import { type FerretDbServer, ferretdbStart } from './support/ferretdb.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** A database the test can stop and start again, keeping its data. */
interface Outage {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * FerretDB itself is killed and started again on the same data folder and port. A MongoDB
 * named by SMTPQ_TEST_MONGODB_URL cannot be stopped by the test, so a TCP proxy in front of
 * its first host is cut instead.
 */
async function outageStart(server: TestMongo): Promise<Outage> {
  const url = server.newDatabaseUrl('outage');
  if (server.ferretdb !== null) {
    let ferretdb: FerretDbServer = server.ferretdb;
    return {
      url,
      stop: () => ferretdb.kill(),
      start: async () => {
        ferretdb = await ferretdbStart({ dataDir: ferretdb.dataDir, port: ferretdb.port });
      },
      close: () => ferretdb.stop(),
    };
  }

  const match = /^mongodb:\/\/(?:([^@/]*)@)?([^:/,?]+)(?::(\d+))?\/([^?]*)(?:\?(.*))?$/.exec(url);
  if (match === null) {
    throw new Error('the outage test needs a single-host mongodb:// SMTPQ_TEST_MONGODB_URL');
  }
  const [, credentials, host, port, database, query] = match;
  const proxy = new TcpProxy(host as string, Number(port ?? 27017));
  await proxy.start();
  const user = credentials === undefined ? '' : `${credentials}@`;
  const options = query === undefined ? '' : `${query}&`;
  return {
    url: `mongodb://${user}127.0.0.1:${proxy.port}/${database}?${options}directConnection=true`,
    stop: () => proxy.stop(),
    start: () => proxy.start(),
    close: () => proxy.stop(),
  };
}

/** Describes an unexpected error fully, so that a failure names its class, code and stack. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return `${error.constructor.name} (code ${String(code)}): ${error.stack}`;
}

let server: TestMongo;
let outage: Outage;
let driver: MongoDriver;

beforeAll(async () => {
  server = await testMongoStart();
  outage = await outageStart(server);
  driver = await openMongoDriver(outage.url, {
    retryBudgetMs: 2_000,
    clientOptions: { serverSelectionTimeoutMS: 500, connectTimeoutMS: 500 },
  });
}, 900_000);

afterAll(async () => {
  await driver?.close();
  await outage?.close();
  await server?.stop();
});

describe('database outage', () => {
  it('writes fail with StorageFault while stopped and recover after a restart', async () => {
    const acknowledged: string[] = [];
    const faults: unknown[] = [];
    let phase: 'up' | 'down' | 'restarted' = 'up';
    let successAfterRestart = false;

    for (let index = 0; !successAfterRestart; index++) {
      if (phase === 'up' && acknowledged.length === 20) {
        await outage.stop();
        phase = 'down';
      }
      if (phase === 'down' && faults.length === 3) {
        await outage.start();
        phase = 'restarted';
      }

      const key = `env/0000abcd/0000abcd${index.toString(16).padStart(8, '0')}`;
      try {
        await driver.create(key, Buffer.from(key));
        acknowledged.push(key);
        if (phase === 'restarted') successAfterRestart = true;
      } catch (error) {
        faults.push(error);
        // Requests during the restart itself may still fail; a hundred would be a hang.
        expect(faults.length).toBeLessThan(100);
      }
    }

    expect(faults.length).toBeGreaterThanOrEqual(3);
    for (const fault of faults) {
      expect(fault, errorText(fault)).toBeInstanceOf(StorageFault);
      expect(['unavailable', 'timeout']).toContain((fault as StorageFault).kind);
    }
    for (const key of acknowledged) {
      expect((await driver.get(key))?.data.toString(), key).toBe(key);
    }
  });

  it('queue store answers storage-unavailable while stopped', async () => {
    const store = createMongoQueueStore(driver);
    await store.messageCreate({ msgid: '0000abce' });
    await outage.stop();

    const error = await store
      .envelopeCreate('0000abce', Buffer.from('rcpt'), { evpid: '0000abce00000001' })
      .catch((caught: unknown) => caught);
    const health = await driver.health().catch((caught: unknown) => caught);
    await outage.start();

    expect(error, errorText(error)).toBeInstanceOf(QueueError);
    expect(['storage-unavailable', 'storage-timeout']).toContain((error as QueueError).code);
    expect(health, errorText(health)).toBeInstanceOf(StorageFault);
    await expect(driver.health()).resolves.toBeUndefined();
    expect((await store.messageInfo('0000abce')).state).toBe('open');
  });
});
