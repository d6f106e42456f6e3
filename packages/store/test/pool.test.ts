import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import { createQueueStore, MemoryDriver, type QueueStore } from '../src/index.js';

const MSGID = '0000abcd';
const EVPID = '0000abcd00000001';
const TTL_MS = 30_000;
const GRACE_MS = 10_000;

function upload(bytes: Buffer) {
  return {
    source: (async function* () {
      yield bytes;
    })(),
    sha256: createHash('sha256').update(bytes).digest(),
    length: bytes.length,
  };
}

async function errorOf(promise: Promise<unknown>): Promise<QueueError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QueueError) return error;
    throw error;
  }
  throw new Error('expected a QueueError, the call succeeded');
}

/** Creates a queue store on a memory driver, with a clock that only the test moves. */
function poolStore(driver = new MemoryDriver()) {
  const clock = { now: 1_700_000_000_000 };
  const store = createQueueStore(driver, { now: () => clock.now, claimGraceMs: GRACE_MS });
  return { store, clock, driver };
}

async function nodeStore(store: QueueStore, name: string): Promise<QueueStore> {
  const lease = await store.nodeLeaseAcquire(name, { ttlMs: TTL_MS });
  return store.withNode({ name, leaseId: lease.leaseId });
}

async function committedMessage(store: QueueStore, msgid: string, envelopes: number) {
  await store.messageCreate({ msgid });
  for (let i = 1; i <= envelopes; i++) {
    await store.envelopeCreate(msgid, Buffer.from(`rcpt ${i}`), {
      evpid: msgid + i.toString(16).padStart(8, '0'),
    });
  }
  await store.bodyPut(msgid, upload(Buffer.from('Subject: pool\r\n\r\nbody\r\n')));
  await store.messageCommit(msgid);
}

async function walkAll(store: QueueStore): Promise<string[]> {
  const evpids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.walk({ cursor, limit: 100 });
    evpids.push(...page.envelopes.map((entry) => entry.evpid));
    if (page.end) return evpids;
    cursor = page.next ?? undefined;
  }
}

