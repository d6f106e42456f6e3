import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FsDriver, openFsDriver } from '../src/index.js';
import { blobText, chunksOf, tempDriver } from './helpers.js';

let driver: FsDriver;
let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ driver, dir, cleanup } = await tempDriver());
});

afterEach(async () => {
  await cleanup();
});

describe('records', () => {
  it('create then get returns the bytes and version', async () => {
    const version = await driver.create('msg/0000abcd', Buffer.from('record one'));

    expect(version).toEqual(expect.any(String));
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('record one');
    expect(record?.version).toBe(version);
  });

  it('get of an absent key returns null', async () => {
    expect(await driver.get('msg/0000abcd')).toBeNull();
    expect(await driver.get('env/0000abcd/0000abcd00000001')).toBeNull();
  });

  it('create of an existing key returns null and keeps the record', async () => {
    const version = await driver.create('msg/0000abcd', Buffer.from('first'));

    expect(await driver.create('msg/0000abcd', Buffer.from('second'))).toBeNull();
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('first');
    expect(record?.version).toBe(version);
  });

  it('create stores empty records', async () => {
    const version = await driver.create('msg/0000abcd', Buffer.alloc(0));

    const record = await driver.get('msg/0000abcd');
    expect(record?.data.length).toBe(0);
    expect(record?.version).toBe(version);
  });

  it('replace with the current version writes a new version', async () => {
    const first = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;

    const second = await driver.replace('msg/0000abcd', Buffer.from('v2'), first);

    expect(second).toEqual(expect.any(String));
    expect(second).not.toBe(first);
    expect(second).not.toBe('mismatch');
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('v2');
    expect(record?.version).toBe(second);
  });

  it('replace with a stale version is a mismatch', async () => {
    const first = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;
    const second = (await driver.replace('msg/0000abcd', Buffer.from('v2'), first)) as string;

    expect(await driver.replace('msg/0000abcd', Buffer.from('v3'), first)).toBe('mismatch');
    expect(await driver.replace('msg/0000abcd', Buffer.from('v3'), 'not-a-version')).toBe(
      'mismatch',
    );
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe('v2');
    expect(record?.version).toBe(second);
  });

  it('replace of an absent key is missing', async () => {
    expect(await driver.replace('msg/0000abcd', Buffer.from('v1'), 'a'.repeat(24))).toBe('missing');
    expect(await driver.get('msg/0000abcd')).toBeNull();
  });

  it('delete honours the expected version', async () => {
    const first = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;
    const second = (await driver.replace('msg/0000abcd', Buffer.from('v2'), first)) as string;

    expect(await driver.delete('msg/0000abcd', first)).toBe('mismatch');
    expect((await driver.get('msg/0000abcd'))?.version).toBe(second);

    expect(await driver.delete('msg/0000abcd', second)).toBe('deleted');
    expect(await driver.get('msg/0000abcd')).toBeNull();
    expect(await driver.delete('msg/0000abcd', second)).toBe('missing');
  });

  it('delete without a version removes any record', async () => {
    await driver.create('msg/0000abcd', Buffer.from('v1'));

    expect(await driver.delete('msg/0000abcd')).toBe('deleted');
    expect(await driver.delete('msg/0000abcd')).toBe('missing');
    expect(await driver.list('msg/', { limit: 10 })).toEqual([]);
  });

  it('delete then create gives a new version', async () => {
    const first = (await driver.create('msg/0000abcd', Buffer.from('v1'))) as string;
    await driver.delete('msg/0000abcd');

    const again = await driver.create('msg/0000abcd', Buffer.from('v1'));

    expect(again).toEqual(expect.any(String));
    expect(again).not.toBe(first);
    expect(await driver.replace('msg/0000abcd', Buffer.from('stale'), first)).toBe('mismatch');
    expect(await driver.delete('msg/0000abcd', first)).toBe('mismatch');
    expect((await driver.get('msg/0000abcd'))?.data.toString()).toBe('v1');
  });

  it('versions change on every write', async () => {
    const seen = new Set<string>();
    let version = (await driver.create('msg/0000abcd', Buffer.from('same'))) as string;
    seen.add(version);
    for (let round = 0; round < 10; round++) {
      version = (await driver.replace('msg/0000abcd', Buffer.from('same'), version)) as string;
      seen.add(version);
    }
    expect(seen.size).toBe(11);
  });

  it('records survive close and reopen', async () => {
    const version = await driver.create('env/0000abcd/0000abcd00000001', Buffer.from('kept'));
    await driver.blobPut('body/0000abcd/upload', chunksOf('body bytes'));
    await driver.close();

    const reopened = await openFsDriver(dir);
    try {
      const record = await reopened.get('env/0000abcd/0000abcd00000001');
      expect(record?.data.toString()).toBe('kept');
      expect(record?.version).toBe(version);
      const blob = await reopened.blobGet('body/0000abcd/upload');
      expect(await blobText(blob)).toBe('body bytes');
    } finally {
      await reopened.close();
    }
  });

  it('rejects keys outside the key alphabet', async () => {
    for (const key of ['', 'Msg/1', '../x', 'a//b', 'a/./b', 'a/../b', '/a', 'a/', 'a b']) {
      await expect(driver.create(key, Buffer.from('x')), key).rejects.toThrow(/invalid store key/);
      await expect(driver.blobGet(key), key).rejects.toThrow(/invalid store key/);
    }
    await expect(driver.list('../', { limit: 1 })).rejects.toThrow(/invalid store key prefix/);
  });

  it('calls after close fail as unavailable', async () => {
    await driver.close();
    await expect(driver.get('msg/0000abcd')).rejects.toMatchObject({
      name: 'StorageFault',
      kind: 'unavailable',
    });
  });
});

