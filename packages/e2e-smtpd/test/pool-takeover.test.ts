import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@smtpq/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  fsStoreProvider,
  prepareRestCases,
  testIdOf,
  testMessage,
  waitStoreEmpty,
} from '../src/cases/context.js';
import { type Frontend, startFrontend } from '../src/frontend.js';
import { type PoolNode, poolFrontendArgs, startPoolNode } from '../src/pool.js';
import { messageOwners, queuedEvpids, relayedCopies } from '../src/pool-observe.js';
import { stopAllStarted } from '../src/processes.js';
import { type SmtpSink, startSink } from '../src/sink.js';
import { type SmtpTransaction, sendSession } from '../src/smtp-client.js';
import { relayDomain } from '../src/smtpd-config.js';
import { runSmtpq } from '../src/smtpq-command.js';
import { waitFor } from '../src/wait.js';

// Three MX nodes share one frontend in pool mode. A node that dies, or that loses its path to
// the frontend for longer than its lease, has its mail claimed by the others and delivered by
// them, once. Lease timing is scaled down from the defaults (see testPoolTiming).

const POOL = [
  { name: 'mx-a', address: '127.0.0.2' },
  { name: 'mx-b', address: '127.0.0.3' },
  { name: 'mx-c', address: '127.0.0.4' },
] as const;

/** Messages spread over the three nodes; every tenth has a second recipient. */
const MESSAGE_COUNT = 300;
const SESSIONS_PER_NODE = 3;

/** Time for a wrongly repeated delivery to show up before the counts are checked. */
const SETTLE_MS = 3_000;

/** Pause between two `smtpctl schedule all` while the test waits for deliveries. */
const SCHEDULE_INTERVAL_MS = 4_000;

/** Time for a takeover: lease expiry, claim grace, claim rounds and one discover per envelope. */
const TAKEOVER_TIMEOUT_MS = 90_000;

interface SentMessage {
  testId: string;
  recipients: string[];
  msgid: string;
  /** Name of the node that accepted it. */
  node: string;
}

/** Starts the three nodes on `frontendUrl` and waits until each holds a lease and has walked. */
async function startPool(frontendUrl: string, sink: SmtpSink): Promise<PoolNode[]> {
  const nodes: PoolNode[] = [];
  for (const { name, address } of POOL) {
    nodes.push(await startPoolNode({ name, address, frontendUrl, sink }));
  }
  for (const node of nodes) {
    await node.smtpd.waitForLog(/"msg":"walk finished"/, 60_000);
  }
  await waitNodesLive(
    frontendUrl,
    POOL.map(({ name }) => name),
  );
  return nodes;
}

async function waitNodesLive(frontendUrl: string, names: string[]): Promise<void> {
  const client = new QueueClient({ url: frontendUrl });
  try {
    await waitFor(`nodes ${names.join(', ')} to hold live leases`, async () => {
      const { nodes } = await client.nodeList();
      return names.every((name) =>
        nodes.some((entry) => entry.node === name && entry.state === 'live'),
      );
    });
  } finally {
    await client.close();
  }
}

/**
 * Sends `count` messages to relay.test, message i to node i mod n, over a few sessions per
 * node at once, and returns what each node accepted. Every message must be accepted.
 */
async function sendSpread(nodes: PoolNode[], prefix: string, count: number) {
  const planned = Array.from({ length: count }, (_, index) => {
    const testId = `${prefix}-${index}`;
    const recipients = [`${testId}@${relayDomain}`];
    if (index % 10 === 0) {
      recipients.push(`${testId}-second@${relayDomain}`);
    }
    return { testId, recipients, node: nodes[index % nodes.length]! };
  });

  const sessions = nodes.flatMap((node) => {
    const mine = planned.filter((message) => message.node === node);
    return Array.from({ length: SESSIONS_PER_NODE }, (_, session) =>
      mine.filter((_, index) => index % SESSIONS_PER_NODE === session),
    );
  });
  const results = await Promise.all(
    sessions.map(async (messages) => {
      const node = messages[0]!.node;
      const transactions: SmtpTransaction[] = messages.map((message) => ({
        from: 'alice@sender.test',
        to: message.recipients,
        data: testMessage(message.testId, { to: message.recipients }),
      }));
      const replies = await sendSession(node.smtpd.port, transactions, node.address);
      return replies.map((reply, index) => ({ message: messages[index]!, reply }));
    }),
  );

  const sent: SentMessage[] = [];
  const rejected: string[] = [];
  for (const { message, reply } of results.flat()) {
    if (reply.msgid === undefined || !reply.accepted) {
      rejected.push(`${message.testId} on ${message.node.name}: ${reply.reply.text}`);
      continue;
    }
    sent.push({
      testId: message.testId,
      recipients: message.recipients,
      msgid: reply.msgid,
      node: message.node.name,
    });
  }
  return { sent, rejected };
}

