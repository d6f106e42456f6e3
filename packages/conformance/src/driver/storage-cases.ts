import type { StorageDriver } from '@smtpq/store';
import { everyByteValue, firstDifference } from '../bytes.js';
import { check, fail, show } from '../failure.js';
import { type DriverCase, withStore } from './harness.js';
import { chunksOf, readAll, runBounded } from './streams.js';

/** Yields the first `failAfter` bytes of `data`, then throws, as an upload cut off mid-way. */
async function* failingChunks(data: Buffer, failAfter: number): AsyncGenerator<Uint8Array> {
  yield* chunksOf(data.subarray(0, failAfter), 4096);
  throw new Error('upload cut off by the test');
}

async function expectRecord(driver: StorageDriver, key: string, expected: Buffer, when: string) {
  const record = await driver.get(key);
  if (record === null)
    fail(`${when}: get(${key}) returned null, expected ${expected.length} bytes`);
  check(
    record.data.equals(expected),
    `${when}: get(${key}) data differs from what was written: ${firstDifference(record.data, expected)}`,
  );
  return record;
}

async function expectBlob(driver: StorageDriver, key: string, expected: Buffer, when: string) {
  const blob = await driver.blobGet(key);
  if (blob === null)
    fail(`${when}: blobGet(${key}) returned null, expected ${expected.length} bytes`);
  const data = await readAll(blob.stream);
  check(
    blob.size === expected.length,
    `${when}: blobGet(${key}).size is ${blob.size}, expected ${expected.length}`,
  );
  check(data.equals(expected), `${when}: blob ${key} differs: ${firstDifference(data, expected)}`);
}

export function expectKeys(actual: string[], expected: string[], call: string): void {
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    `${call} returned ${show(actual)}, expected ${show(expected)}`,
  );
}

/** Keys whose byte order differs from a naive character or numeric order. */
export const ORDERED_KEYS = [
  't/a',
  't/a-b',
  't/a.b',
  't/a/b',
  't/a0',
  't/a9',
  't/a_b',
  't/ab',
  't/b',
];

