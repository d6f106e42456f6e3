import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueError } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';
import { type Frontend, startFrontend } from './frontend.js';
import {
  acceptMessage,
  envelopeText,
  evpidOf,
  init,
  startQueueRest,
  writeBody,
} from './queue-calls.js';
import {
  closeDescriptor,
  evpidBytes,
  msgidBytes,
  result,
  type SmtpdPeer,
  TYPE,
} from './smtpd-peer.js';

// A request sent just as the frontend (or a proxy) closes an idle keep-alive connection fails
// with no response. queue-rest retries it, which is safe only because every request it sends
// is idempotent.

const KEEP_ALIVE_MS = 300;
const ROUNDS = 100;
const BODY = Buffer.from('Subject: keep-alive\r\n\r\nbody\r\n');

/** What the store should hold after the rounds: the envelopes of each live message. */
type Model = Map<string, Map<string, Buffer>>;

/** Checks a reply's `int r`: every operation of these cases must succeed. */
function expectOk(r: number, what: string): void {
  expect(r, what).toBe(1);
}

/**
 * Runs one queue operation of the mix. Each one sends exactly one HTTP request, because
 * queue-rest replies to the creates of a transaction from memory and commits with one bundle.
 */
async function operate(peer: SmtpdPeer, round: number, model: Model, bodyPath: string) {
  const live = [...model.keys()];
  const msgid = live[round % Math.max(live.length, 1)];
  const evpids = msgid === undefined ? [] : [...model.get(msgid)!.keys()];
  const step = live.length < 3 ? 0 : round % 7;

  switch (step) {
    case 0: {
      const accepted = await acceptMessage(peer, [`a${round}`, `b${round}`], bodyPath);
      expectOk(accepted.commit, `commit in round ${round}`);
      model.set(
        accepted.msgid,
        new Map(accepted.evpids.map((evpid, i) => [evpid, envelopeText(`${'ab'[i]}${round}`)])),
      );
      return;
    }
    case 1: {
      const reply = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(msgid!));
      expect(reply.fd, `body fd in round ${round}`).toBeDefined();
      closeDescriptor(reply.fd!);
      return;
    }
    case 2: {
      const reply = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(evpids[0]!));
      expect(reply.data, `load in round ${round}`).toEqual(model.get(msgid!)!.get(evpids[0]!));
      return;
    }
    case 3: {
      const data = envelopeText(`updated${round}`);
      const reply = await peer.call(
        TYPE.ENVELOPE_UPDATE,
        Buffer.concat([evpidBytes(evpids[0]!), data]),
      );
      expectOk(result(reply), `update in round ${round}`);
      model.get(msgid!)!.set(evpids[0]!, data);
      return;
    }
    case 4: {
      const data = envelopeText(`bounce${round}`);
      const reply = await peer.call(
        TYPE.ENVELOPE_CREATE,
        Buffer.concat([msgidBytes(msgid!), data]),
      );
      expectOk(result(reply), `bounce create in round ${round}`);
      model.get(msgid!)!.set(evpidOf(reply), data);
      return;
    }
    case 5: {
      const evpid = evpids[evpids.length - 1]!;
      const reply = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(evpid));
      expectOk(result(reply), `envelope delete in round ${round}`);
      model.get(msgid!)!.delete(evpid);
      if (model.get(msgid!)!.size === 0) model.delete(msgid!);
      return;
    }
    default: {
      const reply = await peer.call(TYPE.MESSAGE_DELETE, msgidBytes(msgid!));
      expectOk(result(reply), `message delete in round ${round}`);
      model.delete(msgid!);
    }
  }
}

