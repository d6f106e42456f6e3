import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { type Evpid, type Msgid, QueueClient, QueueError, randomMsgid } from '@smtpq/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';
import { type Frontend, startFrontend } from './frontend.js';
import {
  acceptMessage,
  envelopeText,
  init,
  startQueueRest,
  writeBody,
  writeConfig,
} from './queue-calls.js';
import {
  evpidBytes,
  type LogRecord,
  msgidBytes,
  result,
  type SmtpdPeer,
  TYPE,
} from './smtpd-peer.js';

const running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) {
    if ('stop' in item) await item.stop();
    else await item.close();
  }
});

async function frontend(): Promise<Frontend> {
  const started = await startFrontend();
  running.push(started);
  return started;
}

/** Starts queue-rest in pool mode as node `node`, under a scripted smtpd (pre-7.7 layout). */
function poolQueueRest(url: string, node: string, settings: Record<string, unknown> = {}) {
  const peer = startQueueRest('pre-7.7', { url, pool: true, node, ...settings });
  running.push(peer);
  return peer;
}

/** Returns a client that acts for pool node `node` with lease `leaseId`. */
function nodeClient(url: string, node: string, leaseId: string): QueueClient {
  const client = new QueueClient({ url, retryBudgetMs: 0, node: { name: node, leaseId } });
  running.push({ close: () => client.close() });
  return client;
}

/** Acquires a lease for `node` from the test and returns a client acting for it. */
async function actAs(front: Frontend, node: string): Promise<QueueClient> {
  const lease = await front.client.nodeLeaseAcquire(node, { ttlMs: 60_000 });
  return nodeClient(front.url, node, lease.leaseId);
}

/** Stores a committed message with `count` envelopes, owned by the client's node. */
async function seedMessage(client: QueueClient, count: number) {
  const msgid: Msgid = randomMsgid();
  const evpids: Evpid[] = Array.from(
    { length: count },
    (_, index) => `${msgid}0000000${index + 1}`,
  );
  await client.messageBundle(
    msgid,
    evpids.map((evpid, index) => ({ evpid, data: envelopeText(`r${index}`) })),
    Buffer.from(`Subject: ${msgid}\r\n\r\nbody\r\n`),
  );
  return { msgid, evpids };
}

/** Calls ENVELOPE_WALK until -1, pausing on "ask again" as smtpd does. */
async function walkToEnd(peer: SmtpdPeer): Promise<Evpid[]> {
  const evpids: Evpid[] = [];
  for (let calls = 0; calls < 10_000; calls++) {
    const reply = await peer.call(TYPE.ENVELOPE_WALK);
    const r = result(reply);
    if (r === -1) return evpids;
    if (r === 0) {
      await new Promise((resolve) => setTimeout(resolve, 4));
      continue;
    }
    evpids.push(reply.data.readBigUInt64LE(4).toString(16).padStart(16, '0'));
  }
  throw new Error('the walk did not end');
}

async function exitOf(peer: SmtpdPeer): Promise<number | null> {
  return (await peer.exited).code;
}

function fatalLine(peer: SmtpdPeer): string {
  const fatal = peer.logs.filter((record) => record.level === 'fatal');
  expect(fatal).toHaveLength(1);
  return fatal[0]!.msg;
}

async function ownerOf(front: Frontend, msgid: Msgid): Promise<string | null> {
  return (await front.client.messageInfo(msgid)).owner;
}