describe('pool leases', () => {
  it('acquire returns a lease timed by the store clock', async () => {
    const { store, clock } = poolStore();
    const lease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });

    expect(lease.node).toBe('mx1');
    expect(lease.leaseId).toMatch(/^[0-9a-f]{32}$/);
    expect(lease.ttlMs).toBe(TTL_MS);
    expect(lease.remainingMs).toBe(TTL_MS);
    expect(lease.expiresAt).toBe(new Date(clock.now + TTL_MS).toISOString());
  });

  it('second acquire of a live node fails with lease-held', async () => {
    const { store, clock } = poolStore();
    await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    clock.now += 1000;

    const error = await errorOf(store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS }));
    expect(error.code).toBe('lease-held');
    expect(error.status).toBe(409);
    expect(error.details).toEqual({ node: 'mx1', remainingMs: TTL_MS - 1000 });
  });

  it('two node names hold leases side by side', async () => {
    const { store } = poolStore();
    const first = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    const second = await store.nodeLeaseAcquire('mx2', { ttlMs: TTL_MS });

    expect(first.leaseId).not.toBe(second.leaseId);
    const { nodes } = await store.nodeList();
    expect(nodes.map((node) => [node.node, node.state])).toEqual([
      ['mx1', 'live'],
      ['mx2', 'live'],
    ]);
  });

  it('racing acquires of one name: exactly one wins', async () => {
    const { store } = poolStore();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS })),
    );

    const won = results.filter((result) => result.status === 'fulfilled');
    const codes = results
      .filter((result) => result.status === 'rejected')
      .map((result) => (result.reason as QueueError).code);
    expect(won).toHaveLength(1);
    expect(codes).toEqual(Array(7).fill('lease-held'));
  });

  it('acquire retried with its token returns the same lease', async () => {
    const { store } = poolStore();
    const first = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS, token: 'acquire-1' });
    const again = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS, token: 'acquire-1' });
    expect(again.leaseId).toBe(first.leaseId);

    const other = await errorOf(store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS, token: 'x' }));
    expect(other.code).toBe('lease-held');
  });

  it('expired lease is acquired again with a new id', async () => {
    const { store, clock } = poolStore();
    const first = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    clock.now += TTL_MS;

    const second = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    expect(second.leaseId).not.toBe(first.leaseId);
    const renew = await errorOf(store.nodeLeaseRenew('mx1', first.leaseId, { ttlMs: TTL_MS }));
    expect(renew.code).toBe('lease-lost');
  });

  it('renew extends the lease from now', async () => {
    const { store, clock } = poolStore();
    const lease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    clock.now += TTL_MS - 1;

    const renewed = await store.nodeLeaseRenew('mx1', lease.leaseId, { ttlMs: 5000 });
    expect(renewed.leaseId).toBe(lease.leaseId);
    expect(renewed.remainingMs).toBe(5000);
    expect(renewed.expiresAt).toBe(new Date(clock.now + 5000).toISOString());
  });

  it('renew after expiry fails with lease-lost', async () => {
    const { store, clock } = poolStore();
    const lease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    clock.now += TTL_MS;

    const error = await errorOf(store.nodeLeaseRenew('mx1', lease.leaseId, { ttlMs: TTL_MS }));
    expect(error.code).toBe('lease-lost');
    expect(error.details).toEqual({ node: 'mx1' });
  });

  it('renew with another lease id fails with lease-lost', async () => {
    const { store } = poolStore();
    await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    const error = await errorOf(store.nodeLeaseRenew('mx1', 'f'.repeat(32), { ttlMs: TTL_MS }));
    expect(error.code).toBe('lease-lost');
  });

  it('release makes the node claimable at once', async () => {
    const { store } = poolStore();
    const lease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    await store.nodeLeaseRelease('mx1', { leaseId: lease.leaseId });

    const { nodes } = await store.nodeList();
    expect(nodes).toEqual([
      expect.objectContaining({ node: 'mx1', state: 'released', remainingMs: 0, claimable: true }),
    ]);
    const renew = await errorOf(store.nodeLeaseRenew('mx1', lease.leaseId, { ttlMs: TTL_MS }));
    expect(renew.code).toBe('lease-lost');
  });

  it('release of an absent or released lease succeeds', async () => {
    const { store } = poolStore();
    await store.nodeLeaseRelease('mx9');
    const lease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    await store.nodeLeaseRelease('mx1');
    await store.nodeLeaseRelease('mx1', { leaseId: lease.leaseId });
  });

  it('release with a stale lease id fails with lease-lost', async () => {
    const { store } = poolStore();
    await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
    const error = await errorOf(store.nodeLeaseRelease('mx1', { leaseId: 'a'.repeat(32) }));
    expect(error.code).toBe('lease-lost');

    const { nodes } = await store.nodeList();
    expect(nodes[0]?.state).toBe('live');
  });

  it('expired lease is claimable only after the grace', async () => {
    const { store, clock } = poolStore();
    await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });

    clock.now += TTL_MS;
    let [node] = (await store.nodeList()).nodes;
    expect(node).toMatchObject({ state: 'expired', remainingMs: 0, claimable: false });

    clock.now += GRACE_MS;
    [node] = (await store.nodeList()).nodes;
    expect(node).toMatchObject({ state: 'expired', claimable: true });
  });

  it('invalid node names and ttls are rejected', async () => {
    const { store } = poolStore();
    for (const name of ['', 'MX1', '-mx', 'mx/1', 'a'.repeat(64)]) {
      const error = await errorOf(store.nodeLeaseAcquire(name, { ttlMs: TTL_MS }));
      expect(error.code, name).toBe('invalid-node-name');
    }
    for (const ttlMs of [999, 600_001, 1.5, Number.NaN]) {
      const error = await errorOf(store.nodeLeaseAcquire('mx1', { ttlMs }));
      expect(error.code, String(ttlMs)).toBe('invalid-request');
    }
    expect((await store.nodeList()).nodes).toEqual([]);
  });
});