const cases: DriverCase[] = [
  {
    name: 'get of an absent key returns null',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const record = await driver.get('t/absent');
        check(record === null, `get(t/absent) returned ${show(record)}, expected null`);
        const blob = await driver.blobGet('t/absent');
        check(blob === null, `blobGet(t/absent) returned ${show(blob)}, expected null`);
      }),
  },
  {
    name: 'create stores only when the key is absent',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const first = await driver.create('t/key', Buffer.from('first'));
        check(
          typeof first === 'string',
          `first create returned ${show(first)}, expected a version`,
        );
        const second = await driver.create('t/key', Buffer.from('second'));
        check(second === null, `create of an existing key returned ${show(second)}, expected null`);

        const record = await expectRecord(
          driver,
          't/key',
          Buffer.from('first'),
          'after a second create',
        );
        check(
          record.version === first,
          `get version is ${show(record.version)}, create returned ${show(first)}`,
        );
      }),
  },
  {
    name: 'versions are visible ASCII without quotes',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        // The queue store sends versions as strong ETags, inside double quotes.
        const version = await driver.create('t/key', Buffer.from('x'));
        const replaced = await driver.replace('t/key', Buffer.from('y'), version ?? '');
        for (const value of [version, replaced]) {
          check(
            typeof value === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(value),
            `version ${show(value)} is not visible ASCII without '"' and '\\'`,
          );
        }
      }),
  },
  {
    name: 'records keep every byte value',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const data = everyByteValue(70_000, 3);
        await driver.create('t/bytes', data);
        await driver.create('t/empty', Buffer.alloc(0));
        await expectRecord(driver, 't/bytes', data, 'record of 70000 bytes');
        await expectRecord(driver, 't/empty', Buffer.alloc(0), 'record of 0 bytes');
      }),
  },
  {
    name: 'replace is a compare-and-swap on the version',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const v1 =
          (await driver.create('t/key', Buffer.from('one'))) ?? fail('create returned null');
        const v2 = await driver.replace('t/key', Buffer.from('two'), v1);
        check(
          typeof v2 === 'string' && v2 !== 'mismatch' && v2 !== 'missing',
          `replace with the current version returned ${show(v2)}`,
        );
        check(
          v2 !== v1,
          `replace returned the old version ${show(v1)}; every write needs a new version`,
        );

        const stale = await driver.replace('t/key', Buffer.from('three'), v1);
        check(
          stale === 'mismatch',
          `replace with a stale version returned ${show(stale)}, expected mismatch`,
        );
        const absent = await driver.replace('t/absent', Buffer.from('x'), v1);
        check(
          absent === 'missing',
          `replace of an absent key returned ${show(absent)}, expected missing`,
        );

        const record = await expectRecord(
          driver,
          't/key',
          Buffer.from('two'),
          'after a stale replace',
        );
        check(
          record.version === v2,
          `get version is ${show(record.version)}, replace returned ${show(v2)}`,
        );
        check((await driver.get('t/absent')) === null, 'replace of an absent key created it');
      }),
  },
  {
    name: 'same bytes written again get a new version',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        // An ETag that stays the same across writes would let a stale If-Match win.
        const v1 =
          (await driver.create('t/key', Buffer.from('same'))) ?? fail('create returned null');
        const v2 = await driver.replace('t/key', Buffer.from('same'), v1);
        check(v2 !== v1, `rewriting the same bytes kept version ${show(v1)}`);
        const stale = await driver.replace('t/key', Buffer.from('same'), v1);
        check(
          stale === 'mismatch',
          `replace with the version before the rewrite returned ${show(stale)}`,
        );
      }),
  },
  {
    name: 'delete honours the expected version',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const v1 =
          (await driver.create('t/key', Buffer.from('one'))) ?? fail('create returned null');
        const v2 = await driver.replace('t/key', Buffer.from('two'), v1);

        const stale = await driver.delete('t/key', v1);
        check(
          stale === 'mismatch',
          `delete with a stale version returned ${show(stale)}, expected mismatch`,
        );
        await expectRecord(
          driver,
          't/key',
          Buffer.from('two'),
          'after a delete with a stale version',
        );

        const deleted = await driver.delete('t/key', v2 as string);
        check(deleted === 'deleted', `delete with the current version returned ${show(deleted)}`);
        check((await driver.get('t/key')) === null, 'get after delete did not return null');
        const again = await driver.delete('t/key');
        check(
          again === 'missing',
          `delete of an absent key returned ${show(again)}, expected missing`,
        );
        const versioned = await driver.delete('t/key', v2 as string);
        check(
          versioned === 'missing',
          `delete with a version of an absent key returned ${show(versioned)}`,
        );

        await driver.create('t/other', Buffer.from('x'));
        const plain = await driver.delete('t/other');
        check(plain === 'deleted', `delete without a version returned ${show(plain)}`);
      }),
  },
  {
    name: 'create after delete starts a new record',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const v1 =
          (await driver.create('t/key', Buffer.from('one'))) ?? fail('create returned null');
        await driver.delete('t/key');
        const v2 = await driver.create('t/key', Buffer.from('two'));
        check(typeof v2 === 'string', `create after delete returned ${show(v2)}`);
        const stale = await driver.replace('t/key', Buffer.from('three'), v1);
        check(
          stale === 'mismatch',
          `replace with the version of the deleted record returned ${show(stale)}`,
        );
      }),
  },
  {
    name: 'list returns keys in byte order',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        for (const key of [...ORDERED_KEYS].reverse()) await driver.create(key, Buffer.from(key));
        expectKeys(await driver.list('t/', { limit: 100 }), ORDERED_KEYS, "list('t/')");
      }),
  },
  {
    name: 'list honours prefix, after and limit',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        for (const key of ['env/1', 'env/2', 'env/3', 'envx/1', 'en', 'msg/1']) {
          await driver.create(key, Buffer.from('x'));
        }
        await driver.blobPut('env/blob', chunksOf(Buffer.from('blob')));

        expectKeys(
          await driver.list('env/', { limit: 100 }),
          ['env/1', 'env/2', 'env/3'],
          "list('env/')",
        );
        expectKeys(
          await driver.list('env/', { limit: 2 }),
          ['env/1', 'env/2'],
          "list('env/', limit 2)",
        );
        expectKeys(
          await driver.list('env/', { after: 'env/1', limit: 100 }),
          ['env/2', 'env/3'],
          "list('env/', after env/1)",
        );
        expectKeys(
          await driver.list('env/', { after: 'env/15', limit: 100 }),
          ['env/2', 'env/3'],
          "list('env/', after env/15)",
        );
        expectKeys(
          await driver.list('env/', { after: 'env/3', limit: 100 }),
          [],
          "list('env/', after env/3)",
        );
        expectKeys(await driver.list('nothing/', { limit: 100 }), [], "list('nothing/')");
        expectKeys(
          await driver.list('', { limit: 100 }),
          ['en', 'env/1', 'env/2', 'env/3', 'envx/1', 'msg/1'],
          "list('')",
        );
      }),
  },
  {
    name: 'list pages through many keys once each',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const keys = Array.from({ length: 2500 }, (_, i) => `p/${i.toString(16).padStart(8, '0')}`);
        await runBounded(keys, 32, (key) => driver.create(key, Buffer.from(key)));

        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await driver.list('p/', { after, limit: 1000 });
          seen.push(...page);
          if (page.length < 1000) break;
          after = page[page.length - 1];
        }
        check(
          seen.length === keys.length,
          `paged list returned ${seen.length} keys, expected ${keys.length}`,
        );
        expectKeys(seen, keys, 'paged list');
      }),
  },
  {
    name: 'blobs and records are listed apart',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        await driver.create('k/record', Buffer.from('r'));
        await driver.blobPut('k/blob', chunksOf(Buffer.from('b')));
        expectKeys(await driver.list('k/', { limit: 10 }), ['k/record'], "list('k/')");
        expectKeys(await driver.blobList('k/', { limit: 10 }), ['k/blob'], "blobList('k/')");
      }),
  },
  {
    name: 'blobs stream every byte value',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const data = everyByteValue(5 * 1024 * 1024 + 3, 9);
        const result = await driver.blobPut('b/big', chunksOf(data, 50_000));
        check(
          result.size === data.length,
          `blobPut returned size ${result.size}, expected ${data.length}`,
        );
        await expectBlob(driver, 'b/big', data, 'blob of 5 MiB');

        await driver.blobPut('b/empty', chunksOf(Buffer.alloc(0)));
        await expectBlob(driver, 'b/empty', Buffer.alloc(0), 'blob of 0 bytes');
      }),
  },
  {
    name: 'blob put replaces the whole blob',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        await driver.blobPut('b/key', chunksOf(everyByteValue(200_000, 1)));
        const second = everyByteValue(1000, 2);
        await driver.blobPut('b/key', chunksOf(second));
        await expectBlob(driver, 'b/key', second, 'after a shorter second put');
      }),
  },
  {
    name: 'failed blob upload leaves nothing',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const previous = everyByteValue(10_000, 4);
        await driver.blobPut('b/kept', chunksOf(previous));

        for (const key of ['b/kept', 'b/new']) {
          const outcome = await driver
            .blobPut(key, failingChunks(everyByteValue(300_000, 5), 100_000))
            .then(
              () => 'resolved',
              () => 'rejected',
            );
          check(
            outcome === 'rejected',
            `blobPut(${key}) whose source failed ${outcome}, expected a rejection`,
          );
        }

        await expectBlob(driver, 'b/kept', previous, 'after a failed replacing upload');
        check((await driver.blobGet('b/new')) === null, 'a failed upload of a new key left a blob');
        expectKeys(await driver.blobList('b/', { limit: 10 }), ['b/kept'], "blobList('b/')");
      }),
  },
  {
    name: 'blob delete and blob list',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        for (const key of ['b/1', 'b/2', 'b/3', 'bx/1'])
          await driver.blobPut(key, chunksOf(Buffer.from(key)));

        expectKeys(
          await driver.blobList('b/', { limit: 10 }),
          ['b/1', 'b/2', 'b/3'],
          "blobList('b/')",
        );
        expectKeys(
          await driver.blobList('b/', { after: 'b/1', limit: 1 }),
          ['b/2'],
          "blobList('b/', after b/1, limit 1)",
        );

        await driver.blobDelete('b/2');
        await driver.blobDelete('b/absent');
        check(
          (await driver.blobGet('b/2')) === null,
          'blobGet after blobDelete did not return null',
        );
        expectKeys(
          await driver.blobList('b/', { limit: 10 }),
          ['b/1', 'b/3'],
          "blobList('b/') after a delete",
        );
      }),
  },
  {
    name: 'twenty concurrent creates have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => driver.create('t/race', Buffer.from(`writer ${i}`))),
        );
        const winners = results.flatMap((version, i) => (version === null ? [] : [i]));
        check(
          winners.length === 1,
          `${winners.length} of 20 concurrent creates succeeded, expected 1`,
        );
        await expectRecord(driver, 't/race', Buffer.from(`writer ${winners[0]}`), 'after the race');
      }),
  },
  {
    name: 'twenty concurrent replaces have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const v1 =
          (await driver.create('t/race', Buffer.from('start'))) ?? fail('create returned null');
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            driver.replace('t/race', Buffer.from(`writer ${i}`), v1),
          ),
        );
        const winners = results.flatMap((result, i) => (result === 'mismatch' ? [] : [i]));
        check(
          winners.length === 1,
          `${winners.length} of 20 replaces with one version succeeded: ${show(results)}`,
        );
        await expectRecord(driver, 't/race', Buffer.from(`writer ${winners[0]}`), 'after the race');
      }),
  },
  {
    name: 'concurrent replace and delete have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        for (let round = 0; round < 10; round++) {
          const key = `t/race-${round}`;
          const v1 =
            (await driver.create(key, Buffer.from('start'))) ?? fail('create returned null');
          const [replaced, deleted] = await Promise.all([
            driver.replace(key, Buffer.from('replaced'), v1),
            driver.delete(key, v1),
          ]);
          const replaceWon = replaced !== 'mismatch' && replaced !== 'missing';
          const deleteWon = deleted === 'deleted';
          check(
            replaceWon !== deleteWon,
            `round ${round}: replace returned ${show(replaced)} and delete ${show(deleted)}, expected one winner`,
          );
          const record = await driver.get(key);
          check(
            (record !== null) === replaceWon,
            `round ${round}: the record is ${record === null ? 'gone' : 'there'} but the ${replaceWon ? 'replace' : 'delete'} won`,
          );
        }
      }),
  },
  {
    name: 'health resolves on a working store',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        await driver.health();
      }),
  },
  {
    name: 'writes survive a reopen',
    run: (factory) =>
      withStore(factory, async ({ driver, reopen }) => {
        const version =
          (await driver.create('t/kept', Buffer.from('one'))) ?? fail('create returned null');
        const replaced = await driver.replace('t/kept', Buffer.from('two'), version);
        await driver.create('t/gone', Buffer.from('x'));
        await driver.delete('t/gone');
        const blob = everyByteValue(300_000, 6);
        await driver.blobPut('b/kept', chunksOf(blob));
        await driver.blobPut('b/gone', chunksOf(blob));
        await driver.blobDelete('b/gone');

        const again = await reopen();
        const record = await expectRecord(again, 't/kept', Buffer.from('two'), 'after reopen');
        check(
          record.version === replaced,
          `version after reopen is ${show(record.version)}, expected ${show(replaced)}`,
        );
        check((await again.get('t/gone')) === null, 'a deleted record came back after reopen');
        await expectBlob(again, 'b/kept', blob, 'after reopen');
        check((await again.blobGet('b/gone')) === null, 'a deleted blob came back after reopen');
        expectKeys(await again.list('t/', { limit: 10 }), ['t/kept'], "list('t/') after reopen");
      }),
  },
];

/** Returns the cases of the StorageDriver contract: what the queue semantics rely on. */
export function storageCases(): DriverCase[] {
  return cases.map((entry) => ({ ...entry, name: `storage: ${entry.name}` }));
}
