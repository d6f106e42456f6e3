import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The server depends on this package, so this package cannot depend on it: the tests load
// the built server and store the way an application would.
import {
  type RunningServer,
  type StartServerOptions,
  startServer,
} from '../../server/dist/index.js';
import { createQueueStore, MemoryDriver } from '../../store/dist/index.js';
import { QueueError } from '../src/errors.js';
import { isEvpid, isMsgid } from '../src/ids.js';
import { QueueClient } from '../src/index.js';

// pino as the server package resolves it: this package does not depend on pino.
const requireFromServer = createRequire(new URL('../../server/package.json', import.meta.url));
type CreateLogger = (options: { level: string }) => NonNullable<StartServerOptions['logger']>;
const { pino } = requireFromServer('pino') as { pino: CreateLogger };

let server: RunningServer;
let client: QueueClient;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smtpq-client-'));
  server = await startServer({
    store: createQueueStore(new MemoryDriver()),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
  });
  client = new QueueClient({ url: server.url });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function rejectionOf(promise: Promise<unknown>): Promise<QueueError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(QueueError);
    return err as QueueError;
  }
  throw new Error('the call succeeded, a QueueError was expected');
}

async function committedMessage(envelopeCount: number) {
  const msgid = await client.messageCreate();
  const evpids: string[] = [];
  for (let i = 0; i < envelopeCount; i++) {
    const { evpid } = await client.envelopeCreate(
      msgid,
      Buffer.from(`rcpt: user${i}@example.org\n`),
    );
    evpids.push(evpid);
  }
  await client.bodyPut(msgid, Buffer.from('Subject: test\r\n\r\nhello\r\n'));
  await client.messageCommit(msgid);
  return { msgid, evpids: evpids.sort() };
}

