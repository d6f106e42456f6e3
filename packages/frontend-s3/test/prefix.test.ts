import { afterAll, beforeAll, expect, it } from 'vitest';
import { openS3Store, parseS3StoreUrl } from '../src/index.js';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { codeOf, committedMessage, walkAll } from './helpers/queue.js';
import { RawS3 } from './helpers/raw-s3.js';
import { memoryLogger, streamBytes } from './helpers/s3-store.js';

const BUCKET = 'smtpq-prefix';

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

it('prefix with space, plus, percent and é round-trips', async () => {
  // Field case: a store URL whose prefix contains a space, `+`, `%` and a non-ASCII letter.
  const url = `s3://${BUCKET}/mail%20queue+%25%C3%A9t%C3%A9/a?endpoint=${moto.endpoint}`;
  const neighbour = `s3://${BUCKET}/mail%20queue%20%25%C3%A9t%C3%A9/a?endpoint=${moto.endpoint}`;
  const prefix = 'mail queue+%été/a/';
  const store = await openS3Store(url, { logger: memoryLogger() });
  const other = await openS3Store(neighbour, { logger: memoryLogger() });

  try {
    await committedMessage(store, '0000abcd', 2);

    expect(parseS3StoreUrl(url).prefix).toBe(prefix);
    expect((await store.envelopeGet('0000abcd00000002')).data.toString()).toBe('rcpt 2');
    expect((await streamBytes((await store.bodyGet('0000abcd')).stream)).toString()).toContain(
      'Subject: 0000abcd',
    );
    expect(await walkAll(store)).toEqual(['0000abcd00000001', '0000abcd00000002']);
    expect(await walkAll(other)).toEqual([]);
    const keys = (await raw.objects(prefix)).map((object) => object.key);
    expect(keys).toContain(`${prefix}r/msg/0000abcd`);
    expect(keys).toContain(`${prefix}r/env/0000abcd/0000abcd00000001`);

    await store.envelopeDelete('0000abcd00000001');
    await store.envelopeDelete('0000abcd00000002');

    expect(await walkAll(store)).toEqual([]);
    expect(await codeOf(store.messageInfo('0000abcd'))).toBe('message-not-found');
    expect(await raw.objects(prefix)).toEqual([]);
  } finally {
    await store.close();
    await other.close();
  }
});
