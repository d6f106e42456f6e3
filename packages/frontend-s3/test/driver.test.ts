import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Driver } from '../src/s3-driver.js';
import { type FaultProxy, FORWARD, faultProxyStart } from './helpers/fault-proxy.js';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { RawS3 } from './helpers/raw-s3.js';
import {
  driverOpen,
  freshPrefix,
  memoryLogger,
  patternSource,
  streamBytes,
} from './helpers/s3-store.js';

const BUCKET = 'smtpq-driver';
const MiB = 1024 * 1024;

let moto: MotoServer;
let raw: RawS3;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  raw = new RawS3(moto.endpoint, BUCKET);
});

afterAll(async () => {
  raw?.close();
  await moto?.stop();
});

async function* failingSource(bytes: number): AsyncGenerator<Uint8Array> {
  yield* patternSource(bytes);
  throw new Error('upload cut off by the test');
}

async function settled(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: Error) => error.message,
  );
}

describe('s3 driver records', () => {
  const prefix = freshPrefix('records');
  let driver: S3Driver;
  beforeAll(async () => {
    driver = await driverOpen(moto.endpoint, BUCKET, { prefix });
  });
  afterAll(async () => driver?.close());

  it('versions no write made match nothing', async () => {
    await driver.create('t/cas', Buffer.from('a'));

    expect(await driver.replace('t/cas', Buffer.from('x'), 'not-a-version')).toBe('mismatch');
    expect(await driver.replace('t/cas', Buffer.from('x'), '~%%')).toBe('mismatch');
    expect(await driver.replace('t/absent', Buffer.from('x'), '~%%')).toBe('missing');
    expect(await driver.delete('t/cas', 'not-a-version')).toBe('mismatch');
    expect(await driver.delete('t/absent', 'not-a-version')).toBe('missing');
    expect((await driver.get('t/cas'))?.data.toString()).toBe('a');
  });

  it('records and blobs use their own key spaces', async () => {
    await driver.create('body/0000abcd/x', Buffer.from('record'));
    await driver.blobPut('body/0000abcd/x', patternSource(10));

    const keys = (await raw.objects(prefix))
      .map((object) => object.key)
      .filter((key) => key.includes('body/'));

    expect(keys).toEqual([`${prefix}b/body/0000abcd/x`, `${prefix}r/body/0000abcd/x`]);
    expect(await driver.list('body/', { limit: 10 })).toEqual(['body/0000abcd/x']);
    expect(await driver.blobList('body/', { limit: 10 })).toEqual(['body/0000abcd/x']);
    expect((await driver.get('body/0000abcd/x'))?.data.toString()).toBe('record');
  });

  it('record objects carry a random header', async () => {
    await driver.create('t/header', Buffer.from('data'));

    const [object] = await raw.objects(`${prefix}r/t/header`);

    expect(object?.size).toBe('smtpq1 0123456789abcdef\n'.length + 4);
  });
});

