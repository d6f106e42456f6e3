import { closeSync, fstatSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evpidMsgid, QueueError } from '@smtpq/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultyDriver, type Frontend, startFrontend } from './frontend.js';
import {
  closeDescriptor,
  evpidBytes,
  type Layout,
  type LogRecord,
  msgidBytes,
  type Reply,
  result,
  SmtpdPeer,
  TYPE,
  u32,
} from './smtpd-peer.js';

const dir = mkdtempSync(join(tmpdir(), 'queue-rest-test-'));
const LAYOUTS: Layout[] = ['pre-7.7', '7.7'];

const running: Array<{ stop(): Promise<void> } | { close(): Promise<void> }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) {
    if ('stop' in item) await item.stop();
    else await item.close();
  }
});

function envelope(text: string): Buffer {
  return Buffer.from(`version: 3\ntype: mta\nrcpt: ${text}@example.org\n`);
}

/** Writes a body file with every byte value, including bare CR, LF and NUL. */
function bodyFile(name: string, size: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

let configCount = 0;
function configPath(settings: Record<string, unknown>): string {
  configCount += 1;
  const path = join(dir, `config-${configCount}.json`);
  writeFileSync(path, JSON.stringify({ statsIntervalMs: 0, ...settings }));
  return path;
}

async function frontend(port = 0, driver = new FaultyDriver()): Promise<Frontend> {
  const started = await startFrontend(port, driver);
  running.push(started);
  return started;
}

function queueRest(layout: Layout, settings: Record<string, unknown>): SmtpdPeer {
  const peer = new SmtpdPeer(layout, [configPath({ imsgLayout: layout, ...settings })]);
  running.push(peer);
  return peer;
}

function msgidOf(reply: Reply): string {
  return reply.data.readUInt32LE(4).toString(16).padStart(8, '0');
}

function evpidOf(reply: Reply): string {
  return reply.data.readBigUInt64LE(4).toString(16).padStart(16, '0');
}

async function init(peer: SmtpdPeer): Promise<void> {
  const reply = await peer.call(TYPE.INIT, u32(2));
  expect(reply.type).toBe(TYPE.OK);
  expect(reply.data.length).toBe(0);
}

async function createMessage(peer: SmtpdPeer, recipients: string[]) {
  const created = await peer.call(TYPE.MESSAGE_CREATE);
  expect(result(created)).toBe(1);
  const msgid = msgidOf(created);

  const evpids: string[] = [];
  for (const recipient of recipients) {
    const reply = await peer.call(
      TYPE.ENVELOPE_CREATE,
      Buffer.concat([msgidBytes(msgid), envelope(recipient)]),
    );
    expect(result(reply)).toBe(1);
    evpids.push(evpidOf(reply));
  }
  return { msgid, evpids };
}

async function commit(peer: SmtpdPeer, msgid: string, path: string): Promise<Reply> {
  const fd = openSync(path, 'r');
  try {
    return await peer.call(TYPE.MESSAGE_COMMIT, msgidBytes(msgid), fd);
  } finally {
    closeSync(fd);
  }
}

/** Calls ENVELOPE_WALK until -1, pausing on "ask again" as smtpd does. */
async function walkAll(
  peer: SmtpdPeer,
): Promise<{ evpids: string[]; data: Buffer[]; again: number }> {
  const evpids: string[] = [];
  const data: Buffer[] = [];
  let again = 0;
  for (let calls = 0; calls < 20_000; calls++) {
    const reply = await peer.call(TYPE.ENVELOPE_WALK);
    const r = result(reply);
    if (r === -1) {
      expect(reply.data.length).toBe(4);
      return { evpids, data, again };
    }
    if (r === 0) {
      expect(reply.data.length).toBe(4);
      again += 1;
      await new Promise((resolve) => setTimeout(resolve, 4));
      continue;
    }
    expect(reply.data.length).toBe(12 + r);
    evpids.push(reply.data.readBigUInt64LE(4).toString(16).padStart(16, '0'));
    data.push(reply.data.subarray(12));
  }
  throw new Error('the walk did not end');
}

function readWhole(fd: number, size: number): Buffer {
  const bytes = Buffer.alloc(size + 1);
  let total = 0;
  for (;;) {
    const n = readSync(fd, bytes, total, bytes.length - total, null);
    if (n === 0) break;
    total += n;
  }
  return bytes.subarray(0, total);
}

/** Compares large buffers without a deep equality walk over every byte. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
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

async function seed(client: Frontend['client'], msgid: string, envelopes: Array<[string, Buffer]>) {
  await client.messageBundle(
    msgid,
    envelopes.map(([evpid, data]) => ({ evpid, data })),
    Buffer.from(`Subject: ${msgid}\r\n\r\nbody\r\n`),
  );
}

function counters(peer: SmtpdPeer): LogRecord {
  const records = peer.logs.filter((record) => record.msg === 'counters');
  expect(records.length).toBeGreaterThan(0);
  return records[records.length - 1]!;
}

describe('queue-rest with a scripted smtpd', () => {
  for (const layout of LAYOUTS) {
    it(`serves every request type (${layout})`, async () => {
      const front = await frontend();
      const peer = queueRest(layout, { url: front.url });
      const body = bodyFile(`body-${layout}`, 300_000);
      await init(peer);

      // Acceptance: nothing reaches the frontend before the commit.
      const { msgid, evpids } = await createMessage(peer, ['alice', 'bob']);
      expect(evpids.map(evpidMsgid)).toEqual([msgid, msgid]);
      expect(await statusOf(front.client.messageInfo(msgid))).toBe(404);

      const pendingLoad = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(evpids[0]!));
      expect(pendingLoad.data).toEqual(envelope('alice'));
      const pendingUpdate = await peer.call(
        TYPE.ENVELOPE_UPDATE,
        Buffer.concat([evpidBytes(evpids[1]!), envelope('bob-updated')]),
      );
      expect(result(pendingUpdate)).toBe(1);

      const committed = await commit(peer, msgid, body.path);
      expect(result(committed)).toBe(1);
      expect(committed.data.length).toBe(4);
      expect((await front.client.messageInfo(msgid)).state).toBe('committed');
      expect((await front.client.envelopeGet(evpids[0]!)).data).toEqual(envelope('alice'));
      expect((await front.client.envelopeGet(evpids[1]!)).data).toEqual(envelope('bob-updated'));

      // Delivery: each MESSAGE_FD_R gets its own readable, seekable fd at offset 0.
      const first = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(msgid));
      const second = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(msgid));
      expect(first.data.length).toBe(0);
      expect(first.fd).toBeDefined();
      expect(second.fd).toBeDefined();
      expect(fstatSync(first.fd!).size).toBe(body.bytes.length);
      expectSameBytes(readWhole(first.fd!, body.bytes.length), body.bytes);
      expectSameBytes(readWhole(second.fd!, body.bytes.length), body.bytes);
      const middle = Buffer.alloc(1000);
      expect(readSync(first.fd!, middle, 0, 1000, 123_456)).toBe(1000);
      expect(middle).toEqual(body.bytes.subarray(123_456, 124_456));
      closeDescriptor(first.fd!);
      closeDescriptor(second.fd!);

      const loaded = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes(evpids[0]!));
      expect(loaded.data).toEqual(envelope('alice'));
      const updated = await peer.call(
        TYPE.ENVELOPE_UPDATE,
        Buffer.concat([evpidBytes(evpids[0]!), envelope('alice-deferred')]),
      );
      expect(result(updated)).toBe(1);
      expect((await front.client.envelopeGet(evpids[0]!)).data).toEqual(envelope('alice-deferred'));

      // A bounce: an envelope of the committed message, written through.
      const bounce = await peer.call(
        TYPE.ENVELOPE_CREATE,
        Buffer.concat([msgidBytes(msgid), envelope('bounce')]),
      );
      expect(result(bounce)).toBe(1);
      const bounceEvpid = evpidOf(bounce);
      expect(evpidMsgid(bounceEvpid)).toBe(msgid);
      expect((await front.client.envelopeGet(bounceEvpid)).data).toEqual(envelope('bounce'));

      for (const evpid of [...evpids, bounceEvpid]) {
        expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(evpid)))).toBe(1);
      }
      expect(await statusOf(front.client.messageInfo(msgid))).toBe(404);

      // A rolled-back transaction never reaches the frontend.
      const rolledBack = await createMessage(peer, ['carol']);
      expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes(rolledBack.evpids[0]!)))).toBe(
        1,
      );
      expect(result(await peer.call(TYPE.MESSAGE_DELETE, msgidBytes(rolledBack.msgid)))).toBe(1);
      expect(await statusOf(front.client.messageInfo(rolledBack.msgid))).toBe(404);

      const third = await createMessage(peer, ['dave']);
      expect(result(await commit(peer, third.msgid, body.path))).toBe(1);
      expect(result(await peer.call(TYPE.MESSAGE_DELETE, msgidBytes(third.msgid)))).toBe(1);
      expect(await statusOf(front.client.messageInfo(third.msgid))).toBe(404);

      // Everything in the store was created by this process: the walk has nothing for smtpd.
      expect((await walkAll(peer)).evpids).toEqual([]);

      const closed = await peer.call(TYPE.CLOSE);
      expect(result(closed)).toBe(1);
      peer.endOfFile();
      expect(await peer.exited).toEqual({ code: 0, signal: null });

      const summary = counters(peer);
      expect(summary.acceptedMessages).toBe(2);
      expect(summary.waits).toMatchObject({
        MESSAGE_CREATE: 0,
        MESSAGE_COMMIT: 2,
        MESSAGE_FD_R: 1,
        ENVELOPE_CREATE: 1,
      });
      expect(summary.waitsPerAcceptedMessage).toBe(1);
      expect(summary.calls).toMatchObject({
        INIT: 1,
        CLOSE: 1,
        MESSAGE_CREATE: 3,
        MESSAGE_FD_R: 2,
      });
    });

    it(`reads several frames from one write and a split header (${layout})`, async () => {
      const front = await frontend();
      const peer = queueRest(layout, { url: front.url });
      const body = bodyFile(`split-${layout}`, 5000);

      peer.sendRaw(
        Buffer.concat([
          peer.frame(TYPE.INIT, u32(2)),
          peer.frame(TYPE.MESSAGE_CREATE),
          peer.frame(TYPE.MESSAGE_CREATE),
        ]),
      );
      expect((await peer.reply()).data.length).toBe(0);
      const one = await peer.reply();
      const two = await peer.reply();
      expect(result(one)).toBe(1);
      expect(result(two)).toBe(1);
      expect(msgidOf(one)).not.toBe(msgidOf(two));

      const create = peer.frame(
        TYPE.ENVELOPE_CREATE,
        Buffer.concat([msgidBytes(msgidOf(one)), envelope('x')]),
      );
      peer.sendRaw(create.subarray(0, 5));
      await new Promise((resolve) => setTimeout(resolve, 20));
      peer.sendRaw(create.subarray(5));
      expect(result(await peer.reply())).toBe(1);

      // The fd travels with the first bytes of its frame; the rest follows without it.
      const commitFrame = peer.frame(TYPE.MESSAGE_COMMIT, msgidBytes(msgidOf(one)), true);
      const fd = openSync(body.path, 'r');
      peer.sendRaw(commitFrame.subarray(0, 6), fd);
      closeSync(fd);
      await new Promise((resolve) => setTimeout(resolve, 20));
      peer.sendRaw(commitFrame.subarray(6));
      expect(result(await peer.reply())).toBe(1);

      const fetched = await front.client.bodyGet(msgidOf(one));
      const chunks: Buffer[] = [];
      for await (const chunk of fetched.stream) chunks.push(chunk as Buffer);
      expectSameBytes(Buffer.concat(chunks), body.bytes);
    });
  }

  it('walk hands each committed envelope once, then -1', async () => {
    const front = await frontend();
    const seeded: Array<[string, Buffer]> = [];
    for (const msgid of ['10000001', '20000002', '30000003']) {
      const envelopes: Array<[string, Buffer]> = [
        [`${msgid}00000001`, envelope(`${msgid}-a`)],
        [`${msgid}00000002`, envelope(`${msgid}-b`)],
      ];
      await seed(front.client, msgid, envelopes);
      seeded.push(...envelopes);
    }
    // An open message is invisible to the walk.
    await front.client.messageCreate({ msgid: '40000004' });
    await front.client.envelopeCreate('40000004', envelope('open'), { evpid: '4000000400000001' });

    const peer = queueRest('pre-7.7', { url: front.url });
    await init(peer);

    // smtpd already has a loaded envelope and the ones it created: the walk must skip them.
    const loaded = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes('2000000200000001'));
    expect(loaded.data).toEqual(envelope('20000002-a'));
    const created = await createMessage(peer, ['new']);
    expect(result(await commit(peer, created.msgid, bodyFile('walk-body', 100).path))).toBe(1);

    const walked = await walkAll(peer);
    const expected = seeded.filter(([evpid]) => evpid !== '2000000200000001');
    expect(walked.evpids).toEqual(expected.map(([evpid]) => evpid));
    expect(walked.data).toEqual(expected.map(([, data]) => data));
    expect(new Set(walked.evpids).size).toBe(walked.evpids.length);

    expect(result(await peer.call(TYPE.ENVELOPE_WALK))).toBe(-1);
    await peer.waitForLog((record) => record.msg === 'walk finished' && record.walked === 5);
  });

  it('walk asks again while the frontend is down, then walks', async () => {
    const port = await freePort();
    const driver = new FaultyDriver();
    const seeder = await startFrontend(0, driver);
    await seed(seeder.client, '50000005', [
      ['5000000500000001', envelope('late-a')],
      ['5000000500000002', envelope('late-b')],
    ]);
    await seeder.close();

    const peer = queueRest('7.7', {
      url: `http://127.0.0.1:${port}`,
      retryBudgetMs: 200,
      timeoutMs: 500,
    });
    await init(peer);

    for (let i = 0; i < 5; i++) {
      expect(result(await peer.call(TYPE.ENVELOPE_WALK))).toBe(0);
    }
    const failure = await peer.waitForLog((record) => record.msg === 'walk page fetch failed');
    expect(failure.code).toBe('connection-failed');
    expect(result(await peer.call(TYPE.ENVELOPE_WALK))).toBe(0);
    expect(peer.child.exitCode).toBeNull();

    await frontend(port, driver);
    const walked = await walkAll(peer);

    expect(walked.evpids).toEqual(['5000000500000001', '5000000500000002']);
    expect(walked.data).toEqual([envelope('late-a'), envelope('late-b')]);
  });

  it('walk and load skip unreadable envelopes and log them', async () => {
    const front = await frontend();
    const oversize = Buffer.alloc(8000, 'a');
    const binary = Buffer.alloc(100, 0xff);
    await seed(front.client, '60000006', [
      ['6000000600000001', envelope('good')],
      ['6000000600000002', oversize],
      ['6000000600000003', binary],
      ['6000000600000004', envelope('good-too')],
    ]);

    const peer = queueRest('pre-7.7', { url: front.url });
    await init(peer);
    const walked = await walkAll(peer);

    expect(walked.evpids).toEqual(['6000000600000001', '6000000600000004']);
    const skipped = peer.logs.filter(
      (record) => record.msg === 'walk skipped an envelope that smtpd cannot read',
    );
    expect(skipped.map((record) => record.evpid)).toEqual(['6000000600000002', '6000000600000003']);
    expect(skipped[0]!.reason).toMatch(
      /8000 bytes, more than smtpd's envelope buffer of 7568 bytes/,
    );
    expect(skipped[1]!.reason).toMatch(/not UTF-8/);
    expect(skipped.every((record) => record.level === 'warn')).toBe(true);

    const load = await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes('6000000600000002'));
    expect(load.data.length).toBe(0);
    await peer.waitForLog(
      (record) =>
        record.msg.startsWith('envelope load refused') && record.evpid === '6000000600000002',
    );
    expect(peer.child.exitCode).toBeNull();
  });

  it('storage fault gets r = 0 and the process keeps running', async () => {
    const front = await frontend();
    await seed(front.client, '70000007', [
      ['7000000700000001', envelope('stored')],
      ['7000000700000002', envelope('delivered')],
    ]);
    const peer = queueRest('pre-7.7', { url: front.url, retryBudgetMs: 1500 });
    await init(peer);
    const body = bodyFile('fault-body', 2000);

    front.driver.failing = true;
    const message = await createMessage(peer, ['during-fault']);
    const failedCommit = await commit(peer, message.msgid, body.path);
    expect(result(failedCommit)).toBe(0);
    const commitLog = await peer.waitForLog((record) => record.msg === 'message commit failed');
    expect(commitLog.code).toBe('storage-unavailable');
    expect(commitLog.msgid).toBe(message.msgid);
    await peer.waitForLog(
      (record) => typeof record.msg === 'string' && record.msg.includes('retrying'),
    );

    expect((await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes('7000000700000001'))).data.length).toBe(
      0,
    );
    const noFd = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes('70000007'));
    expect(noFd.fd).toBeUndefined();
    expect(noFd.data.length).toBe(0);
    const update = Buffer.concat([evpidBytes('7000000700000001'), envelope('x')]);
    expect(result(await peer.call(TYPE.ENVELOPE_UPDATE, update))).toBe(0);
    expect(result(await peer.call(TYPE.ENVELOPE_DELETE, evpidBytes('7000000700000002')))).toBe(0);
    expect(peer.child.exitCode).toBeNull();

    front.driver.failing = false;
    const after = await createMessage(peer, ['after-fault']);
    expect(result(await commit(peer, after.msgid, body.path))).toBe(1);
    expect((await peer.call(TYPE.ENVELOPE_LOAD, evpidBytes('7000000700000001'))).data).toEqual(
      envelope('stored'),
    );
  });

  it('msgid that exists in the store fails the commit', async () => {
    const front = await frontend();
    const peer = queueRest('7.7', { url: front.url });
    await init(peer);

    const message = await createMessage(peer, ['collision']);
    await front.client.messageCreate({ msgid: message.msgid });
    const reply = await commit(peer, message.msgid, bodyFile('collision-body', 10).path);

    expect(result(reply)).toBe(0);
    const failure = await peer.waitForLog((record) =>
      record.msg.startsWith('message commit failed'),
    );
    expect(failure.msg).toBe('message commit failed: the msgid exists in the store');
    expect(failure.code).toBe('message-exists');
    expect(failure.status).toBe(409);
    expect(await statusOf(front.client.envelopeGet(message.evpids[0]!))).toBe(404);
  });

  it('logs the counters every statsIntervalMs', async () => {
    const front = await frontend();
    const peer = queueRest('7.7', { url: front.url, statsIntervalMs: 100 });
    await init(peer);
    await peer.call(TYPE.MESSAGE_CREATE);

    await peer.waitForLog(
      (record) =>
        record.msg === 'counters' && (record.calls as Record<string, number>).MESSAGE_CREATE === 1,
    );
    expect(peer.child.exitCode).toBeNull();
  });

  const broken: Array<[string, (peer: SmtpdPeer) => void, RegExp]> = [
    ['unknown type', (peer) => peer.sendRaw(peer.frame(99)), /unknown request type 99/],
    [
      'bad length',
      (peer) => {
        const frame = peer.frame(TYPE.ENVELOPE_WALK);
        frame.writeUInt32LE(20_000, 4);
        peer.sendRaw(frame);
      },
      /invalid length 20000/,
    ],
    [
      'unexpected fd',
      (peer) => {
        const fd = openSync(bodyFile('stray', 10).path, 'r');
        peer.sendRaw(peer.frame(TYPE.MESSAGE_FD_R, u32(1), true), fd);
        closeSync(fd);
      },
      /MESSAGE_FD_R request carries an unexpected fd/,
    ],
    ['short payload', (peer) => peer.sendRaw(peer.frame(TYPE.ENVELOPE_LOAD, u32(1))), /expected 8/],
  ];

  for (const [name, send, message] of broken) {
    it(`broken frame exits 1: ${name}`, async () => {
      const peer = queueRest('7.7', { url: 'http://127.0.0.1:9' });
      await init(peer);

      send(peer);

      expect(await peer.exited).toEqual({ code: 1, signal: null });
      const fatal = peer.logs.find((record) => record.level === 'fatal');
      expect(fatal?.msg).toMatch(/^broken frame from smtpd: /);
      expect(fatal?.msg).toMatch(message);
    });
  }

  it('auto layout from a parent that is not smtpd corrects itself', async () => {
    const front = await frontend();
    const peer = new SmtpdPeer('7.7', [configPath({ url: front.url, imsgLayout: 'auto' })]);
    running.push(peer);
    await init(peer);

    const guess = await peer.waitForLog((record) => record.msg.startsWith('imsg layout unknown'));
    expect(guess.level).toBe('warn');
    expect(guess.layout).toBe('pre-7.7');

    const message = await createMessage(peer, ['auto']);
    expect(result(await commit(peer, message.msgid, bodyFile('auto-body', 10).path))).toBe(1);
    await peer.waitForLog(
      (record) => record.msg === 'imsg layout corrected from a frame with an fd',
    );

    const fdReply = await peer.call(TYPE.MESSAGE_FD_R, msgidBytes(message.msgid));
    expect(fdReply.fd).toBeDefined();
    closeDescriptor(fdReply.fd!);
  });

  it('bad ARG exits 1 with a clear line', async () => {
    const peer = new SmtpdPeer('pre-7.7', []);
    running.push(peer);

    expect(await peer.exited).toEqual({ code: 1, signal: null });
    const fatal = peer.logs.find((record) => record.level === 'fatal');
    expect(fatal?.msg).toMatch(
      /^cannot start: missing ARG: run queue-rest as smtpd -B queue=rest:URL/,
    );
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