describe('pool node context', () => {
  it('messages created with node context are owned by the node', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, MSGID, 1);
    await store.messageCreate({ msgid: '0000abce' });

    expect((await mx1.messageInfo(MSGID)).owner).toBe('mx1');
    expect((await store.messageInfo(MSGID)).owner).toBe('mx1');
    expect((await store.messageInfo('0000abce')).owner).toBeNull();
  });

  it('record without owner reads as unowned', async () => {
    const driver = new MemoryDriver();
    const { store } = poolStore(driver);
    const old = { v: 1, state: 'open', createdAt: 1, token: null, generation: null, body: null };
    await driver.create(`msg/${MSGID}`, Buffer.from(JSON.stringify(old)));

    expect((await store.messageInfo(MSGID)).owner).toBeNull();
  });

  it('bundle records the owner', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const body = Buffer.from('body');
    await mx1.messageBundle(MSGID, [{ evpid: EVPID, data: Buffer.from('e') }], upload(body));

    expect((await store.messageInfo(MSGID)).owner).toBe('mx1');
    expect(await walkAll(mx1)).toEqual([EVPID]);
  });

  it('walk shows only the messages of the node', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const mx2 = await nodeStore(store, 'mx2');
    await committedMessage(mx1, '00000001', 2);
    await committedMessage(mx2, '00000002', 1);
    await committedMessage(store, '00000003', 1);

    expect(await walkAll(mx1)).toEqual(['0000000100000001', '0000000100000002']);
    expect(await walkAll(mx2)).toEqual(['0000000200000001']);
    expect(await walkAll(store)).toHaveLength(4);
  });

  it('message list filters by owner', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, '00000001', 1);
    await committedMessage(store, '00000002', 1);

    const owned = await store.messageList({ owner: 'mx1' });
    expect(owned.messages.map((m) => m.msgid)).toEqual(['00000001']);
    const unowned = await store.messageList({ owner: null });
    expect(unowned.messages.map((m) => m.msgid)).toEqual(['00000002']);
    const all = await mx1.messageList({});
    expect(all.messages.map((m) => m.owner)).toEqual(['mx1', null]);
  });

  it('calls on another node’s message fail with not-owner', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const mx2 = await nodeStore(store, 'mx2');
    await committedMessage(mx1, MSGID, 1);
    const before = await store.envelopeGet(EVPID);

    const calls: Array<[string, () => Promise<unknown>]> = [
      ['messageInfo', () => mx2.messageInfo(MSGID)],
      ['messageWalk', () => mx2.messageWalk(MSGID, {})],
      ['bodyGet', () => mx2.bodyGet(MSGID)],
      ['envelopeGet', () => mx2.envelopeGet(EVPID)],
      ['envelopeUpdate', () => mx2.envelopeUpdate(EVPID, Buffer.from('changed'))],
      ['envelopeDelete', () => mx2.envelopeDelete(EVPID)],
      ['envelopeCreate', () => mx2.envelopeCreate(MSGID, Buffer.from('bounce'))],
      ['messageCommit', () => mx2.messageCommit(MSGID)],
      ['messageDelete', () => mx2.messageDelete(MSGID)],
    ];
    for (const [name, call] of calls) {
      const error = await errorOf(call());
      expect(error.code, name).toBe('not-owner');
      expect(error.details, name).toEqual({ msgid: MSGID, owner: 'mx1' });
    }

    const after = await store.envelopeGet(EVPID);
    expect(after.etag).toBe(before.etag);
    expect(after.data.toString()).toBe('rcpt 1');
    expect(await walkAll(store)).toEqual([EVPID]);
  });

  it('unowned messages need a claim first', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(store, MSGID, 1);

    const error = await errorOf(mx1.envelopeGet(EVPID));
    expect(error.code).toBe('not-owner');
    expect(error.details).toEqual({ msgid: MSGID, owner: null });
  });

  it('missing message stays not found with node context', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    expect((await errorOf(mx1.messageInfo(MSGID))).code).toBe('message-not-found');
    expect((await errorOf(mx1.envelopeGet(EVPID))).code).toBe('envelope-not-found');
  });

  it('fenced node is rejected with lease-lost and changes nothing', async () => {
    const { store, clock } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, MSGID, 1);
    clock.now += TTL_MS;

    const calls: Array<[string, () => Promise<unknown>]> = [
      ['walk', () => mx1.walk({})],
      ['envelopeUpdate', () => mx1.envelopeUpdate(EVPID, Buffer.from('changed'))],
      ['envelopeDelete', () => mx1.envelopeDelete(EVPID)],
      ['envelopeCreate', () => mx1.envelopeCreate(MSGID, Buffer.from('bounce'))],
      ['bodyGet', () => mx1.bodyGet(MSGID)],
      ['messageCreate', () => mx1.messageCreate({ msgid: '0000abce' })],
    ];
    for (const [name, call] of calls) {
      const error = await errorOf(call());
      expect(error.code, name).toBe('lease-lost');
      expect(error.details, name).toEqual({ node: 'mx1' });
    }

    expect(await walkAll(store)).toEqual([EVPID]);
    expect((await store.envelopeGet(EVPID)).data.toString()).toBe('rcpt 1');
    expect((await errorOf(store.messageInfo('0000abce'))).code).toBe('message-not-found');
  });

  it('node context with a malformed lease id is rejected', () => {
    const { store } = poolStore();
    expect(() => store.withNode({ name: 'mx1', leaseId: 'nope' })).toThrowError(
      expect.objectContaining({ code: 'invalid-node-header' }),
    );
    expect(() => store.withNode({ name: 'MX', leaseId: 'a'.repeat(32) })).toThrowError(
      expect.objectContaining({ code: 'invalid-node-name' }),
    );
  });
});

