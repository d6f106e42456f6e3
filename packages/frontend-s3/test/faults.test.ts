import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import { createQueueStore, type QueueStore, StorageFault } from '@smtpq/store';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { S3DriverConfig } from '../src/index.js';
import type { S3Driver } from '../src/s3-driver.js';
import {
  type FaultProxy,
  FORWARD,
  faultProxyStart,
  type ProxyRequest,
  SLOW_DOWN_BODY,
  seededRandom,
} from './helpers/fault-proxy.js';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { codeOf, committedMessage, upload, walkAll } from './helpers/queue.js';
import { RawS3 } from './helpers/raw-s3.js';
import { driverOpen, freshPrefix, patternSource, streamBytes } from './helpers/s3-store.js';

const BUCKET = 'smtpq-faults';
const MiB = 1024 * 1024;

// Short timeouts so that each fault case takes seconds; the faults themselves are unchanged.
const FAST_TIMEOUTS = {
  requestTimeoutMs: 1000,
  idleTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  operationTimeoutMs: 10_000,
  partBytes: 5 * MiB,
};

let moto: MotoServer;
let proxy: FaultProxy;
let raw: RawS3;
const opened: S3Driver[] = [];

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  proxy = await faultProxyStart(moto.endpoint);
  raw = new RawS3(moto.endpoint, BUCKET);
});

afterEach(async () => {
  proxy.plan(() => FORWARD);
  for (const driver of opened.splice(0)) await driver.close();
});

afterAll(async () => {
  raw?.close();
  await proxy?.close();
  await moto?.stop();
});

/** Opens a queue store on a fresh prefix through the proxy, while the proxy forwards all. */
async function queueOpen(
  prefix = freshPrefix(),
  config: Partial<S3DriverConfig> = {},
): Promise<QueueStore & { driver: S3Driver }> {
  proxy.plan(() => FORWARD);
  const driver = await driverOpen(proxy.endpoint, BUCKET, { prefix, ...FAST_TIMEOUTS, ...config });
  opened.push(driver);
  return Object.assign(createQueueStore(driver), { driver });
}

function isObjectRead(request: ProxyRequest): boolean {
  return request.method === 'GET' && !request.url.includes('list-type=2');
}

function isListing(request: ProxyRequest): boolean {
  return request.method === 'GET' && request.url.includes('list-type=2');
}