describe('client against the server', () => {
  it('reads the service information', async () => {
    const info = await client.info();

    expect(info.protocol).toBe('smtpq');
    expect(info.version).toBe(1);
    expect(info.features).toContain('bundle');
    expect(info.limits.maxMessageBytes).toBeGreaterThan(40 * 1024 * 1024);
  });

  it('reads the health', async () => {
    await expect(client.health()).resolves.toEqual({ status: 'ok' });
  });

  it('creates, uploads, commits and deletes a message', async () => {
    const msgid = await client.messageCreate();
    expect(isMsgid(msgid)).toBe(true);
    const body = Buffer.from('From: a@example.org\r\n\r\nbody\r\n');

    const open = await client.messageInfo(msgid);
    expect(open.state).toBe('open');
    expect(open.bodySize).toBeNull();

    await client.bodyPut(msgid, body);
    const uploaded = await client.messageInfo(msgid);
    expect(uploaded.bodySize).toBe(body.length);
    expect(uploaded.bodySha256).toBe(sha256Hex(body));

    await client.messageCommit(msgid);
    expect((await client.messageInfo(msgid)).state).toBe('committed');

    const download = await client.bodyGet(msgid);
    expect(download.size).toBe(body.length);
    expect(download.sha256).toBe(sha256Hex(body));
    expect((await readAll(download.stream)).equals(body)).toBe(true);

    await client.messageDelete(msgid);
    const err = await rejectionOf(client.messageInfo(msgid));
    expect(err.code).toBe('message-not-found');
    expect(err.status).toBe(404);
  });

  it('creates a message with a msgid', async () => {
    const msgid = '7e570001';

    await expect(client.messageCreate({ msgid, token: 'create-7e570001' })).resolves.toBe(msgid);
    // A repeat with the same token is the same create; another token is a conflict.
    await expect(client.messageCreate({ msgid, token: 'create-7e570001' })).resolves.toBe(msgid);
    const err = await rejectionOf(client.messageCreate({ msgid, token: 'another-token' }));
    expect(err.code).toBe('message-exists');
    expect(err.status).toBe(409);
  });

  it('repeats a POST create with its token', async () => {
    const first = await client.messageCreate({ token: 'post-create-token-1' });

    await expect(client.messageCreate({ token: 'post-create-token-1' })).resolves.toBe(first);
  });

  it('rejects an invalid msgid', async () => {
    const err = await rejectionOf(client.messageInfo('0000ABCD'));

    expect(err.code).toBe('invalid-msgid');
    expect(err.status).toBe(400);
  });

  it('fails to read a missing body', async () => {
    const msgid = await client.messageCreate();

    const err = await rejectionOf(client.bodyGet(msgid));

    expect(err.code).toBe('body-not-found');
  });

  it('writes, reads and deletes envelopes', async () => {
    const msgid = await client.messageCreate();

    const created = await client.envelopeCreate(msgid, Buffer.from('version: 3\n'));
    expect(isEvpid(created.evpid)).toBe(true);
    expect(created.evpid.slice(0, 8)).toBe(msgid);

    const evpid = `${msgid}0000beef`;
    const named = await client.envelopeCreate(msgid, Buffer.from('named\n'), { evpid });
    expect(named.evpid).toBe(evpid);
    const exists = await rejectionOf(
      client.envelopeCreate(msgid, Buffer.from('again\n'), { evpid, token: 'other' }),
    );
    expect(exists.code).toBe('envelope-exists');

    const loaded = await client.envelopeGet(evpid);
    expect(loaded.data.toString()).toBe('named\n');
    expect(loaded.etag).toBe(named.etag);

    const updated = await client.envelopeUpdate(evpid, Buffer.from('retry: 1\n'), {
      ifMatch: loaded.etag,
    });
    expect(updated.etag).not.toBe(loaded.etag);
    expect((await client.envelopeGet(evpid)).data.toString()).toBe('retry: 1\n');

    const stale = await rejectionOf(
      client.envelopeUpdate(evpid, Buffer.from('lost\n'), { ifMatch: loaded.etag }),
    );
    expect(stale.code).toBe('precondition-failed');
    expect(stale.status).toBe(412);
    const staleDelete = await rejectionOf(client.envelopeDelete(evpid, { ifMatch: loaded.etag }));
    expect(staleDelete.code).toBe('precondition-failed');

    await client.envelopeDelete(evpid, { ifMatch: updated.etag });
    const gone = await rejectionOf(client.envelopeGet(evpid));
    expect(gone.code).toBe('envelope-not-found');
  });

  it('rejects an evpid of another message before sending', async () => {
    const err = await rejectionOf(
      client.envelopeCreate('0000abcd', Buffer.from('x'), { evpid: '0000abce00000001' }),
    );

    expect(err.code).toBe('evpid-msgid-mismatch');
  });

  it('walks one message', async () => {
    const msgid = await client.messageCreate();
    const data = Buffer.from([0, 1, 2, 255, 10, 13]);
    const { evpid } = await client.envelopeCreate(msgid, data);

    const hidden = await rejectionOf(client.messageWalk(msgid));
    expect(hidden.code).toBe('message-not-found');

    const page = await client.messageWalk(msgid, { includeUncommitted: true });
    expect(page.end).toBe(true);
    expect(page.next).toBeNull();
    expect(page.envelopes).toHaveLength(1);
    expect(page.envelopes[0]?.evpid).toBe(evpid);
    expect(page.envelopes[0]?.data.equals(data)).toBe(true);
  });

  it('walks every committed envelope page by page', async () => {
    const { evpids } = await committedMessage(3);

    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await client.walk({ cursor, limit: 1 });
      for (const entry of page.envelopes) {
        seen.push(entry.evpid);
        expect(Buffer.isBuffer(entry.data)).toBe(true);
      }
      if (page.end) break;
      cursor = page.next ?? undefined;
    }

    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(evpids));
  });

  it('lists messages by state', async () => {
    const { msgid } = await committedMessage(1);

    const listed: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await client.messageList({ cursor, limit: 2, state: 'committed' });
      for (const message of page.messages) {
        expect(message.state).toBe('committed');
        listed.push(message.msgid);
      }
      if (page.end) break;
      cursor = page.next ?? undefined;
    }

    expect(listed).toContain(msgid);
  });

  it('sends a bundle from a Buffer', async () => {
    const msgid = '7e570002';
    const envelopes = [
      { evpid: `${msgid}00000001`, data: Buffer.from('rcpt: a@example.org\n') },
      { evpid: `${msgid}00000002`, data: Buffer.from('rcpt: b@example.org\n') },
    ];
    const body = Buffer.from('Subject: bundle\r\n\r\none request\r\n');

    await client.messageBundle(msgid, envelopes, body, { token: 'bundle-7e570002' });
    await client.messageBundle(msgid, envelopes, body, { token: 'bundle-7e570002' });

    const info = await client.messageInfo(msgid);
    expect(info.state).toBe('committed');
    expect(info.bodySha256).toBe(sha256Hex(body));
    const page = await client.messageWalk(msgid);
    expect(page.envelopes.map((entry) => entry.evpid)).toEqual(envelopes.map((e) => e.evpid));
    expect(page.envelopes[1]?.data.equals(envelopes[1]!.data)).toBe(true);
    const err = await rejectionOf(client.messageBundle(msgid, envelopes, body));
    expect(err.code).toBe('message-exists');
  });

  it('sends a bundle from a file', async () => {
    const msgid = '7e570003';
    const body = randomBytes(300_000);
    const path = join(dir, 'bundle-body');
    await writeFile(path, body);

    await client.messageBundle(msgid, [{ evpid: `${msgid}00000001`, data: Buffer.from('e') }], {
      path,
    });

    const download = await client.bodyGet(msgid);
    expect((await readAll(download.stream)).equals(body)).toBe(true);
  });

  it('round-trips a 40 MiB body from an fd', async () => {
    const body = randomBytes(40 * 1024 * 1024);
    const path = join(dir, 'large-body');
    await writeFile(path, body);
    const msgid = await client.messageCreate();
    const file = await open(path, 'r');

    try {
      await client.bodyPut(msgid, { fd: file.fd });
    } finally {
      await file.close();
    }
    await client.messageCommit(msgid);
    const download = await client.bodyGet(msgid);
    const received = await readAll(download.stream);

    expect(download.size).toBe(body.length);
    expect(download.sha256).toBe(sha256Hex(body));
    expect(received.length).toBe(body.length);
    expect(received.equals(body)).toBe(true);
  });
});