describe('pool claims', () => {
  it('claim of an unowned message returns its evpids', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(store, MSGID, 2);

    const claimed = await mx1.messageClaim(MSGID, { from: null });
    expect(claimed).toEqual({
      msgid: MSGID,
      owner: 'mx1',
      evpids: ['0000abcd00000001', '0000abcd00000002'],
    });
    expect(await walkAll(mx1)).toEqual(claimed.evpids);
  });

  it('claim from a live node fails with lease-live', async () => {
    const { store, clock } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, MSGID, 1);
    clock.now += TTL_MS;
    const mx2 = await nodeStore(store, 'mx2');

    const error = await errorOf(mx2.messageClaim(MSGID, { from: 'mx1' }));
    expect(error.code).toBe('lease-live');
    expect(error.details).toEqual({ msgid: MSGID, node: 'mx1', remainingMs: GRACE_MS });
    expect((await store.messageInfo(MSGID)).owner).toBe('mx1');
  });

  it('claim after expiry and grace moves the message', async () => {
    const { store, clock } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, MSGID, 1);
    clock.now += TTL_MS + GRACE_MS;
    const mx2 = await nodeStore(store, 'mx2');

    const claimed = await mx2.messageClaim(MSGID, { from: 'mx1' });
    expect(claimed).toEqual({ msgid: MSGID, owner: 'mx2', evpids: [EVPID] });
    expect(await walkAll(mx2)).toEqual([EVPID]);
  });

  it('claim from a released node needs no wait', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const mx2 = await nodeStore(store, 'mx2');
    await committedMessage(mx1, MSGID, 1);
    await store.nodeLeaseRelease('mx1');

    expect((await mx2.messageClaim(MSGID, { from: 'mx1' })).owner).toBe('mx2');
  });

  it('claim with a stale owner fails with claim-lost', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const mx2 = await nodeStore(store, 'mx2');
    await committedMessage(mx1, MSGID, 1);

    const error = await errorOf(mx2.messageClaim(MSGID, { from: null }));
    expect(error.code).toBe('claim-lost');
    expect(error.details).toEqual({ msgid: MSGID, owner: 'mx1' });
  });

  it('claim repeated by the winner succeeds', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(store, MSGID, 1);

    await mx1.messageClaim(MSGID, { from: null });
    expect(await mx1.messageClaim(MSGID, { from: null })).toEqual({
      msgid: MSGID,
      owner: 'mx1',
      evpids: [EVPID],
    });
  });

  it('claim of an open message fails with message-open', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await store.messageCreate({ msgid: MSGID });

    expect((await errorOf(mx1.messageClaim(MSGID, { from: null }))).code).toBe('message-open');
    expect((await store.messageInfo(MSGID)).owner).toBeNull();
  });

  it('claim without node context is rejected', async () => {
    const { store } = poolStore();
    await committedMessage(store, MSGID, 1);
    const error = await errorOf(store.messageClaim(MSGID, { from: null }));
    expect(error.code).toBe('invalid-node-header');
  });

  it('racing claims: exactly one node wins each round', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    const mx2 = await nodeStore(store, 'mx2');

    for (let round = 1; round <= 10; round++) {
      const msgid = round.toString(16).padStart(8, '0');
      await committedMessage(store, msgid, 1);
      const results = await Promise.allSettled([
        mx1.messageClaim(msgid, { from: null }),
        mx2.messageClaim(msgid, { from: null }),
      ]);

      const winners = results.filter((result) => result.status === 'fulfilled');
      const losers = results.filter((result) => result.status === 'rejected');
      expect(winners, `round ${round}`).toHaveLength(1);
      const loser = losers[0] as PromiseRejectedResult;
      expect((loser.reason as QueueError).code, `round ${round}`).toBe('claim-lost');
      const owner = (await store.messageInfo(msgid)).owner;
      expect(owner).toBe(winners[0]?.status === 'fulfilled' ? winners[0].value.owner : null);
    }
  });

  it('envelope created during a claim is removed', async () => {
    const driver = new MemoryDriver();
    const { store, clock } = poolStore(driver);
    const mx1 = await nodeStore(store, 'mx1');
    await committedMessage(mx1, MSGID, 1);

    // mx1 passed its lease and owner checks; before its envelope write lands, its lease
    // expires and mx2 claims the message.
    const create = driver.create.bind(driver);
    let claimed = false;
    driver.create = async (key, data) => {
      if (key.startsWith('env/') && !claimed) {
        claimed = true;
        clock.now += TTL_MS + GRACE_MS;
        const mx2 = await nodeStore(store, 'mx2');
        await mx2.messageClaim(MSGID, { from: 'mx1' });
      }
      return create(key, data);
    };

    const error = await errorOf(mx1.envelopeCreate(MSGID, Buffer.from('bounce')));
    expect(error.code).toBe('not-owner');
    expect(error.details).toEqual({ msgid: MSGID, owner: 'mx2' });
    expect(await walkAll(store)).toEqual([EVPID]);
  });
});

describe('pool node list', () => {
  it('counts messages and envelopes per owner', async () => {
    const { store } = poolStore();
    const mx1 = await nodeStore(store, 'mx1');
    await nodeStore(store, 'mx2');
    await committedMessage(mx1, '00000001', 2);
    await committedMessage(mx1, '00000002', 1);
    await committedMessage(store, '00000003', 3);

    const list = await store.nodeList({ counts: true });
    expect(
      list.nodes.map(({ node, messages, envelopes }) => ({ node, messages, envelopes })),
    ).toEqual([
      { node: 'mx1', messages: 2, envelopes: 3 },
      { node: 'mx2', messages: 0, envelopes: 0 },
    ]);
    expect(list.unowned).toEqual({ messages: 1, envelopes: 3 });
  });

  it('list without counts has no counts', async () => {
    const { store } = poolStore();
    await nodeStore(store, 'mx1');
    const list = await store.nodeList();
    expect(list.unowned).toBeUndefined();
    expect(list.nodes[0]).not.toHaveProperty('messages');
  });
});
