import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeBundleHead } from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Frontend, startFrontend } from '../src/frontend.js';
import { throttledFrontendPath } from '../src/paths.js';
import { stopAllStarted } from '../src/processes.js';
import {
  createMessage,
  digestHeader,
  logRecords,
  messageState,
  peakRss,
  sendThenStall,
} from '../src/slow-peer.js';

// Field case FC-12: slow storage, slow or stalled clients. Each transfer completes
// byte-identical or ends with an HTTP error after the idle timeout, nothing is half-stored,
// memory stays bounded, and the frontend never exits.

/** The frontend's idle timeout (--idle-timeout), scaled down from the default 30 s. */
const IDLE_TIMEOUT_MS = 1_000;
/** The store's blob rate, slower than loopback by far. */
const STORE_BYTES_PER_SECOND = 32 * 1024 * 1024;
/** Larger than any buffer on the way, so that buffering it whole would show in memory. */
const LARGE_BODY_BYTES = 120 * 1024 * 1024;
/** Growth of the frontend's peak memory allowed while the large body goes in and out. */
const MEMORY_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;

let frontend: Frontend;
let storeDir: string;
let baselineRss: number;

beforeAll(async () => {
  storeDir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-slow-'));
  frontend = await startFrontend(`fs://${storeDir}`, {
    program: [throttledFrontendPath],
    env: { SMTPQ_E2E_BLOB_BYTES_PER_SECOND: String(STORE_BYTES_PER_SECOND) },
    extraArgs: [
      '--idle-timeout',
      String(IDLE_TIMEOUT_MS),
      '--max-message-bytes',
      String(LARGE_BODY_BYTES),
    ],
  });
  baselineRss = peakRss(frontend);
});

afterAll(async () => {
  await stopAllStarted();
  rmSync(storeDir, { recursive: true, force: true });
});

describe('frontend with slow storage and slow peers', () => {
  it('large body through throttled storage round-trips with memory bounded', async () => {
    const body = randomBytes(LARGE_BODY_BYTES);
    await createMessage(frontend, '0000c001');

    const upload = await fetch(`${frontend.url}/v1/messages/0000c001/body`, {
      method: 'PUT',
      headers: { 'content-digest': digestHeader(body) },
      body,
    });
    expect(upload.status).toBe(204);

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
  }, 60_000);

  it('body upload that stalls gets 408 and stores nothing', async () => {
    await createMessage(frontend, '0000c002');

    const answer = await sendThenStall(
      frontend,
      '/v1/messages/0000c002/body',
      randomBytes(1024 * 1024),
      { fastBytes: 0, idleTimeoutMs: IDLE_TIMEOUT_MS },
    );

    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'request-timeout' } });
    expect(await messageState(frontend, '0000c002')).toEqual({ status: 200, bodySize: null });
    expect((await fetch(`${frontend.url}/v1/messages/0000c002/body`)).status).toBe(404);
    const logged = logRecords(frontend).find(
      (record) => record.msgid === '0000c002' && record.status === 408,
    );
    expect(logged).toMatchObject({ error: 'request-timeout', method: 'PUT' });
  });

  it('bundle upload that stalls gets 408 and leaves no message', async () => {
    const body = randomBytes(1024 * 1024);
    const envelope = { evpid: '0000c00300000001', data: Buffer.from('rcpt: a@example.org\n') };
    const bundle = Buffer.concat([encodeBundleHead([envelope], body.length), body]);

    const answer = await sendThenStall(frontend, '/v1/messages/0000c003/bundle', bundle, {
      fastBytes: 0,
      idleTimeoutMs: IDLE_TIMEOUT_MS,
    });

    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({ error: { code: 'request-timeout' } });
    expect((await messageState(frontend, '0000c003')).status).toBe(404);
    expect(
      logRecords(frontend).some((record) => record.msgid === '0000c003' && record.status === 408),
    ).toBe(true);
  });

  it('slow reader gets the body byte-identical', async () => {
    const body = randomBytes(16 * 1024 * 1024);
    await createMessage(frontend, '0000c004');
    const upload = await fetch(`${frontend.url}/v1/messages/0000c004/body`, {
      method: 'PUT',
      headers: { 'content-digest': digestHeader(body) },
      body,
    });
    expect(upload.status).toBe(204);

    // Pauses well under the idle timeout between reads of 1 MiB or less.
    const received = await new Promise<Buffer>((resolve, reject) => {
      request(`${frontend.url}/v1/messages/0000c004/body`, (response) => {
        const chunks: Buffer[] = [];
        let sinceBreak = 0;
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          sinceBreak += chunk.length;
          if (sinceBreak >= 1024 * 1024) {
            sinceBreak = 0;
            response.pause();
            setTimeout(() => response.resume(), IDLE_TIMEOUT_MS / 5);
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

  it('reader that stops is cut after the idle timeout', async () => {
    // Larger than the socket buffers on both sides (up to 32 MiB on loopback here), so the
    // server's writes stall once the reader stops.
    const body = randomBytes(64 * 1024 * 1024);
    await createMessage(frontend, '0000c005');
    const upload = await fetch(`${frontend.url}/v1/messages/0000c005/body`, {
      method: 'PUT',
      headers: { 'content-digest': digestHeader(body) },
      body,
    });
    expect(upload.status).toBe(204);

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
          if (!stopped && received >= 1024 * 1024) {
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
  }, 60_000);

  it('frontend still serves after every slow peer', async () => {
    expect(frontend.pid).not.toBeNull();
    expect((await fetch(`${frontend.url}/v1/health`)).status).toBe(200);
    expect(logRecords(frontend).filter((record) => record.level === 60)).toEqual([]);
    expect(peakRss(frontend) - baselineRss).toBeLessThan(MEMORY_GROWTH_LIMIT_BYTES);
  });
});
