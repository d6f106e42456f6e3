import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { QueueStore } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoQueueStore, type MongoDriver, openMongoDriver } from '../src/index.js';
import { generatedStream } from './support/bytes.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

const MIB = 1024 * 1024;
// The largest BSON document MongoDB stores: 16 MiB.
const DOCUMENT_LIMIT = 16 * MIB;

let server: TestMongo;
let driver: MongoDriver;
let store: QueueStore;

beforeAll(async () => {
  server = await testMongoStart();
  driver = await openMongoDriver(server.newDatabaseUrl('limits'));
  store = createMongoQueueStore(driver);
}, 900_000);

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

async function sha256Of(stream: AsyncIterable<Uint8Array> | Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of stream) hash.update(part as Uint8Array);
  return hash.digest('hex');
}

function byteAt(seed: number) {
  return (offset: number) => (offset * 131 + seed + (offset >>> 13)) & 0xff;
}

// Field case: bodies at and past the document limit must round-trip through GridFS.
describe('bodies around the document limit', () => {
  const sizes = [
    ['exactly 16 MiB', DOCUMENT_LIMIT],
    ['16 MiB + 1', DOCUMENT_LIMIT + 1],
    ['40 MiB', 40 * MIB],
  ] as const;

  for (const [index, [name, size]] of sizes.entries()) {
    it(`body of ${name} round-trips`, async () => {
      const msgid = `000017${(index + 1).toString(16).padStart(2, '0')}`;
      const expected = await sha256Of(generatedStream(size, byteAt(index)));
      await store.messageCreate({ msgid });
      await store.envelopeCreate(msgid, Buffer.from('rcpt'), { evpid: `${msgid}00000001` });

      const stored = await store.bodyPut(msgid, {
        source: generatedStream(size, byteAt(index)),
        sha256: Buffer.from(expected, 'hex'),
        length: size,
      });
      await store.messageCommit(msgid);

      expect(stored).toEqual({ size, sha256: expected });
      const body = await store.bodyGet(msgid);
      expect(body.size).toBe(size);
      expect(await sha256Of(body.stream)).toBe(expected);
    });
  }
});

describe('many large envelopes', () => {
  // Field case: 300 envelopes of 60 KiB in one message, 18 MB in all.
  it('300 envelopes of 60 KiB round-trip', async () => {
    const msgid = '00001710';
    const envelopes = Array.from({ length: 300 }, (_, index) => ({
      evpid: `${msgid}${(index + 1).toString(16).padStart(8, '0')}`,
      data: Buffer.alloc(60 * 1024, `envelope ${index};`),
    }));
    await store.messageCreate({ msgid });
    for (const envelope of envelopes) {
      await store.envelopeCreate(msgid, envelope.data, { evpid: envelope.evpid });
    }
    await store.bodyPut(msgid, { source: generatedStream(1000) });
    await store.messageCommit(msgid);

    const walked = new Map<string, Buffer>();
    let cursor: string | undefined;
    for (;;) {
      const page = await store.messageWalk(msgid, { cursor });
      for (const entry of page.envelopes)
        walked.set(entry.evpid, Buffer.from(entry.data, 'base64'));
      if (page.end) break;
      cursor = page.next ?? undefined;
    }

    expect([...walked.keys()]).toEqual(envelopes.map((envelope) => envelope.evpid));
    for (const envelope of envelopes) {
      expect(walked.get(envelope.evpid)?.equals(envelope.data), envelope.evpid).toBe(true);
      expect((await store.envelopeGet(envelope.evpid)).data.equals(envelope.data)).toBe(true);
    }
  });
});