describe('s3 driver blobs', () => {
  const prefix = freshPrefix('blobs');
  let driver: S3Driver;
  beforeAll(async () => {
    driver = await driverOpen(moto.endpoint, BUCKET, { prefix, partBytes: 5 * MiB });
  });
  afterAll(async () => driver?.close());

  it('small, empty and multipart blobs round-trip', async () => {
    for (const [key, size] of [
      ['body/small', 1000],
      ['body/empty', 0],
      ['body/multipart', 11 * MiB + 7],
      ['body/one-part', 5 * MiB],
    ] as const) {
      const stored = await driver.blobPut(key, patternSource(size));
      const blob = await driver.blobGet(key);

      expect(stored.size).toBe(size);
      expect(blob?.size).toBe(size);
      const data = await streamBytes(blob?.stream ?? patternSource(0));
      expect(data.equals(await streamBytes(patternSource(size)))).toBe(true);
    }
    expect(await driver.blobList('body/', { limit: 10 })).toEqual([
      'body/empty',
      'body/multipart',
      'body/one-part',
      'body/small',
    ]);
  });

  it('records and blobs are listed apart', async () => {
    await driver.create('body/record', Buffer.from('r'));

    expect(await driver.list('body/', { limit: 10 })).toEqual(['body/record']);
    expect(await driver.blobList('body/', { limit: 10 })).not.toContain('body/record');
  });

  it('failed upload leaves nothing visible', async () => {
    await driver.blobPut('fail/kept', patternSource(100));

    for (const [key, size] of [
      ['fail/kept', 1 * MiB],
      ['fail/single', 1 * MiB],
      ['fail/multipart', 12 * MiB],
    ] as const) {
      expect(await settled(driver.blobPut(key, failingSource(size)))).toBe(
        'upload cut off by the test',
      );
    }

    expect((await driver.blobGet('fail/kept'))?.size).toBe(100);
    expect(await driver.blobGet('fail/single')).toBeNull();
    expect(await driver.blobGet('fail/multipart')).toBeNull();
    expect(await driver.blobList('fail/', { limit: 10 })).toEqual(['fail/kept']);
    expect(await raw.pendingUploads(prefix)).toEqual([]);
  });

  it('blob delete of an absent key succeeds', async () => {
    await driver.blobPut('gone/one', patternSource(10));
    await driver.blobDelete('gone/one');
    await driver.blobDelete('gone/never');

    expect(await driver.blobGet('gone/one')).toBeNull();
  });
});

describe('s3 driver without DeleteObject If-Match', () => {
  let proxy: FaultProxy;
  let driver: S3Driver;
  const logger = memoryLogger();
  const prefix = freshPrefix('tombstones');

  beforeAll(async () => {
    proxy = await faultProxyStart(moto.endpoint);
    proxy.plan((request) =>
      request.method === 'DELETE' ? { action: 'forward', stripHeaders: ['if-match'] } : FORWARD,
    );
    driver = await driverOpen(proxy.endpoint, BUCKET, { prefix, logger });
  });
  afterAll(async () => {
    await driver?.close();
    await proxy?.close();
  });

  it('startup log names the tombstone fallback', () => {
    expect(logger.lines.join('\n')).toContain('does not honour If-Match on DeleteObject');
    expect(logger.lines.join('\n')).toContain('DeleteObject If-Match no');
  });

  it('delete with a version is atomic against a replace', async () => {
    for (let round = 0; round < 10; round++) {
      const key = `t/race-${round}`;
      const v1 = (await driver.create(key, Buffer.from('start'))) as string;
      const [replaced, deleted] = await Promise.all([
        driver.replace(key, Buffer.from('replaced'), v1),
        driver.delete(key, v1),
      ]);
      const replaceWon = replaced !== 'mismatch' && replaced !== 'missing';

      expect(replaceWon).toBe(deleted !== 'deleted');
      expect((await driver.get(key)) !== null).toBe(replaceWon);
    }
  });

  it('tombstone reads as absent and can be created over', async () => {
    const v1 = (await driver.create('t/tomb', Buffer.from('a'))) as string;
    // A crash between the tombstone and its removal leaves an empty object behind.
    await raw.put(`${prefix}r/t/tomb`, Buffer.alloc(0));

    expect(await driver.get('t/tomb')).toBeNull();
    expect(await driver.list('t/tomb', { limit: 10 })).toEqual([]);
    expect(await driver.replace('t/tomb', Buffer.from('b'), v1)).toBe('missing');
    expect(await driver.delete('t/tomb', v1)).toBe('missing');
    expect(await driver.create('t/tomb', Buffer.from('c'))).not.toBeNull();
    expect((await driver.get('t/tomb'))?.data.toString()).toBe('c');
  });

  it('versioned delete leaves no object behind', async () => {
    const v1 = (await driver.create('t/clean', Buffer.from('a'))) as string;

    expect(await driver.delete('t/clean', v1)).toBe('deleted');
    expect(await raw.objects(`${prefix}r/t/clean`)).toEqual([]);
  });
});