describe('concurrent writers in one process', () => {
  it('20 creates of one key: exactly one wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, writer) =>
        driver.create('env/0000abcd/0000abcd00000001', Buffer.from(`writer ${writer}`)),
      ),
    );

    const winners = results.flatMap((version, writer) => (version === null ? [] : [writer]));
    expect(winners).toHaveLength(1);
    const record = await driver.get('env/0000abcd/0000abcd00000001');
    expect(record?.data.toString()).toBe(`writer ${winners[0]}`);
    expect(record?.version).toBe(results[winners[0] as number]);
  });

  it('100 replaces from one version: exactly one wins', async () => {
    const base = (await driver.create('msg/0000abcd', Buffer.from('base'))) as string;

    const results = await Promise.all(
      Array.from({ length: 100 }, (_, writer) =>
        driver.replace('msg/0000abcd', Buffer.from(`writer ${writer}`), base),
      ),
    );

    const winners = results.flatMap((result, writer) => (result === 'mismatch' ? [] : [writer]));
    expect(winners).toHaveLength(1);
    expect(results.filter((result) => result === 'mismatch')).toHaveLength(99);
    const record = await driver.get('msg/0000abcd');
    expect(record?.data.toString()).toBe(`writer ${winners[0]}`);
    expect(record?.version).toBe(results[winners[0] as number]);
  });

  it('replaces and deletes from one version: exactly one wins', async () => {
    const base = (await driver.create('msg/0000abcd', Buffer.from('base'))) as string;

    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, writer) =>
        driver.replace('msg/0000abcd', Buffer.from(`writer ${writer}`), base),
      ),
      driver.delete('msg/0000abcd', base),
      ...Array.from({ length: 30 }, (_, writer) =>
        driver.replace('msg/0000abcd', Buffer.from(`writer ${writer + 30}`), base),
      ),
    ]);

    const wins = results.filter((result) => result !== 'mismatch' && result !== 'missing');
    expect(wins).toHaveLength(1);
    const record = await driver.get('msg/0000abcd');
    if (wins[0] === 'deleted') expect(record).toBeNull();
    else expect(record?.version).toBe(wins[0]);
  });

  it('churn from two drivers stays consistent', async () => {
    // Each loop reads the key, then creates it, replaces it or deletes it from what it read.
    const other = await openFsDriver(dir);
    const key = 'env/0000abcd/0000abcd00000001';
    const churn = async (client: FsDriver) => {
      for (let iteration = 0; iteration < 60; iteration++) {
        const record = await client.get(key);
        if (record === null) await client.create(key, Buffer.from(`created ${iteration}`));
        else if (iteration % 3 === 0) await client.delete(key, record.version);
        else await client.replace(key, Buffer.from(`replaced ${iteration}`), record.version);
      }
    };

    await Promise.all([driver, driver, other, other].map(churn));
    await other.close();

    const record = await driver.get(key);
    expect(await driver.list('env/', { limit: 10 })).toEqual(record === null ? [] : [key]);
    if (record !== null) expect(await driver.delete(key, record.version)).toBe('deleted');
    // The first-level folder stays (it is never pruned), empty.
    expect(await readdir(join(dir, 'records'))).toEqual(['env']);
    expect(await readdir(join(dir, 'records/env'))).toEqual([]);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('reads during replaces see whole records', async () => {
    let version = (await driver.create('msg/0000abcd', Buffer.alloc(4096, 0))) as string;

    const writes = (async () => {
      for (let round = 1; round <= 30; round++) {
        version = (await driver.replace(
          'msg/0000abcd',
          Buffer.alloc(4096, round),
          version,
        )) as string;
      }
    })();
    const reads = (async () => {
      for (let read = 0; read < 200; read++) {
        const record = await driver.get('msg/0000abcd');
        expect(record).not.toBeNull();
        const bytes = record?.data ?? Buffer.alloc(0);
        expect(bytes.length).toBe(4096);
        expect(bytes.every((byte) => byte === bytes[0])).toBe(true);
      }
    })();
    await Promise.all([writes, reads]);

    expect((await driver.get('msg/0000abcd'))?.data[0]).toBe(30);
  });
});