/** Writes a stand-in for smtpctl that appends its arguments to a file and reports success. */
function fakeSmtpctl(): { path: string; calls(): string[] } {
  const configPath = writeConfig({});
  const path = `${configPath}.smtpctl`;
  const calls = `${configPath}.calls`;
  writeFileSync(path, `#!/bin/sh\necho "$*" >> '${calls}'\necho "1 envelope discovered"\n`, {
    mode: 0o755,
  });
  return {
    path,
    calls: () => {
      try {
        return readFileSync(calls, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function logsWith(peer: SmtpdPeer, text: string): LogRecord[] {
  return peer.logs.filter((record) => record.msg.includes(text));
}

/** Returns a loopback port that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a server that responds to GET /v1 like a frontend without the pool feature. */
async function frontendWithoutPool(): Promise<string> {
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/v1') {
      res.end(
        JSON.stringify({
          protocol: 'smtpq',
          version: 1,
          features: ['bundle', 'message-walk', 'message-list', 'idempotency'],
          limits: {},
          uncommittedMaxAgeSeconds: 3600,
          store: 'memory',
        }),
      );
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { code: 'route-not-found', message: 'no route' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('queue-rest pool mode at start', () => {
  it('refuses a frontend without the pool feature', async () => {
    const url = await frontendWithoutPool();
    const peer = poolQueueRest(url, 'mx1');

    expect(await exitOf(peer)).toBe(1);
    expect(fatalLine(peer)).toMatch(
      new RegExp(
        `^cannot start: frontend ${url} lacks the pool feature; remove pool from the ` +
          'configuration file .* or upgrade the frontend$',
      ),
    );
  });

  it('refuses a node name with a live lease', async () => {
    const front = await frontend();
    await front.client.nodeLeaseAcquire('mx1', { ttlMs: 60_000 });
    const peer = poolQueueRest(front.url, 'mx1');

    expect(await exitOf(peer)).toBe(1);
    const line = fatalLine(peer);
    expect(line).toMatch(/^cannot start: node mx1 holds a live lease at .* for \d+ s more/);
    expect(line).toMatch(/Node names must be unique: set node in the configuration file /);
    // The lease of the other process is left alone.
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'live']]);
  });

  it('refuses an unreachable frontend', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const peer = poolQueueRest(url, 'mx1', { retryBudgetMs: 0 });

    expect(await exitOf(peer)).toBe(1);
    expect(fatalLine(peer)).toContain(
      `cannot start: pool mode needs a node lease, but the frontend at ${url} did not ` +
        'respond to GET /v1',
    );
  });

  it('acquires the lease and sends node headers', async () => {
    const front = await frontend();
    const proxy = await FaultProxy.start(front.url, { idleTimeoutMs: 60_000 });
    running.push(proxy);
    const peer = poolQueueRest(proxy.url, 'mx1');
    await init(peer);

    const started = await peer.waitForLog((record) => record.msg.includes('started in pool mode'));
    const leaseId = started.leaseId as string;
    expect(started.node).toBe('mx1');
    expect(leaseId).toMatch(/^[0-9a-f]{32}$/);
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'live']]);

    expect(await walkToEnd(peer)).toEqual([]);
    const accepted = await acceptMessage(peer, ['alice'], writeBody(Buffer.from('body\r\n')));
    expect(accepted.commit).toBe(1);
    expect(await ownerOf(front, accepted.msgid as Msgid)).toBe('mx1');

    // Every request of smtpd's calls acts for the node; the lease routes name it in the path.
    const queueRequests = proxy.requests.filter(
      (request) => request.path !== '/v1' && !request.path.startsWith('/v1/nodes/'),
    );
    expect(queueRequests.map((request) => request.path.split('?')[0])).toEqual([
      '/v1/walk',
      `/v1/messages/${accepted.msgid}/bundle`,
    ]);
    for (const request of queueRequests) {
      expect(request.node, request.path).toBe('mx1');
      expect(request.lease, request.path).toBe(leaseId);
    }
    const leaseRequests = proxy.requests.filter(
      (request) => request.path === '/v1/nodes/mx1/lease',
    );
    expect(leaseRequests.map((request) => request.method)).toEqual(['PUT']);
  });
});

