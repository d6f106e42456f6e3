import { closeSync, readSync } from 'node:fs';
import { QueueError } from '@smtpq/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_CACHE_MAX_ENTRIES, BodyCache } from '../src/body-cache.js';
import { type Frontend, startFrontend } from './frontend.js';

let front: Frontend;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  front = await startFrontend();
});

afterAll(async () => {
  await front.close();
});

function msgidOf(index: number): string {
  return (0xb0000000 + index).toString(16);
}

async function seedMessage(msgid: string, body: Buffer): Promise<void> {
  await front.client.messageBundle(
    msgid,
    [{ evpid: `${msgid}00000001`, data: Buffer.from('x') }],
    body,
  );
}

function readAll(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
}

describe('BodyCache', () => {
  it('downloads once for two recipients', async () => {
    const body = Buffer.from('Subject: cached\r\n\r\nhello\r\n');
    await seedMessage(msgidOf(1), body);
    const cache = new BodyCache(front.client, logger, 1000);

    const first = await cache.open(msgidOf(1));
    const second = await cache.open(msgidOf(1));

    expect(first.fetched).toBe(true);
    expect(second.fetched).toBe(false);
    expect(first.fd).not.toBe(second.fd);
    expect(readAll(first.fd)).toEqual(body);
    expect(readAll(second.fd)).toEqual(body);
    expect(cache.size).toBe(1);
    closeSync(first.fd);
    closeSync(second.fd);
    cache.dropAll();
  });

  it('downloads again when reuse is not allowed', async () => {
    await seedMessage(msgidOf(30), Buffer.from('three'));
    let leaseSurelyLive = true;
    const cache = new BodyCache(front.client, logger, 1000, () => leaseSurelyLive);

    const first = await cache.open(msgidOf(30));
    leaseSurelyLive = false;
    const second = await cache.open(msgidOf(30));

    expect(first.fetched).toBe(true);
    expect(second.fetched).toBe(true);
    expect(readAll(second.fd).toString()).toBe('three');
    closeSync(first.fd);
    closeSync(second.fd);
    cache.dropAll();
  });

  it('drops a body when its deliveries are done', async () => {
    await seedMessage(msgidOf(2), Buffer.from('two'));
    const cache = new BodyCache(front.client, logger, 1000);
    const fds = [(await cache.open(msgidOf(2))).fd, (await cache.open(msgidOf(2))).fd];

    cache.envelopeFinished(msgidOf(2));
    expect(cache.size).toBe(1);
    cache.envelopeFinished(msgidOf(2));
    expect(cache.size).toBe(0);

    // smtpd's fds stay readable after the cache let go of the body.
    expect(readAll(fds[0]!).toString()).toBe('two');
    for (const fd of fds) closeSync(fd);
  });

  it('missing body throws and caches nothing', async () => {
    const cache = new BodyCache(front.client, logger, 1000);

    const error = await cache.open(msgidOf(3)).catch((thrown: unknown) => thrown);

    expect(error).toBeInstanceOf(QueueError);
    expect((error as QueueError).status).toBe(404);
    expect(cache.size).toBe(0);
  });

  it('evicts the oldest body past the entry limit', async () => {
    const cache = new BodyCache(front.client, logger, 1000);
    const count = BODY_CACHE_MAX_ENTRIES + 1;
    for (let i = 0; i < count; i++) {
      await seedMessage(msgidOf(100 + i), Buffer.from(`body ${i}`));
      closeSync((await cache.open(msgidOf(100 + i))).fd);
    }

    expect(cache.size).toBe(BODY_CACHE_MAX_ENTRIES);
    const oldest = await cache.open(msgidOf(100));
    const newest = await cache.open(msgidOf(100 + count - 1));
    expect(oldest.fetched).toBe(true);
    expect(newest.fetched).toBe(false);
    closeSync(oldest.fd);
    closeSync(newest.fd);
    cache.dropAll();
  });
});