describe('client with a token', () => {
  let guarded: RunningServer;

  beforeAll(async () => {
    guarded = await startServer({
      store: createQueueStore(new MemoryDriver()),
      host: '127.0.0.1',
      port: 0,
      token: 'test-token-1',
      logger: pino({ level: 'silent' }),
      gcIntervalMs: 0,
    });
  });

  afterAll(async () => {
    await guarded?.close();
  });

  it('sends the bearer token', async () => {
    const withToken = new QueueClient({ url: guarded.url, token: 'test-token-1' });
    const withoutToken = new QueueClient({ url: guarded.url });

    try {
      await expect(withToken.info()).resolves.toMatchObject({ protocol: 'smtpq' });
      const err = await rejectionOf(withoutToken.info());
      expect(err.code).toBe('unauthorized');
      expect(err.status).toBe(401);
      await expect(withoutToken.health()).resolves.toEqual({ status: 'ok' });
    } finally {
      await withToken.close();
      await withoutToken.close();
    }
  });
});

describe('client and keep-alive', () => {
  let shortLived: RunningServer;

  beforeAll(async () => {
    shortLived = await startServer({
      store: createQueueStore(new MemoryDriver()),
      host: '127.0.0.1',
      port: 0,
      keepAliveTimeoutMs: 50,
      logger: pino({ level: 'silent' }),
      gcIntervalMs: 0,
    });
  });

  afterAll(async () => {
    await shortLived?.close();
  });

  it('survives connections the server closed between calls', async () => {
    // No retry budget: a failure the client does not absorb by itself reaches the caller.
    const patient = new QueueClient({ url: shortLived.url, retryBudgetMs: 0 });

    try {
      for (let call = 0; call < 3; call++) {
        const msgid = await patient.messageCreate();
        await new Promise((resolve) => setTimeout(resolve, 200));
        await patient.bodyPut(msgid, Buffer.from(`call ${call}\r\n`));
        await new Promise((resolve) => setTimeout(resolve, 200));
        await expect(patient.messageInfo(msgid)).resolves.toMatchObject({ bodySize: 8 });
      }
    } finally {
      await patient.close();
    }
  });
});
