import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import {
  type FaultProxy,
  FORWARD,
  faultProxyStart,
  type MotoServer,
  motoStart,
  type ProxyPlan,
  RawS3,
  TEST_ENVIRONMENT,
} from '@smtpq/frontend-s3/testing';
import { encodeBundleHead } from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Frontend, startFrontend } from '../src/frontend.js';
import { stopAllStarted } from '../src/processes.js';
import {
  createMessage,
  digestHeader,
  logRecords,
  messageState,
  peakRss,
  sendThenStall,
} from '../src/slow-peer.js';
import { waitFor } from '../src/wait.js';

// Field case FC-12 on the S3 frontend: S3 behind a slow link, slow or stalled clients. Each
// transfer completes byte-identical or ends with an HTTP error after the idle timeout, nothing
// is half-stored in the bucket, memory stays bounded, and the frontend never exits.

const BUCKET = 'smtpq-e2e-slow-peers';
const MiB = 1024 * 1024;

/**
 * The frontend's idle timeout (--idle-timeout), scaled down from the default 30 s.
 * Each wait of the frontend on S3 after it has read an upload (one part, or the multipart
 * complete) must not count as a stalled client.
 */
const IDLE_TIMEOUT_MS = 1_000;
/** Rate of every S3 request body and response body through the proxy, each way. */
const S3_BYTES_PER_SECOND = 16 * MiB;
/** Pause of the slow reader after each MiB, well under the idle timeout. */
const READER_PAUSE_MS = 200;
/**
 * Larger than the S3 driver's 8 MiB parts, any buffer on the way and the memory growth limit,
 * so that a frontend holding the whole body would fail the memory check.
 */
const LARGE_BODY_BYTES = 96 * MiB;
/** Growth of the frontend's peak memory allowed while the large body goes in and out. */
const MEMORY_GROWTH_LIMIT_BYTES = 64 * MiB;

const THROTTLED: ProxyPlan = { action: 'forward', bytesPerSecond: S3_BYTES_PER_SECOND };

// The S3 client of this process (it creates the bucket) gets the same environment as the
// frontend: dummy credentials and no instance metadata lookups.
Object.assign(process.env, TEST_ENVIRONMENT);

let moto: MotoServer;
let s3Proxy: FaultProxy;
let bucket: RawS3;
let prefix: string;
let frontend: Frontend;
let baselineRss: number;

async function uploadBody(msgid: string, body: Buffer): Promise<void> {
  const upload = await fetch(`${frontend.url}/v1/messages/${msgid}/body`, {
    method: 'PUT',
    headers: { 'content-digest': digestHeader(body) },
    body,
  });
  expect(upload.status).toBe(204);
}

/** Keys of the store's blobs in the bucket, and multipart uploads neither completed nor aborted. */
async function bucketLeftovers(): Promise<{ blobs: string[]; uploads: string[] }> {
  const blobs = (await bucket.objects(`${prefix}b/`)).map((object) => object.key);
  return { blobs, uploads: await bucket.pendingUploads(prefix) };
}

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  s3Proxy = await faultProxyStart(moto.endpoint);
  bucket = new RawS3(moto.endpoint, BUCKET);
  prefix = `store-${randomBytes(6).toString('hex')}/`;

  const endpoint = encodeURIComponent(s3Proxy.endpoint);
  frontend = await startFrontend(`s3://${BUCKET}/${prefix}?endpoint=${endpoint}&region=us-east-1`, {
    env: TEST_ENVIRONMENT,
    extraArgs: [
      '--idle-timeout',
      String(IDLE_TIMEOUT_MS),
      '--max-message-bytes',
      String(LARGE_BODY_BYTES),
    ],
  });
  baselineRss = peakRss(frontend);
}, 600_000);

afterAll(async () => {
  await stopAllStarted();
  bucket?.close();
  await s3Proxy?.close();
  await moto?.stop();
});