describe('queue-rest pool mode with smtpd', () => {
  it('walks only the messages the node owns', async () => {
    const front = await frontend();
    const other = await actAs(front, 'mx2');
    const theirs = await seedMessage(other, 1);
    const mine = await seedMessage(await actAs(front, 'mx1'), 2);
    await front.client.nodeLeaseRelease('mx1');

    const peer = poolQueueRest(front.url, 'mx1');
    await init(peer);

    expect(await walkToEnd(peer)).toEqual(mine.evpids);
    expect(await ownerOf(front, theirs.msgid)).toBe('mx2');
  });

  it('fails calls on another node’s message at once', async () => {
    const front = await frontend();
    const other = await actAs(front, 'mx2');
    const { msgid, evpids } = await seedMessage(other, 1);
    const evpid = evpids[0]!;
    const peer = poolQueueRest(front.url, 'mx1', {
      retryBudgetMs: 30_000,
      bounceRetryBudgetMs: 60_000,
    });
    await init(peer);

    const body = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(msgid));
    expect(body.fd).toBeUndefined();
    const load = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(evpid));
    expect(load.data.length).toBe(0);
    const update = await peer.call(
      TYPE.ENVELOPE_UPDATE,
      Buffer.concat([evpidBytes(evpid), envelopeText('changed')]),
    );
    expect(result(update)).toBe(0);
    const bounce = await peer.call(
      TYPE.ENVELOPE_CREATE,
      Buffer.concat([msgidBytes(msgid), envelopeText('bounce')]),
    );
    expect(result(bounce)).toBe(0);
    const deleted = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(evpid));
    expect(result(deleted)).toBe(0);

    // Nothing changed in the store.
    expect((await front.client.envelopeGet(evpid)).data).toEqual(envelopeText('r0'));
    const walk = await front.client.messageWalk(msgid);
    expect(walk.envelopes.map((envelope) => envelope.evpid)).toEqual([evpid]);

    // One warning for the message, with its owner; no retries and no background delete.
    const refusals = logsWith(peer, 'another node owns the message');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.msgid).toBe(msgid);
    expect(refusals[0]!.owner).toBe('mx2');
    expect(refusals[0]!.level).toBe('warn');
    peer.endOfFile();
    expect(await exitOf(peer)).toBe(0);
    const counters = peer.logs.filter((record) => record.msg === 'counters').at(-1)!;
    expect(counters.retries).toBe(0);
    expect((counters.pendingDeletes as { queued: number }).queued).toBe(0);
    expect(counters.failures).toMatchObject({
      MESSAGE_FD_R: 1,
      ENVELOPE_LOAD: 1,
      ENVELOPE_UPDATE: 1,
      ENVELOPE_CREATE: 1,
      ENVELOPE_DELETE: 1,
    });
  });

  it('acquires a new lease after losing it', async () => {
    const front = await frontend();
    const peer = poolQueueRest(front.url, 'mx1', { leaseTtlMs: 60_000, leaseRenewMs: 30_000 });
    await init(peer);
    const started = await peer.waitForLog((record) => record.msg.includes('started in pool mode'));
    await walkToEnd(peer);
    const body = writeBody(Buffer.from('body\r\n'));

    // An operator releases the lease; the next call finds it lost.
    await front.client.nodeLeaseRelease('mx1');
    const refused = await acceptMessage(peer, ['alice'], body);
    expect(refused.commit).toBe(0);
    await expect(front.client.messageInfo(refused.msgid as Msgid)).rejects.toBeInstanceOf(
      QueueError,
    );

    const acquired = await peer.waitForLog((record) => record.msg === 'node lease acquired');
    expect(acquired.leaseId).toMatch(/^[0-9a-f]{32}$/);
    expect(acquired.leaseId).not.toBe(started.leaseId);
    expect(logsWith(peer, 'node lease lost')).toHaveLength(1);

    const accepted = await acceptMessage(peer, ['bob'], body);
    expect(accepted.commit).toBe(1);
    expect(await ownerOf(front, accepted.msgid as Msgid)).toBe('mx1');
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'live']]);
  });

  it('drops a pending delete another node owns', async () => {
    const front = await frontend();
    const peer = poolQueueRest(front.url, 'mx1', { leaseTtlMs: 60_000, leaseRenewMs: 30_000 });
    await init(peer);
    await walkToEnd(peer);
    const accepted = await acceptMessage(peer, ['alice'], writeBody(Buffer.from('body\r\n')));
    expect(accepted.commit).toBe(1);
    const evpid = accepted.evpids[0]!;

    // mx2 takes the message over while mx1's lease is released.
    await front.client.nodeLeaseRelease('mx1');
    const mx2 = await actAs(front, 'mx2');
    await mx2.messageClaim(accepted.msgid as Msgid, { from: 'mx1' });

    // The delete fails with lease-lost and goes to the background retries; the retry, under
    // the new lease, finds the message owned by mx2 and gives up.
    const deleted = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(evpid));
    expect(result(deleted)).toBe(0);
    const dropped = await peer.waitForLog((record) =>
      record.msg.startsWith('pending envelope delete dropped'),
    );
    expect(dropped.evpid).toBe(evpid);
    expect(dropped.owner).toBe('mx2');

    expect((await front.client.envelopeGet(evpid)).data).toEqual(envelopeText('alice'));
    expect(await ownerOf(front, accepted.msgid as Msgid)).toBe('mx2');
    expect(logsWith(peer, 'the node lease was lost')).toHaveLength(1);
    peer.endOfFile();
    expect(await exitOf(peer)).toBe(0);
    const counters = peer.logs.filter((record) => record.msg === 'counters').at(-1)!;
    expect(counters.pendingDeletes).toMatchObject({ queued: 1, dropped: 1, waiting: 0 });
  });

  it('releases the lease when smtpd closes the socket', async () => {
    const front = await frontend();
    const peer = poolQueueRest(front.url, 'mx1');
    await init(peer);
    await peer.waitForLog((record) => record.msg.includes('started in pool mode'));

    peer.endOfFile();

    expect(await exitOf(peer)).toBe(0);
    const nodes = (await front.client.nodeList()).nodes;
    expect(nodes.map((node) => [node.node, node.state])).toEqual([['mx1', 'released']]);
  });
});

