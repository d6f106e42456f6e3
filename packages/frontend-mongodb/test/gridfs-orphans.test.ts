import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { QueueError } from '@smtpq/protocol';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoQueueStore, type MongoDriver, openMongoDriver } from '../src/index.js';
import { failingStream, generatedStream, readAll } from './support/bytes.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

const MIB = 1024 * 1024;

let server: TestMongo;
let url: string;
let driver: MongoDriver;

beforeAll(async () => {
  server = await testMongoStart();
  url = server.newDatabaseUrl('orphans');
  driver = await openMongoDriver(url);
}, 900_000);

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

/** Returns the files_id of every chunk whose files document is missing. */
async function chunksWithoutFile(): Promise<string[]> {
  const chunkFileIds: ObjectId[] = await driver.collections.chunks.distinct('files_id');
  const missing: string[] = [];
  for (const fileId of chunkFileIds) {
    if ((await driver.collections.files.countDocuments({ _id: fileId })) === 0) {
      missing.push(fileId.toHexString());
    }
  }
  return missing;
}

async function gridFsState(filenamePrefix: string) {
  const files = await driver.collections.files
    .find({ filename: { $regex: `^${filenamePrefix}` } })
    .toArray();
  return {
    pointers: await driver.blobList(filenamePrefix, { limit: 100 }),
    files: files.length,
    chunksWithoutFile: await chunksWithoutFile(),
  };
}

/** Waits past the second of the last ObjectId made, since orphan age counts in seconds. */
async function ageOneSecond(): Promise<void> {
  await sleep(1_100);
}

function bodyUpload(source: AsyncIterable<Uint8Array>, length?: number) {
  return { source, length };
}

describe('failed body uploads', () => {
  // Field case: a client declares 10 MiB, sends 3 MiB and stalls until the idle timeout.
  it('upload that stops at 3 of 10 MiB leaves nothing', async () => {
    const store = createMongoQueueStore(driver);
    await store.messageCreate({ msgid: '00001601' });

    const stalled = new QueueError('request-timeout', 'request body stalled past the idle timeout');
    const error = await store
      .bodyPut('00001601', bodyUpload(failingStream(3 * MIB, stalled), 10 * MIB))
      .catch((caught: unknown) => caught);

    expect((error as QueueError).code).toBe('request-timeout');
    expect(await gridFsState('body/00001601/')).toEqual({
      pointers: [],
      files: 0,
      chunksWithoutFile: [],
    });
    expect((await store.messageInfo('00001601')).bodySize).toBeNull();
  });

  it('upload that ends early at 3 of 10 MiB leaves nothing', async () => {
    const store = createMongoQueueStore(driver);
    await store.messageCreate({ msgid: '00001602' });

    const error = await store
      .bodyPut('00001602', bodyUpload(generatedStream(3 * MIB), 10 * MIB))
      .catch((caught: unknown) => caught);

    expect((error as QueueError).code).toBe('incomplete-body');
    expect(await gridFsState('body/00001602/')).toEqual({
      pointers: [],
      files: 0,
      chunksWithoutFile: [],
    });
  });

  // Field case: a client resets its connection after 3 MiB.
  it('upload reset after 3 MiB leaves nothing', async () => {
    const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });

    await expect(driver.blobPut('body/00001603/a', failingStream(3 * MIB, reset))).rejects.toBe(
      reset,
    );

    expect(await gridFsState('body/00001603/')).toEqual({
      pointers: [],
      files: 0,
      chunksWithoutFile: [],
    });
  });
});