describe('S3 frontend with throttled S3 and slow peers', () => {
  it('large body through throttled S3 round-trips with memory bounded', async () => {
    s3Proxy.plan(() => THROTTLED);
    const body = randomBytes(LARGE_BODY_BYTES);
    await createMessage(frontend, '0000c001');

    await uploadBody('0000c001', body);

    const download = await fetch(`${frontend.url}/v1/messages/0000c001/body`);
    expect(download.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    expect(size).toBe(LARGE_BODY_BYTES);
    expect(hash.digest().equals(createHash('sha256').update(body).digest())).toBe(true);
    expect(peakRss(frontend) - baselineRss).toBeLessThan(MEMORY_GROWTH_LIMIT_BYTES);
    // The body went to S3 as a multipart upload, which was completed.
    const parts = s3Proxy.requests.filter((seen) => /[?&]partNumber=/.test(seen.url));
    expect(parts.length).toBeGreaterThanOrEqual(LARGE_BODY_BYTES / (8 * MiB));
    expect((await bucketLeftovers()).uploads).toEqual([]);
  }, 120_000);

  it('body upload that stalls mid-part gets 408 and leaves no upload', async () => {
    s3Proxy.plan(() => THROTTLED);
    await createMessage(frontend, '0000c002');
    const partsBefore = s3Proxy.requests.filter((seen) => /[?&]partNumber=/.test(seen.url));

    // 12 MiB at once: the first 8 MiB part goes to S3 in a multipart upload, then the stall.
    const answer = await sendThenStall(
      frontend,
      '/v1/messages/0000c002/body',
      randomBytes(24 * MiB),
      {
        fastBytes: 12 * MiB,
        idleTimeoutMs: IDLE_TIMEOUT_MS,
      },
    );

    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'request-timeout' } });
    const parts = s3Proxy.requests.filter((seen) => /[?&]partNumber=/.test(seen.url));
    expect(parts.length).toBeGreaterThan(partsBefore.length);
    expect(await messageState(frontend, '0000c002')).toEqual({ status: 200, bodySize: null });
    expect((await fetch(`${frontend.url}/v1/messages/0000c002/body`)).status).toBe(404);
    const logged = logRecords(frontend).find(
      (record) => record.msgid === '0000c002' && record.status === 408,
    );
    expect(logged).toMatchObject({ error: 'request-timeout', method: 'PUT' });
    const leftovers = await bucketLeftovers();
    expect(leftovers.uploads).toEqual([]);
    expect(leftovers.blobs.filter((key) => key.includes('0000c002'))).toEqual([]);
  }, 60_000);

  it('bundle upload that stalls gets 408 and leaves no message', async () => {
    s3Proxy.plan(() => THROTTLED);
    const body = randomBytes(24 * MiB);
    const envelope = { evpid: '0000c00300000001', data: Buffer.from('rcpt: a@example.org\n') };
    const bundle = Buffer.concat([encodeBundleHead([envelope], body.length), body]);

    const answer = await sendThenStall(frontend, '/v1/messages/0000c003/bundle', bundle, {
      fastBytes: 12 * MiB,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });

    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'request-timeout' } });
    expect((await messageState(frontend, '0000c003')).status).toBe(404);
    expect(
      logRecords(frontend).some((record) => record.msgid === '0000c003' && record.status === 408),
    ).toBe(true);
    const leftovers = await bucketLeftovers();
    expect(leftovers.uploads).toEqual([]);
    expect(leftovers.blobs.filter((key) => key.includes('0000c003'))).toEqual([]);
  }, 60_000);

  it('slow reader gets the body byte-identical', async () => {
    const body = randomBytes(16 * MiB);
    s3Proxy.plan(() => FORWARD);
    await createMessage(frontend, '0000c004');
    await uploadBody('0000c004', body);
    s3Proxy.plan(() => THROTTLED);

    const received = await new Promise<Buffer>((resolve, reject) => {
      request(`${frontend.url}/v1/messages/0000c004/body`, (response) => {
        const chunks: Buffer[] = [];
        let sinceBreak = 0;
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          sinceBreak += chunk.length;
          if (sinceBreak >= MiB) {
            sinceBreak = 0;
            response.pause();
            setTimeout(() => response.resume(), READER_PAUSE_MS);
          }
        });
        response.on('end', () => resolve(Buffer.concat(chunks)));
        response.on('error', reject);
      })
        .on('error', reject)
        .end();
    });

    expect(received.length).toBe(body.length);
    expect(received.equals(body)).toBe(true);
  }, 60_000);

  it('reader that stops is cut and its S3 read released', async () => {
    // Larger than the socket buffers on both sides of the client's connection (up to 32 MiB
    // on loopback here), so the frontend's writes stall once the reader stops.
    const body = randomBytes(64 * MiB);
    s3Proxy.plan(() => FORWARD);
    await createMessage(frontend, '0000c005');
    await uploadBody('0000c005', body);
    s3Proxy.plan(() => THROTTLED);

    // The reader stops after 1 MiB, waits until the frontend has logged the request as cut,
    // then reads on: what was still buffered arrives, then the end of the connection.
    const logged = () =>
      logRecords(frontend).find((record) => record.msgid === '0000c005' && record.method === 'GET');
    const ending = await new Promise<{ received: number; error: string }>((resolve) => {
      request(`${frontend.url}/v1/messages/0000c005/body`, (response) => {
        let received = 0;
        let stopped = false;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (!stopped && received >= MiB) {
            stopped = true;
            response.pause();
            void expect
              .poll(logged, { timeout: 30_000, interval: 100 })
              .toBeDefined()
              .finally(() => response.resume());
          }
        });
        response.on('end', () => resolve({ received, error: 'none' }));
        response.on('error', (error) => resolve({ received, error: error.message }));
      })
        .on('error', (error) => resolve({ received: 0, error: error.message }))
        .end();
    });

    expect(logged()).toMatchObject({ status: 200, completed: false });
    expect(ending.error).toBe('aborted');
    expect(ending.received).toBeLessThan(body.length);
    // The frontend closes its S3 read with the client's connection. The S3 client's own
    // socket timeout (10 s) would close it too, so the wait stays below that.
    await waitFor('the frontend to close its S3 read', () => s3Proxy.load.inFlight === 0, {
      timeoutMs: 5_000,
    });
  }, 60_000);

  it('frontend still serves after every slow peer', async () => {
    s3Proxy.plan(() => FORWARD);
    expect(frontend.pid).not.toBeNull();
    expect((await fetch(`${frontend.url}/v1/health`)).status).toBe(200);
    expect(logRecords(frontend).filter((record) => Number(record.level) >= 50)).toEqual([]);
    expect(peakRss(frontend) - baselineRss).toBeLessThan(MEMORY_GROWTH_LIMIT_BYTES);
    expect((await bucketLeftovers()).uploads).toEqual([]);
  });
});