/** Counts the relayed copies of each `testId/recipient` of `sent`, and the copies of others. */
function tallyCopies(sink: SmtpSink, sent: SentMessage[]) {
  const expected = new Set(sent.flatMap((m) => m.recipients.map((r) => `${m.testId}/${r}`)));
  const copies = relayedCopies(sink.messages, testIdOf).filter((copy) => expected.has(copy.key));
  const counts = new Map<string, number>();
  for (const copy of copies) {
    counts.set(copy.key, (counts.get(copy.key) ?? 0) + 1);
  }
  const missing = [...expected].filter((key) => !counts.has(key));
  const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
  return { expected, copies, counts, missing, duplicates };
}

/**
 * Waits until every recipient of `sent` has at least one copy at the sink, and runs
 * `smtpctl schedule all` on `nodes` every few seconds meanwhile. One run is not enough: smtpd
 * puts envelopes on hold while a relay has many in progress, and when that relay rejected all
 * mail it puts them back with its retry delay (minutes), so they need another schedule.
 */
async function waitAllRelayed(
  sink: SmtpSink,
  sent: SentMessage[],
  nodes: PoolNode[],
): Promise<void> {
  let lastSchedule = 0;
  await waitFor(
    `the sink to receive every recipient's copy of ${sent.length} messages`,
    async () => {
      if (tallyCopies(sink, sent).missing.length === 0) {
        return true;
      }
      if (Date.now() - lastSchedule >= SCHEDULE_INTERVAL_MS) {
        lastSchedule = Date.now();
        await scheduleAll(nodes);
      }
      return false;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}

async function scheduleAll(nodes: PoolNode[]): Promise<void> {
  for (const node of nodes) {
    const result = await node.smtpd.smtpctl(['schedule', 'all']);
    expect(result.code, `${node.name}: ${result.stderr}`).toBe(0);
  }
}

/**
 * Waits until every message of `msgids` belongs to one of `survivors` and their smtpd hold an
 * envelope of each, then checks that no message is held by two nodes and that each node holds
 * only envelopes of messages it owns. smtpd takes the next envelope of a message only after
 * the one before has left its queue, so one envelope per message is all a takeover hands over
 * while the relay refuses.
 */
async function waitTakeover(
  frontend: Frontend,
  msgids: string[],
  survivors: PoolNode[],
): Promise<void> {
  const names = survivors.map((node) => node.name);
  await waitFor(
    `${names.join(' and ')} to claim ${msgids.length} messages`,
    async () => {
      const owners = await messageOwners(frontend.url);
      return msgids.every((msgid) => names.includes(owners.get(msgid) ?? ''));
    },
    { timeoutMs: TAKEOVER_TIMEOUT_MS, intervalMs: 500 },
  );

  let queued: string[][] = [];
  await waitFor(
    `${names.join(' and ')} to discover an envelope of each of ${msgids.length} messages`,
    async () => {
      queued = await Promise.all(survivors.map((node) => queuedEvpids(node.smtpd)));
      const queuedMsgids = new Set(queued.flat().map((evpid) => evpid.slice(0, 8)));
      return msgids.every((msgid) => queuedMsgids.has(msgid));
    },
    { timeoutMs: TAKEOVER_TIMEOUT_MS, intervalMs: 1_000 },
  );

  const owners = await messageOwners(frontend.url);
  const holder = new Map<string, string>();
  survivors.forEach((node, index) => {
    for (const evpid of queued[index]!) {
      const msgid = evpid.slice(0, 8);
      const other = holder.get(msgid);
      expect(other === undefined || other === node.name, `${msgid} held by ${other}`).toBe(true);
      holder.set(msgid, node.name);
      expect(owners.get(msgid), `owner of ${evpid} held by ${node.name}`).toBe(node.name);
    }
  });
}

describe('pool takeover (fs frontend, three smtpd)', () => {
  beforeAll(prepareRestCases, 600_000);
  afterEach(stopAllStarted);

  it('takes over a killed node once', async () => {
    const sink = await startSink({ refuse: true });
    const frontend = await startFrontend(await fsStoreProvider.createStore(), {
      extraArgs: poolFrontendArgs(),
    });
    const nodes = await startPool(frontend.url, sink);
    const [first, second, victim] = nodes as [PoolNode, PoolNode, PoolNode];

    const { sent, rejected } = await sendSpread(nodes, 'kill', MESSAGE_COUNT);
    expect(rejected, rejected.slice(0, 3).join('\n')).toEqual([]);
    expect(sent).toHaveLength(MESSAGE_COUNT);
    const victimMsgids = sent.filter((m) => m.node === victim.name).map((m) => m.msgid);
    const owners = await messageOwners(frontend.url);
    for (const message of sent) {
      expect(owners.get(message.msgid), `owner of ${message.testId}`).toBe(message.node);
    }
    await waitFor('the relay to reject a first attempt', () => sink.refusedRecipients > 0);

    // A crash of the victim's host: smtpd and queue-rest end at once, the lease stays live.
    await victim.smtpd.kill();
    await waitTakeover(frontend, victimMsgids, [first, second]);

    // What an operator sees with `smtpq pool`: the dead node's lease expired, it owns nothing.
    const pool = await runSmtpq(['pool', '--url', frontend.url, '--json']);
    expect(pool.code, pool.stderr).toBe(0);
    const listed = JSON.parse(pool.stdout) as {
      nodes: Array<{ node: string; state: string; claimable: boolean; messages: number }>;
      unowned: { messages: number };
    };
    const byName = new Map(listed.nodes.map((entry) => [entry.node, entry]));
    expect(byName.get(victim.name)?.state).toBe('expired');
    expect(byName.get(victim.name)?.claimable).toBe(true);
    expect(byName.get(victim.name)?.messages).toBe(0);
    expect(byName.get(first.name)?.state).toBe('live');
    expect(byName.get(second.name)?.state).toBe('live');
    const survivorMessages =
      (byName.get(first.name)?.messages ?? 0) + (byName.get(second.name)?.messages ?? 0);
    expect(survivorMessages).toBe(MESSAGE_COUNT);
    expect(listed.unowned.messages).toBe(0);

    // The node comes back under its name: it owns nothing of its old mail and walks nothing.
    const restarted = await startPoolNode({
      name: victim.name,
      address: victim.address,
      frontendUrl: frontend.url,
      sink,
      proxy: victim.proxy,
    });
    const walkLine = await restarted.smtpd.waitForLog(/"msg":"walk finished"/, 60_000);
    expect(walkLine).toMatch(/"walked":0[,}]/);
    expect(await queuedEvpids(restarted.smtpd)).toEqual([]);
    const client = new QueueClient({ url: frontend.url });
    try {
      const { nodes: afterRestart } = await client.nodeList({ counts: true });
      const entry = afterRestart.find((node) => node.node === victim.name);
      expect(entry?.state).toBe('live');
      expect(entry?.messages).toBe(0);
    } finally {
      await client.close();
    }

    sink.accept();
    await waitAllRelayed(sink, sent, [first, second, restarted]);
    await waitStoreEmpty(frontend.url, { timeoutMs: 60_000 });
    await sleep(SETTLE_MS);

    const tally = tallyCopies(sink, sent);
    console.info(
      `pool takeover after kill: ${tally.copies.length} copies of ${tally.expected.size} ` +
        `recipients, ${tally.duplicates} duplicates`,
    );
    expect(tally.missing).toEqual([]);
    expect(tally.duplicates).toBe(0);
    const fromVictim = tally.copies.filter((copy) => copy.from === victim.address);
    expect(fromVictim).toEqual([]);

    // New mail to the restarted node is its own again, and it delivers it.
    const fresh = await sendSpread([restarted], 'after-restart', 10);
    expect(fresh.rejected, fresh.rejected.slice(0, 3).join('\n')).toEqual([]);
    await waitAllRelayed(sink, fresh.sent, [restarted]);
    await waitStoreEmpty(frontend.url, { timeoutMs: 60_000 });
    await sleep(SETTLE_MS);
    const freshTally = tallyCopies(sink, fresh.sent);
    expect(freshTally.duplicates).toBe(0);
    expect(freshTally.copies.every((copy) => copy.from === victim.address)).toBe(true);
    for (const node of [first, second, restarted]) {
      expect(node.smtpd.isRunning(), `${node.name} runs`).toBe(true);
    }
  }, 300_000);

  it('fences a node cut off past its lease', async () => {
    const sink = await startSink({ refuse: true });
    const frontend = await startFrontend(await fsStoreProvider.createStore(), {
      extraArgs: poolFrontendArgs(),
    });
    const nodes = await startPool(frontend.url, sink);
    const [first, second, victim] = nodes as [PoolNode, PoolNode, PoolNode];

    const { sent, rejected } = await sendSpread(nodes, 'cut', MESSAGE_COUNT);
    expect(rejected, rejected.slice(0, 3).join('\n')).toEqual([]);
    const victimSent = sent.filter((m) => m.node === victim.name);
    const victimMsgids = victimSent.map((m) => m.msgid);
    await waitFor('the relay to reject a first attempt', () => sink.refusedRecipients > 0);

    // The victim runs on but reaches the frontend no more, for longer than its lease.
    victim.proxy.cut();
    await waitTakeover(frontend, victimMsgids, [first, second]);
    expect(victim.proxy.resetConnections).toBeGreaterThan(0);
    expect(victim.smtpd.isRunning()).toBe(true);

    // Back on the network, its queue-rest takes a new lease, but the old mail is no longer its.
    victim.proxy.restore();
    await victim.smtpd.waitForLog(/node lease lost/, 30_000);
    await waitNodesLive(
      frontend.url,
      POOL.map(({ name }) => name),
    );
    expect((await victim.smtpd.smtpctl(['schedule', 'all'])).code).toBe(0);
    await waitFor(
      "the victim's smtpd to fail on mail it no longer owns",
      () => victimMsgids.some((msgid) => notOwnerLogged(victim, msgid)),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    // smtpd cannot get the body, so it defers the envelope and delivers nothing.
    await victim.smtpd.waitForLog(/result="TempFail" stat="Could not get message fd"/);
    const owners = await messageOwners(frontend.url);
    for (const msgid of victimMsgids) {
      expect([first.name, second.name], `owner of ${msgid}`).toContain(owners.get(msgid));
    }

    sink.accept();
    await waitAllRelayed(sink, sent, [first, second, victim]);
    await waitStoreEmpty(frontend.url, { timeoutMs: 60_000 });
    // One more try by the victim, now that its old mail is delivered and gone from the store.
    await scheduleAll([victim]);
    await sleep(SETTLE_MS);

    const tally = tallyCopies(sink, sent);
    console.info(
      `pool takeover after cut-off: ${tally.copies.length} copies of ${tally.expected.size} ` +
        `recipients, ${tally.duplicates} duplicates`,
    );
    expect(tally.missing).toEqual([]);
    expect(tally.duplicates).toBe(0);
    const victimKeys = new Set(
      victimSent.flatMap((m) => m.recipients.map((r) => `${m.testId}/${r}`)),
    );
    const oldFromVictim = tally.copies.filter(
      (copy) => copy.from === victim.address && victimKeys.has(copy.key),
    );
    expect(oldFromVictim).toEqual([]);
    expect(victim.smtpd.isRunning()).toBe(true);

    // The reconnected node accepts and delivers new mail under its new lease.
    const fresh = await sendSpread([victim], 'after-cut', 10);
    expect(fresh.rejected, fresh.rejected.slice(0, 3).join('\n')).toEqual([]);
    await waitAllRelayed(sink, fresh.sent, [victim]);
    await sleep(SETTLE_MS);
    const freshTally = tallyCopies(sink, fresh.sent);
    expect(freshTally.duplicates).toBe(0);
    expect(freshTally.copies.every((copy) => copy.from === victim.address)).toBe(true);
  }, 300_000);
});

/** Returns whether queue-rest of `node` logged that another node owns message `msgid` now. */
function notOwnerLogged(node: PoolNode, msgid: string): boolean {
  return node.smtpd
    .log()
    .split('\n')
    .some((line) => line.includes(`"msgid":"${msgid}"`) && line.includes('another node owns'));
}
