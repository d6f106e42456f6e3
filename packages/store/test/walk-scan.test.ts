import type { Msgid, WalkEntry } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_QUEUE_OPTIONS,
  MemoryDriver,
  type ScannedRecord,
  type StorageDriver,
  type StoredRecord,
} from '../src/index.js';
import { envelopeKey, messageKey } from '../src/keys.js';
import {
  decodeMessage,
  encodeEnvelope,
  encodeMessage,
  type MessageRecord,
} from '../src/records.js';
import { type WalkSource, walkPage } from '../src/walk.js';

/** A MemoryDriver that records each read call as `get KEY`, `list PREFIX` or `scan PREFIX`. */
class CountingDriver extends MemoryDriver {
  readonly calls: string[] = [];

  override get(key: string): Promise<StoredRecord | null> {
    this.calls.push(`get ${key}`);
    return super.get(key);
  }

  override list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    this.calls.push(`list ${prefix}`);
    return super.list(prefix, options);
  }

  override scan(
    prefix: string,
    options: { after?: string; limit: number },
  ): Promise<ScannedRecord[]> {
    this.calls.push(`scan ${prefix}`);
    return super.scan(prefix, options);
  }
}

/** Returns `driver` without its `scan`, so that the walk reads with list and get. */
function withoutScan(driver: StorageDriver): StorageDriver {
  return new Proxy(driver, {
    get: (target, property) => (property === 'scan' ? undefined : Reflect.get(target, property)),
  });
}

/** Returns the walk's view of a queue store over `driver`, with the default options. */
function sourceOver(driver: StorageDriver): WalkSource {
  return {
    driver,
    options: DEFAULT_QUEUE_OPTIONS,
    async messageLoad(msgid: Msgid) {
      const key = messageKey(msgid);
      const stored = await driver.get(key);
      if (stored === null) return null;
      return { record: decodeMessage(stored.data, key), version: stored.version };
    },
  };
}

function msgidOf(index: number): Msgid {
  return index.toString(16).padStart(8, '0');
}

/** Writes a message record and its envelopes (indices from 1) directly through the driver. */
async function messageWrite(
  driver: StorageDriver,
  msgid: Msgid,
  record: Partial<MessageRecord>,
  envelopes: Array<{ index: number; generation?: string | null }>,
): Promise<void> {
  const generation = record.generation === undefined ? `g-${msgid}` : record.generation;
  const full: MessageRecord = {
    state: 'committed',
    createdAt: 1,
    token: null,
    body: null,
    owner: null,
    ...record,
    generation,
  };
  await driver.create(messageKey(msgid), encodeMessage(full));
  for (const envelope of envelopes) {
    await envelopeWrite(driver, msgid, envelope.index, envelope.generation ?? generation);
  }
}

async function envelopeWrite(
  driver: StorageDriver,
  msgid: Msgid,
  index: number,
  generation: string | null,
): Promise<void> {
  const evpid = msgid + index.toString(16).padStart(8, '0');
  const data = encodeEnvelope({
    data: Buffer.from(`envelope ${evpid}`),
    createToken: null,
    writeToken: null,
    createdAt: 1,
    generation,
  });
  await driver.create(envelopeKey(evpid), data);
}

/** Walks the whole queue with `limit` per page and returns every entry in order. */
async function walkAll(
  source: WalkSource,
  limit: number,
  includeUncommitted = false,
  owner?: string,
): Promise<WalkEntry[]> {
  const entries: WalkEntry[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await walkPage(source, 'all', { cursor, limit }, includeUncommitted, owner);
    entries.push(...page.envelopes);
    if (page.end) return entries;
    cursor = page.next ?? undefined;
  }
}

function evpidsOf(entries: WalkEntry[]): string[] {
  return entries.map((entry) => entry.evpid);
}

