import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import { createQueueStore, MemoryDriver, type QueueStore } from '../src/index.js';

const MSGID = '0000abcd';
const EVPID = '0000abcd00000001';

function upload(bytes: Buffer) {
  return {
    source: (async function* () {
      yield bytes;
    })(),
    sha256: createHash('sha256').update(bytes).digest(),
    length: bytes.length,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
  return 'no error';
}

async function walkAll(store: QueueStore, limit = 1000): Promise<string[]> {
  const evpids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.walk({ cursor, limit });
    evpids.push(...page.envelopes.map((entry) => entry.evpid));
    if (page.end) return evpids;
    cursor = page.next ?? undefined;
  }
}

async function committedMessage(store: QueueStore, msgid: string, envelopes: number) {
  await store.messageCreate({ msgid });
  for (let i = 1; i <= envelopes; i++) {
    await store.envelopeCreate(msgid, Buffer.from(`rcpt ${i}`), {
      evpid: msgid + i.toString(16).padStart(8, '0'),
    });
  }
  await store.bodyPut(msgid, upload(Buffer.from('Subject: test\r\n\r\nbody\r\n')));
  await store.messageCommit(msgid);
}

describe('queue store', () => {
  it('commit makes every envelope visible at once', async () => {
    const store = createQueueStore(new MemoryDriver());
    await store.messageCreate({ msgid: MSGID });
    await store.envelopeCreate(MSGID, Buffer.from('a'), { evpid: EVPID });
    await store.bodyPut(MSGID, upload(Buffer.from('body')));

    expect(await walkAll(store)).toEqual([]);
    await store.messageCommit(MSGID);
    expect(await walkAll(store)).toEqual([EVPID]);
  });

  it('envelope added after commit is visible at once', async () => {
    const store = createQueueStore(new MemoryDriver());
    await committedMessage(store, MSGID, 1);

    await store.envelopeCreate(MSGID, Buffer.from('bounce'), { evpid: '0000abcd000000ff' });

    expect(await walkAll(store)).toEqual([EVPID, '0000abcd000000ff']);
  });

  it('last envelope delete removes the committed message', async () => {
    const store = createQueueStore(new MemoryDriver());
    await committedMessage(store, MSGID, 2);

    await store.envelopeDelete('0000abcd00000001');
    expect((await store.messageInfo(MSGID)).state).toBe('committed');
    await store.envelopeDelete('0000abcd00000002');

    expect(await codeOf(store.messageInfo(MSGID))).toBe('message-not-found');
    expect(await codeOf(store.bodyGet(MSGID))).toBe('message-not-found');
  });

  it('message delete removes envelopes and body', async () => {
    const driver = new MemoryDriver();
    const store = createQueueStore(driver);
    await committedMessage(store, MSGID, 3);

    await store.messageDelete(MSGID);
    await store.messageDelete(MSGID);

    expect(await driver.list('', { limit: 100 })).toEqual([]);
    expect(await driver.blobList('', { limit: 100 })).toEqual([]);
  });

  it('create with an existing id conflicts unless the token repeats', async () => {
    const store = createQueueStore(new MemoryDriver());
    await store.messageCreate({ msgid: MSGID, token: 'first' });

    expect(await store.messageCreate({ msgid: MSGID, token: 'first' })).toBe(MSGID);
    expect(await codeOf(store.messageCreate({ msgid: MSGID, token: 'other' }))).toBe(
      'message-exists',
    );
    expect(await codeOf(store.messageCreate({ msgid: MSGID }))).toBe('message-exists');
  });

  it('server-chosen ids repeat with the same token', async () => {
    const store = createQueueStore(new MemoryDriver());
    const first = await store.messageCreate({ token: 'token-1' });
    const again = await store.messageCreate({ token: 'token-1' });
    const other = await store.messageCreate({ token: 'token-2' });

    expect(again).toBe(first);
    expect(other).not.toBe(first);
  });

  it('twenty concurrent creates of one msgid have one winner', async () => {
    const store = createQueueStore(new MemoryDriver());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        codeOf(store.messageCreate({ msgid: MSGID, token: `t${i}` })),
      ),
    );

    expect(results.filter((code) => code === 'no error')).toHaveLength(1);
    expect(results.filter((code) => code === 'message-exists')).toHaveLength(19);
  });

  it('update honours If-Match and replays its own token', async () => {
    const store = createQueueStore(new MemoryDriver());
    await committedMessage(store, MSGID, 1);
    const { etag } = await store.envelopeGet(EVPID);

    const first = await store.envelopeUpdate(EVPID, Buffer.from('v2'), {
      ifMatch: etag,
      token: 'u1',
    });
    const replay = await store.envelopeUpdate(EVPID, Buffer.from('v2'), {
      ifMatch: etag,
      token: 'u1',
    });
    const stale = codeOf(
      store.envelopeUpdate(EVPID, Buffer.from('v3'), { ifMatch: etag, token: 'u2' }),
    );

    expect(replay.etag).toBe(first.etag);
    expect(await stale).toBe('precondition-failed');
    expect((await store.envelopeGet(EVPID)).data.toString()).toBe('v2');
  });

  it('concurrent If-Match updates have one winner', async () => {
    const store = createQueueStore(new MemoryDriver());
    await committedMessage(store, MSGID, 1);
    const { etag } = await store.envelopeGet(EVPID);

    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((value) =>
        codeOf(store.envelopeUpdate(EVPID, Buffer.from(value), { ifMatch: etag, token: value })),
      ),
    );

    expect(results.filter((code) => code === 'no error')).toHaveLength(1);
    expect(results.filter((code) => code === 'precondition-failed')).toHaveLength(3);
  });

  it('envelope over the limit is rejected before any write', async () => {
    const driver = new MemoryDriver();
    const store = createQueueStore(driver, { maxEnvelopeBytes: 10 });
    await store.messageCreate({ msgid: MSGID });

    await store.envelopeCreate(MSGID, Buffer.alloc(10), { evpid: EVPID });
    const over = codeOf(
      store.envelopeCreate(MSGID, Buffer.alloc(11), { evpid: '0000abcd00000002' }),
    );

    expect(await over).toBe('envelope-too-large');
    expect(await driver.list('env/', { limit: 10 })).toEqual([`env/${MSGID}/${EVPID}`]);
  });

  it('body with a wrong digest stores nothing', async () => {
    const driver = new MemoryDriver();
    const store = createQueueStore(driver);
    await store.messageCreate({ msgid: MSGID });
    const bad = { ...upload(Buffer.from('body')), sha256: Buffer.alloc(32) };

    expect(await codeOf(store.bodyPut(MSGID, bad))).toBe('digest-mismatch');
    expect((await store.messageInfo(MSGID)).bodySize).toBeNull();
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  });

  it('short body stores nothing', async () => {
    const store = createQueueStore(new MemoryDriver());
    await store.messageCreate({ msgid: MSGID });
    const short = { ...upload(Buffer.from('body')), length: 10 };

    expect(await codeOf(store.bodyPut(MSGID, short))).toBe('incomplete-body');
    expect(await codeOf(store.messageCommit(MSGID))).toBe('body-missing');
  });

  it('walk pages return each envelope once', async () => {
    const store = createQueueStore(new MemoryDriver());
    for (let m = 1; m <= 25; m++) {
      await committedMessage(store, m.toString(16).padStart(8, '0'), 4);
    }

    const evpids = await walkAll(store, 7);

    expect(evpids).toHaveLength(100);
    expect(new Set(evpids).size).toBe(100);
    expect([...evpids].sort()).toEqual(evpids);
  });

  it('walk pages stay under the byte bound', async () => {
    const store = createQueueStore(new MemoryDriver(), { maxWalkPageBytes: 1000 });
    await store.messageCreate({ msgid: MSGID });
    for (let i = 1; i <= 10; i++) {
      await store.envelopeCreate(MSGID, Buffer.alloc(300, i), {
        evpid: MSGID + i.toString(16).padStart(8, '0'),
      });
    }
    await store.bodyPut(MSGID, upload(Buffer.from('b')));
    await store.messageCommit(MSGID);

    const first = await store.walk({ limit: 100 });

    expect(first.envelopes).toHaveLength(3);
    expect(await walkAll(store)).toHaveLength(10);
  });

  it('tampered cursor is rejected', async () => {
    const store = createQueueStore(new MemoryDriver());
    await committedMessage(store, MSGID, 3);
    const page = await store.walk({ limit: 1 });
    const cursor = page.next as string;

    const tampered = `${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`;

    expect(await codeOf(store.walk({ cursor: tampered }))).toBe('invalid-cursor');
    expect(await codeOf(store.walk({ cursor: 'garbage' }))).toBe('invalid-cursor');
    expect(await codeOf(store.messageWalk(MSGID, { cursor }))).toBe('invalid-cursor');
  });

  it('uncommitted message expires and a late commit says so', async () => {
    let now = 1_000_000;
    const store = createQueueStore(new MemoryDriver(), {
      uncommittedMaxAgeMs: 1000,
      now: () => now,
    });
    await store.messageCreate({ msgid: MSGID });
    await store.envelopeCreate(MSGID, Buffer.from('a'), { evpid: EVPID });
    await store.bodyPut(MSGID, upload(Buffer.from('body')));

    now += 2000;
    const report = await store.collectGarbage();

    expect(report.expiredMessages).toBe(1);
    expect(await codeOf(store.messageCommit(MSGID))).toBe('message-expired');
    expect(await codeOf(store.envelopeGet(EVPID))).toBe('envelope-not-found');
  });

  it('garbage collection keeps committed mail however old', async () => {
    let now = 1_000_000;
    const store = createQueueStore(new MemoryDriver(), {
      uncommittedMaxAgeMs: 1000,
      now: () => now,
    });
    await committedMessage(store, MSGID, 2);

    now += 10_000_000;
    await store.collectGarbage();

    expect(await walkAll(store)).toHaveLength(2);
    expect((await store.bodyGet(MSGID)).size).toBeGreaterThan(0);
  });

  it('bundle commits at once and replays with its token', async () => {
    const store = createQueueStore(new MemoryDriver());
    const envelopes = [
      { evpid: EVPID, data: Buffer.from('one') },
      { evpid: '0000abcd00000002', data: Buffer.from('two') },
    ];

    await store.messageBundle(MSGID, envelopes, upload(Buffer.from('body')), { token: 'b1' });
    await store.messageBundle(MSGID, envelopes, upload(Buffer.from('body')), { token: 'b1' });
    const conflict = codeOf(
      store.messageBundle(MSGID, envelopes, upload(Buffer.from('x')), { token: 'b2' }),
    );

    expect(await conflict).toBe('message-exists');
    expect(await walkAll(store)).toEqual([EVPID, '0000abcd00000002']);
  });

  it('failed bundle leaves nothing behind', async () => {
    const driver = new MemoryDriver();
    const store = createQueueStore(driver);
    const bad = { ...upload(Buffer.from('body')), sha256: Buffer.alloc(32) };

    const code = await codeOf(
      store.messageBundle(MSGID, [{ evpid: EVPID, data: Buffer.from('one') }], bad, { token: 'b' }),
    );

    expect(code).toBe('digest-mismatch');
    expect(await driver.list('', { limit: 10 })).toEqual([]);
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  });
});

describe('late commit', () => {
  it('gets message-expired before any garbage pass', async () => {
    let now = 1_000_000;
    const driver = new MemoryDriver();
    const store = createQueueStore(driver, { uncommittedMaxAgeMs: 1000, now: () => now });
    await store.messageCreate({ msgid: MSGID });
    await store.envelopeCreate(MSGID, Buffer.from('a'), { evpid: EVPID });
    await store.bodyPut(MSGID, upload(Buffer.from('body')));

    now += 1001;

    expect(await codeOf(store.messageCommit(MSGID))).toBe('message-expired');
    expect(await codeOf(store.envelopeGet(EVPID))).toBe('envelope-not-found');
    expect(await walkAll(store)).toEqual([]);
  });
});
