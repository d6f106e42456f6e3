import { createRequire } from 'node:module';
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
import { QueueClient } from '../src/index.js';

const requireFromServer = createRequire(new URL('../../server/package.json', import.meta.url));
type CreateLogger = (options: { level: string }) => NonNullable<StartServerOptions['logger']>;
const { pino } = requireFromServer('pino') as { pino: CreateLogger };

let server: RunningServer;
const clients: QueueClient[] = [];

function newClient(): QueueClient {
  const client = new QueueClient({ url: server.url, retryBudgetMs: 0 });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  server = await startServer({
    store: createQueueStore(new MemoryDriver(), { claimGraceMs: 0 }),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
  });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await server?.close();
});

async function rejectionOf(promise: Promise<unknown>): Promise<QueueError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(QueueError);
    return err as QueueError;
  }
  throw new Error('the call succeeded, a QueueError was expected');
}

async function committedMessage(client: QueueClient) {
  const msgid = await client.messageCreate();
  const { evpid } = await client.envelopeCreate(msgid, Buffer.from('rcpt: a@example.org\n'));
  await client.bodyPut(msgid, Buffer.from('Subject: pool\r\n\r\nhello\r\n'));
  await client.messageCommit(msgid);
  return { msgid, evpid };
}

describe('client pool calls', () => {
  it('acquires, renews and releases a lease', async () => {
    const client = newClient();
    const lease = await client.nodeLeaseAcquire('client-a', { ttlMs: 5000 });
    expect(lease).toMatchObject({ node: 'client-a', ttlMs: 5000 });
    expect(lease.leaseId).toMatch(/^[0-9a-f]{32}$/);

    const renewed = await client.nodeLeaseRenew('client-a', lease.leaseId, { ttlMs: 8000 });
    expect(renewed.leaseId).toBe(lease.leaseId);
    expect(renewed.ttlMs).toBe(8000);

    const held = await rejectionOf(client.nodeLeaseAcquire('client-a', { ttlMs: 5000 }));
    expect(held.code).toBe('lease-held');
    expect(held.details?.remainingMs).toEqual(expect.any(Number));

    await client.nodeLeaseRelease('client-a', { leaseId: lease.leaseId });
    const lost = await rejectionOf(
      client.nodeLeaseRenew('client-a', lease.leaseId, { ttlMs: 5000 }),
    );
    expect(lost.code).toBe('lease-lost');
  });

  it('sends the node headers once set', async () => {
    const client = newClient();
    const lease = await client.nodeLeaseAcquire('client-b', { ttlMs: 60_000 });
    client.setNode({ name: 'client-b', leaseId: lease.leaseId });

    const msgid = await client.messageCreate();
    expect((await client.messageInfo(msgid)).owner).toBe('client-b');
    const owned = await client.messageList({ owner: 'client-b' });
    expect(owned.messages.map((message) => message.msgid)).toEqual([msgid]);

    client.setNode(null);
    const unowned = await client.messageCreate();
    expect((await client.messageInfo(unowned)).owner).toBeNull();
    const listed = await client.messageList({ owner: null });
    expect(listed.messages.map((message) => message.msgid)).toContain(unowned);
    expect(listed.messages.map((message) => message.msgid)).not.toContain(msgid);
  });

  it('takes the node from the options', async () => {
    const setup = newClient();
    const lease = await setup.nodeLeaseAcquire('client-c', { ttlMs: 60_000 });
    const client = new QueueClient({
      url: server.url,
      node: { name: 'client-c', leaseId: lease.leaseId },
    });
    clients.push(client);

    const msgid = await client.messageCreate();
    expect((await setup.messageInfo(msgid)).owner).toBe('client-c');
    // The lease routes leave the node headers out, so a lost lease can be replaced.
    await client.nodeLeaseRelease('client-c');
    const again = await client.nodeLeaseAcquire('client-c', { ttlMs: 60_000 });
    expect(again.leaseId).not.toBe(lease.leaseId);
  });

  it('claims a message and reports lost claims', async () => {
    const plain = newClient();
    const first = newClient();
    const second = newClient();
    const leaseD = await first.nodeLeaseAcquire('client-d', { ttlMs: 60_000 });
    const leaseE = await second.nodeLeaseAcquire('client-e', { ttlMs: 60_000 });
    first.setNode({ name: 'client-d', leaseId: leaseD.leaseId });
    second.setNode({ name: 'client-e', leaseId: leaseE.leaseId });
    const { msgid, evpid } = await committedMessage(plain);

    expect(await first.messageClaim(msgid, { from: null })).toEqual({
      msgid,
      owner: 'client-d',
      evpids: [evpid],
    });
    const lost = await rejectionOf(second.messageClaim(msgid, { from: null }));
    expect(lost.code).toBe('claim-lost');
    expect(lost.details?.owner).toBe('client-d');

    const notOwner = await rejectionOf(second.envelopeGet(evpid));
    expect(notOwner.code).toBe('not-owner');
    const walk = await second.walk();
    expect(walk.envelopes.map((entry) => entry.evpid)).not.toContain(evpid);
  });

  it('lists nodes with counts', async () => {
    const client = newClient();
    const lease = await client.nodeLeaseAcquire('client-f', { ttlMs: 60_000 });
    client.setNode({ name: 'client-f', leaseId: lease.leaseId });
    await committedMessage(client);

    const list = await client.nodeList({ counts: true });
    const entry = list.nodes.find((node) => node.node === 'client-f');
    expect(entry).toMatchObject({ state: 'live', claimable: false, messages: 1, envelopes: 1 });
    expect(list.unowned).toEqual({
      messages: expect.any(Number),
      envelopes: expect.any(Number),
    });
    const plain = await client.nodeList();
    expect(plain.unowned).toBeUndefined();
  });
});
