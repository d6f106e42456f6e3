import { randomBytes } from 'node:crypto';
import { StorageFault } from '@smtpq/store';
import type { CommandStartedEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MongoDriver, openMongoDriver } from '../src/index.js';
import { readAll, streamOf } from './support/bytes.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

let server: TestMongo;
let driver: MongoDriver;
const commands: CommandStartedEvent[] = [];

beforeAll(async () => {
  server = await testMongoStart();
  driver = await openMongoDriver(server.newDatabaseUrl('driver'), {
    clientOptions: { monitorCommands: true },
  });
  driver.client.on('commandStarted', (event) => commands.push(event));
}, 900_000);

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

describe('mongodb driver records', () => {
  it('create returns null when the key exists', async () => {
    const version = await driver.create('msg/00000001', Buffer.from('one'));

    expect(version).toEqual(expect.any(String));
    expect(await driver.create('msg/00000001', Buffer.from('two'))).toBeNull();
    expect((await driver.get('msg/00000001'))?.data.toString()).toBe('one');
  });

  it('get returns null for an absent key', async () => {
    expect(await driver.get('msg/0000ffff')).toBeNull();
  });

  it('replace swaps only on the current version', async () => {
    const first = (await driver.create('msg/00000002', Buffer.from('a'))) as string;

    const second = await driver.replace('msg/00000002', Buffer.from('b'), first);
    expect(second).not.toBe(first);
    expect(second).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await driver.replace('msg/00000002', Buffer.from('c'), first)).toBe('mismatch');
    expect(await driver.replace('msg/0000fffe', Buffer.from('c'), first)).toBe('missing');

    const stored = await driver.get('msg/00000002');
    expect(stored?.data.toString()).toBe('b');
    expect(stored?.version).toBe(second);
  });

  it('delete honours the expected version', async () => {
    const version = (await driver.create('msg/00000003', Buffer.from('x'))) as string;

    expect(await driver.delete('msg/00000003', 'not-the-version')).toBe('mismatch');
    expect(await driver.delete('msg/00000003', version)).toBe('deleted');
    expect(await driver.delete('msg/00000003', version)).toBe('missing');
    expect(await driver.delete('msg/00000003')).toBe('missing');
  });

  it('record bytes round-trip unchanged', async () => {
    const data = Buffer.from(Array.from({ length: 256 }, (_, value) => value));
    await driver.create('env/00000004/0000000400000001', data);

    expect((await driver.get('env/00000004/0000000400000001'))?.data.equals(data)).toBe(true);
  });

  it('list returns keys of the prefix in byte order', async () => {
    const keys = ['lst/b', 'lst/a', 'lst/a/1', 'lst/A', 'lst/0', 'lst.', 'lst0', 'lsu/a', 'ls/z'];
    for (const key of keys) await driver.create(key, Buffer.from(key));

    expect(await driver.list('lst/', { limit: 100 })).toEqual([
      'lst/0',
      'lst/A',
      'lst/a',
      'lst/a/1',
      'lst/b',
    ]);
    expect(await driver.list('lst/', { after: 'lst/A', limit: 2 })).toEqual(['lst/a', 'lst/a/1']);
    expect(await driver.list('lst/', { after: 'lst/b', limit: 10 })).toEqual([]);
    expect(await driver.list('lst/', { after: 'ls', limit: 1 })).toEqual(['lst/0']);
    expect(await driver.list('lst/', { limit: 0 })).toEqual([]);
  });

  it('writes carry a journaled write concern', async () => {
    commands.length = 0;
    await driver.create('msg/00000005', Buffer.from('durable'));

    const insert = commands.find((event) => event.commandName === 'insert');
    const expected =
      driver.deployment === 'standalone' ? { w: 1, j: true } : { w: 'majority', j: true };
    expect(insert?.command.writeConcern).toEqual(expected);
  });

  it('conditional writes are locked on FerretDB 1.x only', async () => {
    const buildInfo = await driver.client.db('admin').command({ buildInfo: 1 });
    const ferretdb1 = /^v1\./.test(String(buildInfo.ferretdbVersion));

    expect(driver.conditionalWrites).toBe(ferretdb1 ? 'locked' : 'native');
  });

  it('health succeeds while the server runs', async () => {
    await expect(driver.health()).resolves.toBeUndefined();
  });
});

