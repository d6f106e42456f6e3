import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueClient, randomEvpid, randomMsgid, TransportError } from '@smtpq/protocol';
import { createQueueStore, MemoryDriver } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupError, startServer } from '../src/index.js';
import { startTestServer } from './helpers.js';
import { makeTlsFiles, type TlsFiles } from './tls-files.js';

let folder: string;
let tls: TlsFiles;
let otherCa: TlsFiles;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-tls-'));
  tls = await makeTlsFiles(folder, 'server');
  otherCa = await makeTlsFiles(folder, 'other');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Returns what a call rejected with, or fails the test when it resolved. */
async function rejectionOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('the call succeeded over a connection it should not trust');
    },
    (error: unknown) => error,
  );
}

describe('HTTPS', () => {
  it('serves the protocol over TLS with the given certificate', async () => {
    const server = await startTestServer({ tls: { cert: tls.cert, key: tls.key } });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const response = await httpsGet(`${server.url}/v1/health`, tls.ca);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
  });

  it('typed client with the CA commits and walks', async () => {
    const server = await startTestServer({ tls: { cert: tls.cert, key: tls.key } });
    const client = new QueueClient({ url: server.url, ca: tls.ca });
    const msgid = randomMsgid();
    const evpid = randomEvpid(msgid);

    try {
      await client.messageBundle(msgid, [{ evpid, data: Buffer.from('rcpt') }], Buffer.from('b'));
      const page = await client.walk();

      expect(page.envelopes.map((entry) => entry.evpid)).toEqual([evpid]);
      expect(page.end).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('typed client without the CA fails with a tls TransportError', async () => {
    const server = await startTestServer({ tls: { cert: tls.cert, key: tls.key } });
    const client = new QueueClient({ url: server.url, retryBudgetMs: 0 });

    try {
      const error = await rejectionOf(client.info());

      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe('tls');
      expect((error as TransportError).message).toMatch(
        /^GET \/v1 to https:\/\/127\.0\.0\.1:\d+ failed in TLS \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
      );
    } finally {
      await client.close();
    }
  });

  it('typed client trusting another CA fails the same way', async () => {
    const server = await startTestServer({ tls: { cert: tls.cert, key: tls.key } });
    const client = new QueueClient({ url: server.url, ca: otherCa.ca, retryBudgetMs: 0 });

    try {
      const error = await rejectionOf(client.health());

      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe('tls');
    } finally {
      await client.close();
    }
  });

  it('a key that does not match the certificate stops the start', async () => {
    const start = startServer({
      store: createQueueStore(new MemoryDriver()),
      host: '127.0.0.1',
      port: 0,
      tls: { cert: tls.cert, key: otherCa.key },
    });

    const error = await rejectionOf(start);

    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(
      /^cannot use the TLS certificate and key: .*--tls-key$/,
    );
  });
});