describe('list', () => {
  it('returns keys in byte order, after a cursor, up to a limit', async () => {
    // '-' and '.' sort before '/', so `a-b` lies between `a` and the keys below `a/`.
    const keys = ['a', 'a/b', 'a/c/d', 'a-b', 'a.c', 'a0', 'a_z', 'b', 'b/a', 'z9'];
    for (const key of [...keys].reverse()) await driver.create(key, Buffer.from(key));

    expect(await driver.list('', { limit: 100 })).toEqual([...keys].sort());
    expect([...keys].sort()).toEqual([
      'a',
      'a-b',
      'a.c',
      'a/b',
      'a/c/d',
      'a0',
      'a_z',
      'b',
      'b/a',
      'z9',
    ]);
    expect(await driver.list('', { limit: 3 })).toEqual(['a', 'a-b', 'a.c']);
    expect(await driver.list('', { after: 'a.c', limit: 3 })).toEqual(['a/b', 'a/c/d', 'a0']);
    expect(await driver.list('', { after: 'a/b', limit: 100 })).toEqual([
      'a/c/d',
      'a0',
      'a_z',
      'b',
      'b/a',
      'z9',
    ]);
    expect(await driver.list('', { after: 'a/bz', limit: 1 })).toEqual(['a/c/d']);
    expect(await driver.list('a', { limit: 100 })).toEqual([
      'a',
      'a-b',
      'a.c',
      'a/b',
      'a/c/d',
      'a0',
      'a_z',
    ]);
    expect(await driver.list('a/', { limit: 100 })).toEqual(['a/b', 'a/c/d']);
    expect(await driver.list('b', { after: 'b', limit: 100 })).toEqual(['b/a']);
    expect(await driver.list('z9', { after: 'z9', limit: 100 })).toEqual([]);
    expect(await driver.list('q/', { limit: 100 })).toEqual([]);
    expect(await driver.list('', { limit: 0 })).toEqual([]);
  });

  it('pages through a folder of queue keys', async () => {
    const created: string[] = [];
    for (let msg = 1; msg <= 3; msg++) {
      const msgid = msg.toString(16).padStart(8, '0');
      await driver.create(`msg/${msgid}`, Buffer.from('m'));
      for (let env = 1; env <= 4; env++) {
        const key = `env/${msgid}/${msgid}${env.toString(16).padStart(8, '0')}`;
        await driver.create(key, Buffer.from('e'));
        created.push(key);
      }
    }
    await driver.create('expired/00000002', Buffer.from('x'));

    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await driver.list('env/', { after, limit: 5 });
      paged.push(...page);
      if (page.length < 5) break;
      after = page[page.length - 1];
    }

    expect(paged).toEqual(created);
    expect(await driver.list('env/00000002/', { limit: 100 })).toEqual(created.slice(4, 8));
    expect(await driver.list('msg/0000000', { limit: 2 })).toEqual([
      'msg/00000001',
      'msg/00000002',
    ]);
    expect(await driver.list('expired/', { limit: 10 })).toEqual(['expired/00000002']);
  });

  it('leaves out deleted keys and blobs', async () => {
    await driver.create('msg/00000001', Buffer.from('1'));
    await driver.create('msg/00000002', Buffer.from('2'));
    await driver.create('msg/00000003', Buffer.from('3'));
    await driver.blobPut('msg/00000004', chunksOf('a blob, not a record'));

    await driver.delete('msg/00000002');

    expect(await driver.list('msg/', { limit: 10 })).toEqual(['msg/00000001', 'msg/00000003']);
    expect(await driver.blobList('msg/', { limit: 10 })).toEqual(['msg/00000004']);
  });
});

