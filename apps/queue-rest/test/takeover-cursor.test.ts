import { type Evpid, type Msgid, QueueClient } from '@smtpq/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SeenEvpids } from '../src/seen-evpids.js';
import { Takeover } from '../src/takeover.js';
import { type Frontend, startFrontend } from './frontend.js';

const logger = pino({ level: 'silent' });
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function nodeClient(front: Frontend, node: string): Promise<QueueClient> {
  const lease = await front.client.nodeLeaseAcquire(node, { ttlMs: 60_000 });
  const client = new QueueClient({
    url: front.url,
    retryBudgetMs: 0,
    node: { name: node, leaseId: lease.leaseId },
  });
  closers.push(() => client.close());
  return client;
}

async function storeMessages(client: QueueClient, first: number, count: number): Promise<Msgid[]> {
  const msgids: Msgid[] = [];
  for (let index = first; index < first + count; index++) {
    const msgid = index.toString(16).padStart(8, '0');
    await client.messageBundle(
      msgid,
      [{ evpid: `${msgid}00000001`, data: Buffer.from('rcpt') }],
      Buffer.from('body'),
    );
    msgids.push(msgid);
  }
  return msgids;
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('takeover list cursor', () => {
  it('claims messages past the pages of one round', async () => {
    const front = await startFrontend();
    closers.push(() => front.close());

    // 30 messages of a live node come first in msgid order, then 6 of a dead one. A round reads
    // 10 pages of 2 messages, so only a cursor kept across rounds reaches the dead node's mail.
    await storeMessages(await nodeClient(front, 'live'), 0x100, 30);
    const orphans = await storeMessages(await nodeClient(front, 'dead'), 0x200, 6);
    await front.client.nodeLeaseRelease('dead');

    const discovered: Evpid[] = [];
    const self = await nodeClient(front, 'self');
    const lease = { node: 'self', lease: {}, check: () => {} };
    const takeover = new Takeover({
      client: self,
      lease,
      seen: new SeenEvpids(true),
      walk: { ended: true },
      whenIdle: async () => {},
      discover: async (evpid) => {
        discovered.push(evpid);
        return { ok: true, text: 'discovered' };
      },
      logger,
      intervalMs: 20,
      claimBatch: 50,
      listPageMessages: 2,
    });
    takeover.start();
    closers.push(async () => takeover.stop());

    const owners = async () =>
      Promise.all(orphans.map(async (msgid) => (await front.client.messageInfo(msgid)).owner));
    await waitFor(async () => (await owners()).every((owner) => owner === 'self'), 'the claims');
    expect(await owners()).toEqual(orphans.map(() => 'self'));
    await waitFor(async () => discovered.length === orphans.length, 'the discovers');
    expect(discovered.sort()).toEqual(orphans.map((msgid) => `${msgid}00000001`));
  });
});
