import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RunningServer,
  type StartServerOptions,
  startServer,
} from '../../server/dist/index.js';
import { createQueueStore, MemoryDriver } from '../../store/dist/index.js';
import { QueueClient, TransportError } from '../src/index.js';

const requireFromServer = createRequire(new URL('../../server/package.json', import.meta.url));
type CreateLogger = (options: { level: string }) => NonNullable<StartServerOptions['logger']>;
const { pino } = requireFromServer('pino') as { pino: CreateLogger };

let dir: string;
let cert: Buffer;
let server: RunningServer;

beforeAll(async () => {
  // A self-signed certificate for 127.0.0.1, made by the openssl command line tool.
  dir = await mkdtemp(join(tmpdir(), 'smtpq-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  cert = await readFile(certPath);

  server = await startServer({
    store: createQueueStore(new MemoryDriver()),
    host: '127.0.0.1',
    port: 0,
    tls: { cert, key: await readFile(keyPath) },
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
  });
});

afterAll(async () => {
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('client over https', () => {
  it('trusts the server with its CA', async () => {
    expect(server.url).toMatch(/^https:/);
    const client = new QueueClient({ url: server.url, ca: cert });

    try {
      await expect(client.info()).resolves.toMatchObject({ protocol: 'smtpq' });
      const msgid = await client.messageCreate();
      await client.bodyPut(msgid, Buffer.from('over tls\r\n'));
      expect((await client.messageInfo(msgid)).bodySize).toBe(10);
    } finally {
      await client.close();
    }
  });

  it('fails with a tls error without the CA', async () => {
    const client = new QueueClient({ url: server.url });

    try {
      const err = await client.info().then(
        () => null,
        (failure: unknown) => failure,
      );
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe('tls');
      expect((err as TransportError).message).toContain('GET /v1');
    } finally {
      await client.close();
    }
  });
});