describe('blobs', () => {
  it('put, get, list and delete', async () => {
    const put = await driver.blobPut('body/0000abcd/000000000001-aa', chunksOf('hello ', 'world'));

    expect(put.size).toBe(11);
    const blob = await driver.blobGet('body/0000abcd/000000000001-aa');
    expect(blob?.size).toBe(11);
    expect(await blobText(blob)).toBe('hello world');
    expect(await driver.blobList('body/', { limit: 10 })).toEqual([
      'body/0000abcd/000000000001-aa',
    ]);
    expect(await driver.list('body/', { limit: 10 })).toEqual([]);

    await driver.blobDelete('body/0000abcd/000000000001-aa');
    expect(await driver.blobGet('body/0000abcd/000000000001-aa')).toBeNull();
    expect(await driver.blobList('body/', { limit: 10 })).toEqual([]);
  });

  it('put replaces the blob, and readers of the old one finish it', async () => {
    await driver.blobPut('body/0000abcd/b', chunksOf('old bytes'));
    const old = await driver.blobGet('body/0000abcd/b');

    await driver.blobPut('body/0000abcd/b', chunksOf('new'));

    expect(await blobText(old)).toBe('old bytes');
    const current = await driver.blobGet('body/0000abcd/b');
    expect(current?.size).toBe(3);
    expect(await blobText(current)).toBe('new');
  });

  it('get and delete of an absent blob', async () => {
    expect(await driver.blobGet('body/0000abcd/none')).toBeNull();
    await expect(driver.blobDelete('body/0000abcd/none')).resolves.toBeUndefined();
  });

  it('lists blobs in byte order after a cursor', async () => {
    const keys = ['b/1', 'b/1-x', 'b/1/2', 'b/2', 'c'];
    for (const key of keys) await driver.blobPut(key, chunksOf(key));

    expect(await driver.blobList('', { limit: 10 })).toEqual(keys);
    expect(await driver.blobList('b/', { after: 'b/1-x', limit: 10 })).toEqual(['b/1/2', 'b/2']);
    expect(await driver.blobList('b/1', { limit: 2 })).toEqual(['b/1', 'b/1-x']);
  });

  it('an empty blob round-trips', async () => {
    expect((await driver.blobPut('body/0000abcd/empty', chunksOf())).size).toBe(0);
    const blob = await driver.blobGet('body/0000abcd/empty');
    expect(blob?.size).toBe(0);
    expect(await blobText(blob)).toBe('');
  });
});

describe('health', () => {
  it('passes on a writable folder', async () => {
    await expect(driver.health()).resolves.toBeUndefined();
  });
});
