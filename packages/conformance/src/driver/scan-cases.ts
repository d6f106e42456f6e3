import type { ScannedRecord, StorageDriver } from '@smtpq/store';
import { everyByteValue, firstDifference } from '../bytes.js';
import { check, show, skipCase } from '../failure.js';
import { type DriverCase, withStore } from './harness.js';
import { expectKeys, ORDERED_KEYS } from './storage-cases.js';
import { chunksOf, runBounded } from './streams.js';

type Scan = (
  prefix: string,
  options: { after?: string; limit: number },
) => Promise<ScannedRecord[]>;

/** Returns the driver's `scan`, or ends the case as skipped when the driver has none. */
function scanOf(driver: StorageDriver): Scan {
  if (driver.scan === undefined) {
    skipCase('the driver has no scan (optional), so the queue store reads with list and get');
  }
  return driver.scan.bind(driver);
}

function keysOf(records: ScannedRecord[]): string[] {
  return records.map((record) => record.key);
}

/** Checks that every scanned record has the data and version that `get` returns now. */
async function expectAsGet(driver: StorageDriver, records: ScannedRecord[], call: string) {
  for (const record of records) {
    const stored = await driver.get(record.key);
    check(stored !== null, `${call} returned ${record.key}, which get finds absent`);
    check(
      record.data.equals(stored.data),
      `${call}: data of ${record.key} differs from get: ${firstDifference(record.data, stored.data)}`,
    );
    check(
      record.version === stored.version,
      `${call}: version of ${record.key} is ${show(record.version)}, get returns ${show(stored.version)}`,
    );
  }
}

const cases: DriverCase[] = [
  {
    name: 'scan returns the keys of list with their records',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const scan = scanOf(driver);
        const versions = new Map<string, string>();
        for (const [index, key] of [...ORDERED_KEYS].reverse().entries()) {
          const data = Buffer.concat([Buffer.from(key), everyByteValue(300, index)]);
          versions.set(key, (await driver.create(key, data)) ?? '');
        }
        // A replaced record must come with its new version, a deleted one not at all.
        const replaced = await driver.replace(
          't/a.b',
          Buffer.from('replaced'),
          versions.get('t/a.b') ?? '',
        );
        await driver.delete('t/a0');

        const listed = await driver.list('t/', { limit: 100 });
        const scanned = await scan('t/', { limit: 100 });
        expectKeys(keysOf(scanned), listed, "scan('t/')");
        expectKeys(
          keysOf(scanned),
          ORDERED_KEYS.filter((key) => key !== 't/a0'),
          "scan('t/')",
        );
        await expectAsGet(driver, scanned, "scan('t/')");

        const record = scanned.find((entry) => entry.key === 't/a.b');
        check(
          record?.version === replaced && record.data.equals(Buffer.from('replaced')),
          `scan returned t/a.b as ${show(record)}, expected the replaced record of version ${show(replaced)}`,
        );
      }),
  },
  {
    name: 'scan honours prefix, after and limit',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const scan = scanOf(driver);
        for (const key of ['env/1', 'env/2', 'env/3', 'envx/1', 'en', 'msg/1']) {
          await driver.create(key, Buffer.from(`data of ${key}`));
        }
        await driver.blobPut('env/blob', chunksOf(Buffer.from('blob')));

        const expectations: Array<[string, { after?: string; limit: number }, string[]]> = [
          ['env/', { limit: 100 }, ['env/1', 'env/2', 'env/3']],
          ['env/', { limit: 2 }, ['env/1', 'env/2']],
          ['env/', { after: 'env/1', limit: 100 }, ['env/2', 'env/3']],
          ['env/', { after: 'env/15', limit: 100 }, ['env/2', 'env/3']],
          ['env/', { after: 'env/1', limit: 1 }, ['env/2']],
          ['env/', { after: 'env/3', limit: 100 }, []],
          ['env/', { after: 'a', limit: 100 }, ['env/1', 'env/2', 'env/3']],
          ['env/', { after: 'env0', limit: 100 }, []],
          ['nothing/', { limit: 100 }, []],
          ['', { limit: 100 }, ['en', 'env/1', 'env/2', 'env/3', 'envx/1', 'msg/1']],
        ];
        for (const [prefix, options, expected] of expectations) {
          const call = `scan(${show(prefix)}, ${show(options)})`;
          const scanned = await scan(prefix, options);
          expectKeys(keysOf(scanned), expected, call);
          expectKeys(keysOf(scanned), await driver.list(prefix, options), `${call} against list`);
          for (const record of scanned) {
            check(
              record.data.equals(Buffer.from(`data of ${record.key}`)),
              `${call}: data of ${record.key} is ${show(record.data.toString())}`,
            );
          }
        }
      }),
  },
  {
    name: 'scan pages through many keys once each',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const scan = scanOf(driver);
        const keys = Array.from({ length: 1200 }, (_, i) => `p/${i.toString(16).padStart(8, '0')}`);
        await runBounded(keys, 32, (key) => driver.create(key, Buffer.from(key)));

        const seen: ScannedRecord[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await scan('p/', { after, limit: 500 });
          seen.push(...page);
          if (page.length < 500) break;
          after = page[page.length - 1]?.key;
        }
        check(
          seen.length === keys.length,
          `paged scan returned ${seen.length} records, expected ${keys.length}`,
        );
        expectKeys(keysOf(seen), keys, 'paged scan');
        const wrong = seen.find((record) => !record.data.equals(Buffer.from(record.key)));
        check(
          wrong === undefined,
          `paged scan returned ${show(wrong?.key)} with another key's data`,
        );
      }),
  },
  {
    name: 'scan returns large records whole',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const scan = scanOf(driver);
        // 18 MiB in all: more than one 16 MiB reply of a MongoDB server.
        const records = Array.from({ length: 18 }, (_, i) => ({
          key: `big/${i.toString().padStart(2, '0')}`,
          data: everyByteValue(1024 * 1024, i),
        }));
        for (const record of records) await driver.create(record.key, record.data);

        const scanned = await scan('big/', { limit: records.length });
        expectKeys(
          keysOf(scanned),
          records.map((record) => record.key),
          "scan('big/')",
        );
        for (const [index, record] of scanned.entries()) {
          const expected = records[index]?.data ?? Buffer.alloc(0);
          check(
            record.data.equals(expected),
            `scan('big/'): ${record.key} differs: ${firstDifference(record.data, expected)}`,
          );
        }
      }),
  },
];

/**
 * The contract of the optional `scan`: the keys of `list` with the data and version of `get`.
 * A case run on a driver without `scan` ends as skipped, with the reason.
 */
export function scanCases(): DriverCase[] {
  return cases.map((entry) => ({ ...entry, name: `storage: ${entry.name}`, needs: 'scan' }));
}
