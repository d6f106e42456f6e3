import { QueueClient, QueueError } from '@smtpq/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Counters } from '../src/counters.js';
import { createLogger } from '../src/log.js';
import { PendingDeletes } from '../src/pending-deletes.js';
import { type Frontend, startFrontend } from './frontend.js';
import { envelopeText, init, startQueueRest } from './queue-calls.js';
import { evpidBytes, type LogRecord, result, type SmtpdPeer, TYPE } from './smtpd-peer.js';

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

function queueRest(settings: Record<string, unknown>): SmtpdPeer {
  const peer = startQueueRest('pre-7.7', settings);
  running.push(peer);
  return peer;
}

async function seed(front: Frontend, msgid: string, count: number): Promise<string[]> {
  const evpids = Array.from({ length: count }, (_, index) => `${msgid}0000000${index + 1}`);
  await front.client.messageBundle(
    msgid,
    evpids.map((evpid) => ({ evpid, data: envelopeText(evpid) })),
    Buffer.from('Subject: pending deletes\r\n\r\nbody\r\n'),
  );
  return evpids;
}

async function statusOf(call: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    if (error instanceof QueueError) return error.status;
    throw error;
  }
}

function lastCounters(peer: SmtpdPeer): LogRecord {
  const records = peer.logs.filter((record) => record.msg === 'counters');
  expect(records.length).toBeGreaterThan(0);
  return records[records.length - 1]!;
}

describe('envelope deletes that fail after delivery', () => {
  it('failed delete is retried in the background', async () => {
    const front = await frontend();
    const [first, second] = await seed(front, 'a0000001', 2);
    const peer = queueRest({ url: front.url, retryBudgetMs: 200 });
    await init(peer);

    front.driver.failing = true;
    const reply = await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(first!));

    expect(result(reply)).toBe(0);
    const failure = await peer.waitForLog((record) => record.msg.startsWith('envelope delete'));
    expect(failure.msg).toBe('envelope delete failed; retrying it in the background');
    expect(failure.evpid).toBe(first);
    expect(failure.pendingDeletes).toBe(1);
    expect(failure.code).toBe('storage-unavailable');

    // A discover of the delivered envelope must not bring it back while its delete waits.
    const load = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(first!));
    expect(load.data.length).toBe(0);
    await peer.waitForLog(
      (record) => record.msg === 'envelope load rejected: the envelope was delivered already',
    );

    front.driver.failing = false;
    const done = await peer.waitForLog((record) => record.msg === 'pending envelope deletes done');
    expect(done.done).toBe(1);
    expect(done.pending).toBe(0);
    expect(await statusOf(front.client.envelopeGet(first!))).toBe(404);
    expect((await front.client.envelopeGet(second!)).data).toEqual(envelopeText(second!));
    expect(peer.child.exitCode).toBeNull();

    peer.endOfFile();
    expect(await peer.exited).toEqual({ code: 0, signal: null });
    expect(lastCounters(peer).pendingDeletes).toEqual({
      queued: 1,
      done: 1,
      dropped: 0,
      attempts: expect.any(Number),
      waiting: 0,
    });
    expect(peer.logs.some((record) => record.msg.startsWith('pending envelope deletes lost'))).toBe(
      false,
    );
  });

  it('smtpd gets its replies while a delete is pending', async () => {
    const front = await frontend();
    const [first, second] = await seed(front, 'a0000002', 2);
    const peer = queueRest({ url: front.url, retryBudgetMs: 200 });
    await init(peer);

    front.driver.failing = true;
    expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(first!)))).toBe(0);
    front.driver.failing = false;

    // The background pass runs later; this delete goes straight through meanwhile.
    expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(second!)))).toBe(1);
    expect(await statusOf(front.client.envelopeGet(second!))).toBe(404);
    expect((await front.client.envelopeGet(first!)).data).toEqual(envelopeText(first!));

    await peer.waitForLog((record) => record.msg === 'pending envelope deletes done');
    expect(await statusOf(front.client.messageInfo('a0000002'))).toBe(404);
  });

  it('end of file flushes pending deletes before exit', async () => {
    const front = await frontend();
    const [first] = await seed(front, 'a0000003', 1);
    const peer = queueRest({ url: front.url, retryBudgetMs: 200 });
    await init(peer);

    front.driver.failing = true;
    expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(first!)))).toBe(0);
    front.driver.failing = false;
    peer.endOfFile();

    expect(await peer.exited).toEqual({ code: 0, signal: null });
    expect(await statusOf(front.client.envelopeGet(first!))).toBe(404);
    expect(
      peer.logs.some((record) => record.msg === 'retrying pending envelope deletes before exit'),
    ).toBe(true);
    expect(lastCounters(peer).pendingDeletes).toMatchObject({ done: 1, waiting: 0 });
  });

  it('deletes still pending at exit are logged as lost', async () => {
    const front = await frontend();
    const [first] = await seed(front, 'a0000004', 1);
    const peer = queueRest({ url: front.url, retryBudgetMs: 200 });
    await init(peer);

    front.driver.failing = true;
    expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(first!)))).toBe(0);
    peer.endOfFile();

    expect(await peer.exited).toEqual({ code: 0, signal: null });
    const lost = peer.logs.find((record) => record.msg.startsWith('pending envelope deletes lost'));
    expect(lost?.level).toBe('error');
    expect(lost?.count).toBe(1);
    expect(lost?.evpids).toEqual([first]);
    expect(lastCounters(peer).pendingDeletes).toMatchObject({ queued: 1, done: 0, waiting: 1 });

    front.driver.failing = false;
    expect((await front.client.envelopeGet(first!)).data).toEqual(envelopeText(first!));
  });
});

describe('PendingDeletes', () => {
  it('drops the oldest delete when full', async () => {
    const lines: LogRecord[] = [];
    const logger = createLogger('info', {
      write: (line: string) => {
        lines.push(JSON.parse(line) as LogRecord);
      },
    });
    const counters = new Counters();
    // Nothing listens on port 9 of loopback: every pass fails at once.
    const client = new QueueClient({ url: 'http://127.0.0.1:9', retryBudgetMs: 0 });
    const deletes = new PendingDeletes({
      client,
      logger,
      counters,
      maxEntries: 2,
      retryIntervalMs: 60_000,
    });

    deletes.add('b000000100000001');
    deletes.add('b000000100000002');
    deletes.add('b000000100000002');
    deletes.add('b000000100000003');

    expect(deletes.size).toBe(2);
    expect(deletes.has('b000000100000001')).toBe(false);
    expect(deletes.has('b000000100000003')).toBe(true);
    const dropped = lines.find((line) => line.msg.startsWith('pending envelope delete dropped'));
    expect(dropped?.level).toBe('error');
    expect(dropped?.evpid).toBe('b000000100000001');
    expect(counters.summary().pendingDeletes).toEqual({
      queued: 3,
      done: 0,
      dropped: 1,
      attempts: 0,
      waiting: 2,
    });

    expect(await deletes.flush(500)).toEqual(['b000000100000002', 'b000000100000003']);
    await client.close();
  });
});
