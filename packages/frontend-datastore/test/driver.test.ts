import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DatastoreDriver, MAX_RECORD_BYTES } from '../src/index.js';
import { driverOpen, freshTarget, testServerStart } from './helpers.js';

let server: RunningTestServer;
const opened: DatastoreDriver[] = [];

beforeAll(async () => {
  server = await testServerStart({ queryLagMs: 60_000 });
});

afterEach(async () => {
  for (const driver of opened.splice(0)) await driver.close();
});

afterAll(async () => {
  await server?.stop();
});

async function open(target = freshTarget()): Promise<DatastoreDriver> {
  const driver = await driverOpen(target);
  opened.push(driver);
  return driver;
}

const msgid = (index: number) => index.toString(16).padStart(8, '0');

describe('key layout', () => {
  it('walks envelopes of many shard groups in evpid order', async () => {
    const driver = await open();
    // Msgids spread over 16 shard groups (first two hex digits), written in reverse order.
    const keys: string[] = [];
    for (let shard = 0; shard < 256; shard += 16) {
      const id = `${shard.toString(16).padStart(2, '0')}00abcd`;
      for (let envelope = 1; envelope <= 3; envelope++) {
        keys.push(`env/${id}/${id}${envelope.toString(16).padStart(8, '0')}`);
      }
    }
    for (const key of [...keys].reverse()) await driver.create(key, Buffer.from(key));

    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await driver.list('env/', { after, limit: 7 });
      paged.push(...page);
      if (page.length < 7) break;
      after = page[page.length - 1];
    }

    expect(paged).toEqual(keys);
    expect(await driver.list(`env/${keys[3]?.slice(4, 12)}/`, { limit: 10 })).toEqual(
      keys.slice(3, 6),
    );
  });

  it('merges keys outside the queue layout into listings in byte order', async () => {
    const driver = await open();
    const keys = [
      'env/0f00abcd/0f00abcd00000001',
      'env/1',
      'env/10000000/1000000000000001',
      'env/zz',
      'envx',
    ];
    for (const key of keys) await driver.create(key, Buffer.from('x'));

    expect(await driver.list('env/', { limit: 10 })).toEqual(keys.slice(0, 4));
    expect(await driver.list('env/', { after: 'env/1', limit: 2 })).toEqual(keys.slice(2, 4));
    expect(await driver.list('', { limit: 10 })).toEqual(keys);
  });

  it('lists records written by another driver at once, whatever the query lag', async () => {
    const target = freshTarget();
    const writer = await open(target);
    const reader = await open(target);
    await reader.list('msg/', { limit: 10 });

    await writer.create('msg/7f00abcd', Buffer.from('m'));
    await writer.blobPut(
      'body/7f00abcd/000000000001-aa',
      (async function* () {
        yield Buffer.from('body');
      })(),
    );

    expect(await reader.list('msg/', { limit: 10 })).toEqual(['msg/7f00abcd']);
    expect(await reader.blobList('body/', { limit: 10 })).toEqual([
      'body/7f00abcd/000000000001-aa',
    ]);
  });
});

describe('records', () => {
  it('stores a record of the largest size and rejects one byte more', async () => {
    const driver = await open();
    expect(await driver.create('t/max', Buffer.alloc(MAX_RECORD_BYTES, 1))).toEqual(
      expect.any(String),
    );
    await expect(driver.create('t/over', Buffer.alloc(MAX_RECORD_BYTES + 1))).rejects.toThrow(
      /larger than the Datastore driver's limit/,
    );
    expect(await driver.get('t/over')).toBeNull();
  });

  it('rejects keys outside the key alphabet', async () => {
    const driver = await open();
    for (const key of ['', 'Msg/1', 'a//b', '/a', 'a/', 'a b', 'a#b', 'x'.repeat(501)]) {
      await expect(driver.create(key, Buffer.from('x')), key).rejects.toThrow(/invalid store key/);
      await expect(driver.blobGet(key), key).rejects.toThrow(/invalid store key/);
    }
    await expect(driver.list('A/', { limit: 1 })).rejects.toThrow(/invalid store key prefix/);
  });

  it('calls after close fail as unavailable', async () => {
    const driver = await driverOpen(freshTarget());
    await driver.close();
    await expect(driver.get('msg/0000abcd')).rejects.toMatchObject({
      name: 'StorageFault',
      kind: 'unavailable',
    });
  });

  // Field case FC-02: 20 concurrent creates of one client-chosen id have one winner.
  it('20 concurrent creates of one msgid: exactly one wins', async () => {
    const driver = await open();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, writer) =>
        driver.create('msg/0000abcd', Buffer.from(`writer ${writer}`)),
      ),
    );

    const winners = results.flatMap((version, writer) => (version === null ? [] : [writer]));
    expect(winners).toHaveLength(1);
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe(`writer ${winners[0]}`);
    expect(record?.version).toBe(results[winners[0] as number]);
  });

  // Field case FC-03: two frontends write with one ETag at the same moment; one wins a round.
  it('two drivers replacing from one version: one winner in each of 100 rounds', async () => {
    const target = freshTarget();
    const first = await open(target);
    const second = await open(target);
    const key = 'env/0000abcd/0000abcd00000001';
    let version = (await first.create(key, Buffer.from('round 0'))) as string;

    for (let round = 1; round <= 100; round++) {
      const results = await Promise.all([
        first.replace(key, Buffer.from(`first ${round}`), version),
        second.replace(key, Buffer.from(`second ${round}`), version),
      ]);

      const wins = results.filter((result) => result !== 'mismatch' && result !== 'missing');
      expect(wins, `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
      const winner = results[0] === 'mismatch' ? 'second' : 'first';
      const record = await second.get(key);
      expect(record?.data.toString()).toBe(`${winner} ${round}`);
      expect(record?.version).toBe(wins[0]);
      version = wins[0] as string;
    }
  });

  it('two drivers contend, aborts retried', async () => {
    const target = freshTarget();
    const first = await open(target);
    const second = await open(target);
    const keys = Array.from({ length: 20 }, (_, i) => `env/0000abcd/0000abcd${msgid(i + 1)}`);
    const versions = await Promise.all(keys.map((key) => first.create(key, Buffer.from('start'))));
    server.counters.reset();

    const results = await Promise.all(
      keys.map((key, index) => {
        const driver = index % 2 === 0 ? first : second;
        return driver.replace(key, Buffer.from(`updated ${index}`), versions[index] as string);
      }),
    );

    expect(results.filter((result) => result === 'mismatch' || result === 'missing')).toEqual([]);
    for (const [index, key] of keys.entries()) {
      expect((await first.get(key))?.data.toString()).toBe(`updated ${index}`);
    }
    // Both drivers committed to one entity group at once: the service aborted some commits.
    expect(server.counters.statusCounts().Commit?.ABORTED ?? 0).toBeGreaterThan(0);
  });
});