describe('orphan collection', () => {
  // Field case: kill -9 between removing a body's file document and its chunks.
  it('removes chunks whose file document is gone', async () => {
    await driver.blobPut('body/00001604/a', generatedStream(2 * MIB));
    const pointer = await driver.collections.blobs.findOne({ _id: 'body/00001604/a' });
    const fileId = pointer?.fileId as ObjectId;

    // The first steps of a blob delete, then the crash: the chunks stay behind.
    await driver.collections.blobs.deleteOne({ _id: 'body/00001604/a' });
    await driver.collections.files.deleteOne({ _id: fileId });
    expect(await chunksWithoutFile()).toEqual([fileId.toHexString()]);

    await ageOneSecond();
    const report = await driver.collectOrphans(0);

    expect(report.chunkSets).toBe(1);
    expect(await chunksWithoutFile()).toEqual([]);
    expect(await driver.collections.chunks.countDocuments({ files_id: fileId })).toBe(0);
  });

  it('removes the chunks of an upload whose process was killed', async () => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./support/upload-and-stall.mjs', import.meta.url)),
        url,
        'body/00001605/a',
        String(3 * MIB),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        if (data.toString().includes('stalled')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`upload child exited early (${code})`)));
    });

    // Wait until the chunks of the first 3 MiB are stored, then kill the uploader.
    const fullChunks = Math.floor((3 * MIB) / (255 * 1024));
    const orphanedChunks = async () => {
      const [fileId] = await chunksWithoutFile();
      if (fileId === undefined) return 0;
      return driver.collections.chunks.countDocuments({
        files_id: ObjectId.createFromHexString(fileId),
      });
    };
    while ((await orphanedChunks()) < fullChunks) await sleep(50);
    child.kill('SIGKILL');
    await exited;

    expect(await chunksWithoutFile()).toHaveLength(1);
    expect(await driver.blobGet('body/00001605/a')).toBeNull();

    await ageOneSecond();
    await driver.collectOrphans(0);

    expect(await chunksWithoutFile()).toEqual([]);
    expect(await gridFsState('body/00001605/')).toEqual({
      pointers: [],
      files: 0,
      chunksWithoutFile: [],
    });
  });

  it('removes files that no blob key points to', async () => {
    await driver.blobPut('body/00001606/a', generatedStream(MIB));
    const pointer = await driver.collections.blobs.findOne({ _id: 'body/00001606/a' });

    // A crash after the upload and before the pointer write leaves such a file.
    await driver.collections.blobs.deleteOne({ _id: 'body/00001606/a' });
    await ageOneSecond();
    const report = await driver.collectOrphans(0);

    expect(report.files).toBe(1);
    expect(await driver.collections.files.countDocuments({ _id: pointer?.fileId })).toBe(0);
    expect(await driver.collections.chunks.countDocuments({ files_id: pointer?.fileId })).toBe(0);
  });

  it('never touches the body of a committed message, however old', async () => {
    const store = createMongoQueueStore(driver, { uncommittedMaxAgeMs: 1_000 });
    const body = Buffer.alloc(3 * MIB + 5, 0x42);
    await store.messageCreate({ msgid: '00001607' });
    await store.envelopeCreate('00001607', Buffer.from('rcpt'), { evpid: '0000160700000001' });
    await store.bodyPut('00001607', {
      source: generatedStream(body.length, () => 0x42),
      sha256: createHash('sha256').update(body).digest(),
      length: body.length,
    });
    await store.messageCommit('00001607');
    const chunksBefore = await driver.collections.chunks.countDocuments({});

    // Older than the uncommitted age, and than any age given to collectOrphans.
    await sleep(2_100);
    await store.collectGarbage();
    await driver.collectOrphans(0);

    expect(await driver.collections.chunks.countDocuments({})).toBe(chunksBefore);
    const stored = await store.bodyGet('00001607');
    expect((await readAll(stored.stream)).equals(body)).toBe(true);
    expect(await chunksWithoutFile()).toEqual([]);
  });

  it('leaves uploads younger than the age alone', async () => {
    await driver.blobPut('body/00001608/a', generatedStream(MIB));
    const pointer = await driver.collections.blobs.findOne({ _id: 'body/00001608/a' });
    await driver.collections.blobs.deleteOne({ _id: 'body/00001608/a' });

    const report = await driver.collectOrphans(60 * 60 * 1000);

    expect(report).toEqual({ files: 0, chunkSets: 0 });
    expect(await driver.collections.files.countDocuments({ _id: pointer?.fileId })).toBe(1);
  });
});