function isLargePut(request: ProxyRequest): boolean {
  return request.method === 'PUT' && Number(request.headers['content-length'] ?? 0) > MiB;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Returns `no error` or the storage-fault code of a call; any other outcome throws. */
async function faultCodeOf(promise: Promise<unknown>): Promise<string> {
  const code = await codeOf(promise);
  if (!['no error', 'storage-unavailable', 'storage-timeout'].includes(code)) {
    throw new Error(`expected success or a storage fault, got ${code}`);
  }
  return code;
}

describe('s3 faults', () => {
  it('503 SlowDown on 30% of requests', async () => {
    // Field case: S3 responds 503 SlowDown to 30 % of requests while mail flows.
    const store = await queueOpen();
    const random = seededRandom(15);
    proxy.plan(() =>
      random() < 0.3 ? { action: 'respond', status: 503, body: SLOW_DOWN_BODY } : FORWARD,
    );

    const msgids = Array.from({ length: 40 }, (_, i) => (0x1000 + i).toString(16).padStart(8, '0'));
    const outcomes = new Map<string, string>();
    for (let i = 0; i < msgids.length; i += 8) {
      await Promise.all(
        msgids.slice(i, i + 8).map(async (msgid) => {
          const envelopes = [1, 2].map((n) => ({
            evpid: `${msgid}0000000${n}`,
            data: Buffer.from(`rcpt ${n} of ${msgid}`),
          }));
          const body = upload(Buffer.from(`Subject: ${msgid}\r\n\r\nbody\r\n`));
          outcomes.set(msgid, await faultCodeOf(store.messageBundle(msgid, envelopes, body)));
        }),
      );
    }
    proxy.plan(() => FORWARD);
    const retries = store.driver.counters().find((c) => c.name === 'smtpq_s3_retries_total');

    const accepted = msgids.filter((msgid) => outcomes.get(msgid) === 'no error');
    const expected = accepted.flatMap((msgid) => [`${msgid}00000001`, `${msgid}00000002`]);
    expect(proxy.counts.respond).toBeGreaterThan(50);
    // Each throttled response was either retried or ended its call's last attempt.
    expect(retries?.value).toBeGreaterThan(proxy.counts.respond / 2);
    expect(retries?.value).toBeLessThanOrEqual(proxy.counts.respond);
    expect(accepted.length).toBeGreaterThan(30);
    expect(await walkAll(store)).toEqual(expected);
    for (const msgid of accepted) {
      const body = await store.bodyGet(msgid);
      expect((await streamBytes(body.stream)).toString()).toBe(`Subject: ${msgid}\r\n\r\nbody\r\n`);
    }
  });

  it('throttling past the retries is a storage fault', async () => {
    const store = await queueOpen();
    proxy.plan(() => ({ action: 'respond', status: 503, body: SLOW_DOWN_BODY }));

    expect(await codeOf(store.messageCreate({ msgid: '0000abcd' }))).toBe('storage-unavailable');
    proxy.plan(() => FORWARD);
    expect(await codeOf(store.messageInfo('0000abcd'))).toBe('message-not-found');
  });

  it('reset connection mid-upload is retried', async () => {
    const store = await queueOpen();
    await store.messageCreate({ msgid: '0000abcd' });
    const resets = new Set<string>();
    proxy.plan((request) => {
      if (!isLargePut(request) || resets.has(request.url)) return FORWARD;
      resets.add(request.url);
      return { action: 'reset', afterBytes: 256 * 1024 };
    });

    const bytes = await streamBytes(patternSource(12 * MiB));
    await store.bodyPut('0000abcd', upload(bytes));
    proxy.plan(() => FORWARD);
    await store.messageCommit('0000abcd');

    const body = await store.bodyGet('0000abcd');
    expect(proxy.counts.reset).toBe(3);
    expect(body.size).toBe(bytes.length);
    expect(sha256(await streamBytes(body.stream))).toBe(sha256(bytes));
  });

  it('reset on every attempt leaves no body', async () => {
    const prefix = freshPrefix();
    const store = await queueOpen(prefix);
    await store.messageCreate({ msgid: '0000abcd' });
    proxy.plan((request) =>
      isLargePut(request) ? { action: 'reset', afterBytes: 256 * 1024 } : FORWARD,
    );

    const code = await codeOf(store.bodyPut('0000abcd', upload(Buffer.alloc(12 * MiB, 7))));
    proxy.plan(() => FORWARD);

    expect(code).toBe('storage-unavailable');
    expect((await store.messageInfo('0000abcd')).bodySize).toBeNull();
    expect(await codeOf(store.messageCommit('0000abcd'))).toBe('body-missing');
    expect(await store.driver.blobList('', { limit: 10 })).toEqual([]);
    expect(await raw.pendingUploads(prefix)).toEqual([]);
  });

  it('slow response past the timeout is retried', async () => {
    const store = await queueOpen();
    await committedMessage(store, '0000abcd', 1);
    const delayed = new Set<string>();
    proxy.plan((request) => {
      if (!isObjectRead(request) || delayed.has(request.url)) return FORWARD;
      delayed.add(request.url);
      return { action: 'forward', delayMs: 3000 };
    });

    const envelope = await store.envelopeGet('0000abcd00000001');

    expect(envelope.data.toString()).toBe('rcpt 1');
    expect(delayed.size).toBeGreaterThan(0);
  });

  it('slow responses past every retry time out', async () => {
    const store = await queueOpen(freshPrefix(), { maxAttempts: 3 });
    await committedMessage(store, '0000abcd', 1);
    proxy.plan((request) =>
      isObjectRead(request) ? { action: 'forward', delayMs: 3000 } : FORWARD,
    );

    const failure = await store.driver.get('env/0000abcd/0000abcd00000001').catch((e) => e);

    expect(failure).toBeInstanceOf(StorageFault);
    expect((failure as StorageFault).kind).toBe('timeout');
    expect(await codeOf(store.envelopeGet('0000abcd00000001'))).toBe('storage-timeout');
  });
});

describe('s3 walk', () => {
  it('walk reads envelopes in parallel on kept-alive sockets', async () => {
    const store = await queueOpen();
    await Promise.all(
      Array.from({ length: 20 }, (_, m) =>
        committedMessage(store, (m + 1).toString(16).padStart(8, '0'), 10),
      ),
    );
    const connectionsBefore = proxy.load.connections;
    proxy.load.maxInFlight = 0;

    const evpids = await walkAll(store);

    expect(evpids).toHaveLength(200);
    expect(proxy.load.maxInFlight).toBeGreaterThanOrEqual(16);
    expect(proxy.load.connections - connectionsBefore).toBeLessThanOrEqual(64);
  });
});

describe('s3 listing that never ends', () => {
  // Field case: a listing marked truncated with no continuation token, or the same one again.
  const variants = {
    'no continuation token': (body: string, _continued: boolean) =>
      body
        .replace('<IsTruncated>false</IsTruncated>', '<IsTruncated>true</IsTruncated>')
        .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, ''),
    // Later pages come back empty, so that only the repeated token can stop the loop.
    'the same token again': (body: string, continued: boolean) =>
      body
        .replace(/<Contents>[\s\S]*?<\/Contents>/g, continued ? '' : '$&')
        .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '')
        .replace(
          /<IsTruncated>(true|false)<\/IsTruncated>/,
          '<IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken>',
        ),
  };

  for (const [name, rewrite] of Object.entries(variants)) {
    it(`listing with ${name} is a storage fault`, async () => {
      const store = await queueOpen();
      await committedMessage(store, '0000abcd', 2);
      proxy.plan((request) => {
        if (!isListing(request)) return FORWARD;
        const continued = request.url.includes('continuation-token=');
        const url = request.url.replace(/&?continuation-token=[^&]*/, '');
        return { action: 'forward', url, rewriteBody: (body) => rewrite(body, continued) };
      });

      const failure = await store.driver.list('env/', { limit: 10 }).catch((e) => e);
      const walk = await store.walk({ limit: 10 }).catch((e) => e);

      expect(failure).toBeInstanceOf(StorageFault);
      expect((failure as StorageFault).kind).toBe('unavailable');
      expect((failure as Error).message).toContain('makes no progress');
      expect(walk).toBeInstanceOf(QueueError);
      expect((walk as QueueError).code).toBe('storage-unavailable');
    });
  }
});