async function expectStoreMatches(front: Frontend, model: Model): Promise<void> {
  const walked = new Map<string, Buffer>();
  for (let cursor: string | undefined, end = false; !end; ) {
    const page = await front.client.walk({ cursor, limit: 1000 });
    for (const entry of page.envelopes) walked.set(entry.evpid, entry.data);
    cursor = page.next ?? undefined;
    end = page.end;
  }
  const expected = new Map([...model.values()].flatMap((envelopes) => [...envelopes]));
  expect([...walked.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [evpid, data] of expected) expect(walked.get(evpid), evpid).toEqual(data);
}

/** Idles for the timeout ±20 ms before each operation, so requests meet closing connections. */
async function runRounds(peer: SmtpdPeer, idleMs: number, model: Model): Promise<void> {
  const bodyPath = writeBody(BODY);
  for (let round = 0; round < ROUNDS; round++) {
    await sleep(idleMs - 20 + Math.random() * 40);
    await operate(peer, round, model, bodyPath);
  }
}

function failureLines(peer: SmtpdPeer) {
  return peer.logs.filter((record) => / failed/.test(record.msg) && !/retrying/.test(record.msg));
}

describe('queue-rest across idle keep-alive connections', () => {
  // Field case FC-11, against the frontend itself.
  // Node's server sends its keep-alive timeout as a hint (`Keep-Alive: timeout=0` for 300 ms),
  // so undici opens a new connection per request, and this case checks that path.
  it.concurrent('100 mixed rounds at the frontend keep-alive timeout all succeed', async () => {
    const front = await startFrontend(0, undefined, { keepAliveTimeoutMs: KEEP_ALIVE_MS });
    const peer = startQueueRest('pre-7.7', { url: front.url });
    try {
      await init(peer);
      const model: Model = new Map();

      await runRounds(peer, KEEP_ALIVE_MS, model);

      expect(failureLines(peer)).toEqual([]);
      expect(peer.child.exitCode).toBeNull();
      await expectStoreMatches(front, model);
    } finally {
      await peer.stop();
      await front.close();
    }
  });

  // Field case FC-11, behind a proxy that closes idle connections earlier.
  it.concurrent('100 mixed rounds behind a proxy that cuts idle connections', async () => {
    const front = await startFrontend(0, undefined, { keepAliveTimeoutMs: KEEP_ALIVE_MS });
    const proxyIdleMs = KEEP_ALIVE_MS - 40;
    const proxy = await FaultProxy.start(front.url, {
      idleTimeoutMs: proxyIdleMs,
      raceWindowMs: 20,
    });
    const peer = startQueueRest('pre-7.7', { url: proxy.url });
    try {
      await init(peer);
      const model: Model = new Map();

      await runRounds(peer, proxyIdleMs, model);

      expect(failureLines(peer)).toEqual([]);
      expect(peer.child.exitCode).toBeNull();
      await expectStoreMatches(front, model);
      // The faults did happen: requests crossed the idle close, and idle connections were cut.
      expect(proxy.racedRequests).toBeGreaterThan(0);
      expect(proxy.connections).toBeGreaterThan(ROUNDS / 4);
    } finally {
      await peer.stop();
      await proxy.close();
      await front.close();
    }
  });
});

describe('every request queue-rest sends is idempotent', () => {
  // Field case FC-11: the retry after a lost response is safe only for idempotent requests.
  it('each request survives a response lost after the frontend acted', async () => {
    const front = await startFrontend();
    const proxy = await FaultProxy.start(front.url, { idleTimeoutMs: 5_000 });
    const peer = startQueueRest('7.7', { url: proxy.url, retryBudgetMs: 3_000 });
    // The first attempt of every request reaches the frontend, which acts on it. Then its
    // response is lost, and the retry must get the same outcome.
    const seen = new Set<string>();
    proxy.loseResponse = (request) => {
      const call = `${request.method} ${request.path}`;
      if (seen.has(call) || request.path.startsWith('/v1/walk')) return false;
      seen.add(call);
      return true;
    };

    try {
      await init(peer);
      const bodyPath = writeBody(BODY);

      const first = await acceptMessage(peer, ['x', 'y'], bodyPath);
      expectOk(first.commit, 'bundle commit');
      const info = await front.client.messageInfo(first.msgid);
      expect(info.state).toBe('committed');

      const fdReply = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(first.msgid));
      expect(fdReply.fd).toBeDefined();
      expect(readFileSync(`/proc/self/fd/${fdReply.fd}`)).toEqual(BODY);
      closeDescriptor(fdReply.fd!);

      const loaded = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(first.evpids[0]!));
      expect(loaded.data).toEqual(envelopeText('x'));

      const updated = envelopeText('x-deferred');
      const update = await peer.call(
        TYPE.ENVELOPE_UPDATE,
        Buffer.concat([evpidBytes(first.evpids[0]!), updated]),
      );
      expectOk(result(update), 'envelope update');
      expect((await front.client.envelopeGet(first.evpids[0]!)).data).toEqual(updated);

      const bounce = await peer.call(
        TYPE.ENVELOPE_CREATE,
        Buffer.concat([msgidBytes(first.msgid), envelopeText('bounce')]),
      );
      expectOk(result(bounce), 'bounce envelope create');
      expect((await front.client.envelopeGet(evpidOf(bounce))).data).toEqual(
        envelopeText('bounce'),
      );

      const deleted = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(first.evpids[1]!));
      expectOk(result(deleted), 'envelope delete');
      await expect(front.client.envelopeGet(first.evpids[1]!)).rejects.toBeInstanceOf(QueueError);

      const messageDeleted = await peer.call(TYPE.MESSAGE_DELETE, msgidBytes(first.msgid));
      expectOk(result(messageDeleted), 'message delete');
      await expect(front.client.messageInfo(first.msgid)).rejects.toMatchObject({ status: 404 });

      expect(failureLines(peer)).toEqual([]);
      const lost = proxy.requests.filter((request) => request.lost);
      expect(lost.map((request) => request.method).sort()).toEqual([
        'DELETE',
        'DELETE',
        'GET',
        'GET',
        'PUT',
        'PUT',
        'PUT',
      ]);
      // Each write that lost its response came again with the same Idempotency-Key.
      for (const request of lost.filter((item) => item.method !== 'GET')) {
        expect(request.idempotencyKey, `${request.method} ${request.path}`).toBeDefined();
        const repeats = proxy.requests.filter(
          (item) => item.path === request.path && item.method === request.method && !item.lost,
        );
        expect(repeats.map((item) => item.idempotencyKey)).toContain(request.idempotencyKey);
      }
    } finally {
      await peer.stop();
      await proxy.close();
      await front.close();
    }
  });
});