describe('walk with scan', () => {
  it('page takes one scan of envelopes and one of messages', async () => {
    const driver = new CountingDriver();
    for (let index = 1; index <= 50; index++) {
      await messageWrite(driver, msgidOf(index), {}, [{ index: 1 }, { index: 2 }]);
    }

    driver.calls.length = 0;
    const page = await walkPage(sourceOver(driver), 'all', { limit: 1000 }, false);

    expect(page.envelopes).toHaveLength(100);
    expect(page.end).toBe(true);
    expect(driver.calls).toEqual(['scan env/', 'scan msg/']);
  });

  it('pages of 1000 take two scans each', async () => {
    const driver = new CountingDriver();
    for (let index = 1; index <= 2500; index++) {
      await messageWrite(driver, msgidOf(index), {}, [{ index: 1 }]);
    }

    driver.calls.length = 0;
    const entries = await walkAll(sourceOver(driver), 1000);

    expect(entries).toHaveLength(2500);
    expect(driver.calls).toEqual(Array(3).fill(['scan env/', 'scan msg/']).flat());
  });

  it('message scans stop at their budget', async () => {
    const driver = new CountingDriver();
    await messageWrite(driver, msgidOf(1), {}, [{ index: 1 }]);
    // Messages without envelopes between the two that the page shows, as right after a create.
    for (let index = 2; index < 0x1000; index++) {
      await messageWrite(driver, msgidOf(index), { state: 'open' }, []);
    }
    await messageWrite(driver, msgidOf(0x1000), {}, [{ index: 1 }]);

    driver.calls.length = 0;
    const entries = await walkAll(sourceOver(driver), 1000);

    expect(evpidsOf(entries)).toEqual(['0000000100000001', '0000100000000001']);
    const scans = driver.calls.filter((call) => call === 'scan msg/');
    expect(scans.length).toBeGreaterThan(1);
    expect(scans.length).toBeLessThanOrEqual(12);
    expect(driver.calls.filter((call) => call.startsWith('get '))).toEqual([
      `get ${messageKey(msgidOf(0x1000))}`,
    ]);
  });

  it('envelope without its message stays out', async () => {
    const driver = new CountingDriver();
    await messageWrite(driver, msgidOf(1), {}, [{ index: 1 }]);
    await envelopeWrite(driver, msgidOf(5), 1, 'g-lost');
    await messageWrite(driver, msgidOf(9), {}, [{ index: 1 }]);

    const entries = await walkAll(sourceOver(driver), 1000);

    expect(evpidsOf(entries)).toEqual(['0000000100000001', '0000000900000001']);
  });

  it('same pages as list and get', async () => {
    const driver = new CountingDriver();
    await messageWrite(driver, msgidOf(1), { owner: 'mx1' }, [{ index: 1 }, { index: 2 }]);
    await messageWrite(driver, msgidOf(2), { owner: 'mx2' }, [
      { index: 1 },
      { index: 2, generation: 'left by an older message' },
      { index: 3 },
    ]);
    await messageWrite(driver, msgidOf(3), { owner: 'mx1', state: 'open' }, [{ index: 1 }]);
    // A record written before generations and owners existed.
    await messageWrite(driver, msgidOf(4), { generation: null }, [{ index: 1 }]);
    await envelopeWrite(driver, msgidOf(6), 1, 'g-lost');
    const scanning = sourceOver(driver);
    const listing = sourceOver(withoutScan(driver));

    const expected: Array<[boolean, string | undefined, string[]]> = [
      [false, undefined, ['1/1', '1/2', '2/1', '2/3', '4/1']],
      [true, undefined, ['1/1', '1/2', '2/1', '2/3', '3/1', '4/1']],
      [false, 'mx1', ['1/1', '1/2']],
      [true, 'mx1', ['1/1', '1/2', '3/1']],
      [false, 'mx2', ['2/1', '2/3']],
    ];
    for (const [includeUncommitted, owner, short] of expected) {
      const evpids = short.map((entry) => {
        const [message, envelope] = entry.split('/').map(Number);
        return msgidOf(message ?? 0) + msgidOf(envelope ?? 0);
      });
      for (const limit of [1, 2, 1000]) {
        const label = `includeUncommitted ${includeUncommitted}, owner ${owner}, limit ${limit}`;
        driver.calls.length = 0;
        const scanned = await walkAll(scanning, limit, includeUncommitted, owner);
        expect(
          driver.calls.some((call) => call.startsWith('list ')),
          label,
        ).toBe(false);

        driver.calls.length = 0;
        const listed = await walkAll(listing, limit, includeUncommitted, owner);
        expect(
          driver.calls.some((call) => call.startsWith('scan ')),
          label,
        ).toBe(false);

        expect(evpidsOf(scanned), label).toEqual(evpids);
        expect(scanned, label).toEqual(listed);
      }
    }
  });
});