describe('queue-rest pool takeover', () => {
  it('discovers claimed envelopes one by one, never held ones', async () => {
    const front = await frontend();
    const smtpctl = fakeSmtpctl();

    // mx1 owns M1 before its queue-rest starts, so the walk hands smtpd both envelopes.
    const held = await seedMessage(await actAs(front, 'mx1'), 2);
    await front.client.nodeLeaseRelease('mx1');
    const peer = poolQueueRest(front.url, 'mx1', {
      leaseTtlMs: 60_000,
      leaseRenewMs: 30_000,
      takeoverIntervalMs: 100,
      smtpctl: smtpctl.path,
    });
    await init(peer);
    expect(await walkToEnd(peer)).toEqual(held.evpids);

    // mx2 takes M1 over while mx1's lease is released, then dies with M2 of its own.
    await front.client.nodeLeaseRelease('mx1');
    const mx2 = await actAs(front, 'mx2');
    await mx2.messageClaim(held.msgid, { from: 'mx1' });
    const taken = await seedMessage(mx2, 2);

    // mx1 finds its lease lost at its next call and acquires a new one.
    const load = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(held.evpids[0]!));
    expect(load.data.length).toBe(0);
    await peer.waitForLog((record) => record.msg === 'node lease acquired');
    await front.client.nodeLeaseRelease('mx2');

    // The takeover claims both messages and discovers the first envelope of M2 only.
    await waitFor(() => smtpctl.calls().length >= 1, 'the first discover');
    expect(await ownerOf(front, held.msgid)).toBe('mx1');
    expect(await ownerOf(front, taken.msgid)).toBe('mx1');
    expect(smtpctl.calls()).toEqual([`discover ${taken.evpids[0]}`]);

    // The next envelope of M2 waits until smtpd has deleted the first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtpctl.calls()).toEqual([`discover ${taken.evpids[0]}`]);
    const deleted = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(taken.evpids[0]!));
    expect(result(deleted)).toBe(1);

    await waitFor(() => smtpctl.calls().length >= 2, 'the second discover');
    expect(smtpctl.calls()).toEqual([`discover ${taken.evpids[0]}`, `discover ${taken.evpids[1]}`]);
    const claimedLogs = logsWith(peer, 'message claimed');
    expect(claimedLogs.map((record) => [record.msgid, record.from, record.toDiscover])).toEqual(
      expect.arrayContaining([
        [held.msgid, 'mx2', 0],
        [taken.msgid, 'mx2', 2],
      ]),
    );
  });
});