describe('mongodb driver blobs', () => {
  it('blob round-trips byte for byte', async () => {
    const data = randomBytes(1024 * 1024 + 7);

    expect(await driver.blobPut('body/00000010/a', streamOf(data, 10_000))).toEqual({
      size: data.length,
    });
    const blob = await driver.blobGet('body/00000010/a');
    expect(blob?.size).toBe(data.length);
    expect((await readAll(blob?.stream)).equals(data)).toBe(true);
  });

  it('empty blob round-trips', async () => {
    await driver.blobPut('body/00000011/a', streamOf(Buffer.alloc(0), 1));

    const blob = await driver.blobGet('body/00000011/a');
    expect(blob?.size).toBe(0);
    expect((await readAll(blob?.stream)).length).toBe(0);
  });

  it('blobPut replaces the blob and removes the old file', async () => {
    const fileCount = () =>
      driver.collections.files.countDocuments({ filename: 'body/00000012/a' });
    await driver.blobPut('body/00000012/a', streamOf(Buffer.from('first'), 2));
    await driver.blobPut('body/00000012/a', streamOf(Buffer.from('second version'), 3));

    const blob = await driver.blobGet('body/00000012/a');
    expect((await readAll(blob?.stream)).toString()).toBe('second version');
    expect(await fileCount()).toBe(1);
  });

  it('blobDelete removes the pointer, the file and its chunks', async () => {
    await driver.blobPut('body/00000013/a', streamOf(randomBytes(600_000), 65_536));
    const pointer = await driver.collections.blobs.findOne({ _id: 'body/00000013/a' });

    await driver.blobDelete('body/00000013/a');
    await driver.blobDelete('body/00000013/a');

    expect(await driver.blobGet('body/00000013/a')).toBeNull();
    expect(await driver.collections.files.countDocuments({ _id: pointer?.fileId })).toBe(0);
    expect(await driver.collections.chunks.countDocuments({ files_id: pointer?.fileId })).toBe(0);
  });

  it('blobGet returns null for an absent key', async () => {
    expect(await driver.blobGet('body/0000ffff/a')).toBeNull();
  });

  it('blobList lists blob keys only', async () => {
    await driver.blobPut('body/00000014/b', streamOf(Buffer.from('b'), 1));
    await driver.blobPut('body/00000014/a', streamOf(Buffer.from('a'), 1));
    await driver.create('body/00000014/record', Buffer.from('not a blob'));

    expect(await driver.blobList('body/00000014/', { limit: 10 })).toEqual([
      'body/00000014/a',
      'body/00000014/b',
    ]);
    expect(
      await driver.blobList('body/00000014/', { after: 'body/00000014/a', limit: 10 }),
    ).toEqual(['body/00000014/b']);
    expect(await driver.list('body/00000014/', { limit: 10 })).toEqual(['body/00000014/record']);
  });
});

describe('mongodb driver locked conditional writes', () => {
  let locked: MongoDriver;

  beforeAll(async () => {
    locked = await openMongoDriver(server.newDatabaseUrl('locked'), {
      conditionalWrites: 'locked',
      retryBudgetMs: 500,
    });
  });

  afterAll(async () => {
    await locked?.close();
  });

  it('writes release their lock', async () => {
    const version = (await locked.create('msg/00000020', Buffer.from('a'))) as string;
    await locked.replace('msg/00000020', Buffer.from('b'), version);
    await locked.blobPut('body/00000020/a', streamOf(Buffer.from('body'), 2));
    await locked.blobPut('body/00000020/a', streamOf(Buffer.from('body 2'), 2));
    await locked.blobDelete('body/00000020/a');
    await locked.delete('msg/00000020');

    expect(await locked.collections.locks.countDocuments({})).toBe(0);
  });

  it('expired lock of a dead holder is broken', async () => {
    const version = (await locked.create('msg/00000021', Buffer.from('a'))) as string;
    await locked.collections.locks.insertOne({
      _id: 'records/msg/00000021',
      owner: 'a process that died',
      expiresAt: new Date(Date.now() - 1_000),
    });

    expect(await locked.replace('msg/00000021', Buffer.from('b'), version)).not.toBe('mismatch');
    expect((await locked.get('msg/00000021'))?.data.toString()).toBe('b');
  });

  it('lock held past the retry budget is a timeout fault', async () => {
    const version = (await locked.create('msg/00000022', Buffer.from('a'))) as string;
    await locked.collections.locks.insertOne({
      _id: 'records/msg/00000022',
      owner: 'a slow process',
      expiresAt: new Date(Date.now() + 60_000),
    });

    const error = await locked
      .replace('msg/00000022', Buffer.from('b'), version)
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StorageFault);
    expect((error as StorageFault).kind).toBe('timeout');
    expect((await locked.get('msg/00000022'))?.data.toString()).toBe('a');
  });
});

describe('mongodb driver startup', () => {
  it('URL without a database is rejected', async () => {
    await expect(openMongoDriver('mongodb://127.0.0.1:1')).rejects.toThrow(
      /names no database: add it as the path/,
    );
  });

  it('unreachable server is a StorageFault naming the address', async () => {
    const error = await openMongoDriver('mongodb://user:secret@127.0.0.1:1/smtpq', {
      clientOptions: { serverSelectionTimeoutMS: 500 },
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StorageFault);
    expect((error as StorageFault).kind).toBe('unavailable');
    expect((error as Error).message).toMatch(/cannot reach MongoDB at mongodb:\/\/user:\*\*\*@127/);
    expect((error as Error).message).not.toContain('secret');
  });
});
