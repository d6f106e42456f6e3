import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import { createQueueStore, MemoryDriver, type QueueStore } from '../src/index.js';
import { bodyKey, envelopeKey } from '../src/keys.js';
import { encodeEnvelope } from '../src/records.js';

/*
 * A bundle writes its envelopes, its body and its message record at once and makes the record
 * visible last, and envelopes carry the generation of the message they were written for.
 * These cases pin what that must never break: a bundle that loses its msgid shows nothing,
 * leftovers of another generation stay invisible, and garbage collection spares the writes
 * of a bundle in progress. Each runs with a plain create and with a staged create.
 */

const MSGID = '0000abcd';
const HOUR_MS = 60 * 60 * 1000;

function evpid(index: number): string {
  return MSGID + index.toString(16).padStart(8, '0');
}

function envelopes(...indices: number[]) {
  return indices.map((index) => ({ evpid: evpid(index), data: Buffer.from(`rcpt ${index}`) }));
}

function upload(text: string) {
  const bytes = Buffer.from(text);
  return {
    source: (async function* () {
      yield bytes;
    })(),
    sha256: createHash('sha256').update(bytes).digest(),
    length: bytes.length,
  };
}

async function outcomeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
}

async function walkAll(store: QueueStore): Promise<string[]> {
  const page = await store.walk({ limit: 1000 });
  expect(page.end).toBe(true);
  return page.envelopes.map((entry) => entry.evpid);
}

/**
 * A memory driver that can stage creates, as the fs driver does, so that the bundle's path
 * through prepareCreate runs too. It counts the staged records that are still pending.
 */
class StagingDriver extends MemoryDriver {
  pending = 0;

  async prepareCreate(key: string, data: Buffer) {
    this.pending += 1;
    let settled = false;
    const settle = () => {
      if (!settled) this.pending -= 1;
      settled = true;
    };
    return {
      publish: async () => {
        settle();
        return this.create(key, data);
      },
      discard: async () => settle(),
    };
  }
}

const DRIVERS = [
  { name: 'create', make: () => new MemoryDriver() },
  { name: 'prepareCreate', make: () => new StagingDriver() },
];

/** A store over a memory driver with a clock the test moves. */
function storeWithClock(make: () => MemoryDriver) {
  const driver = make();
  const clock = { now: 10 * HOUR_MS };
  const store = createQueueStore(driver, { uncommittedMaxAgeMs: HOUR_MS, now: () => clock.now });
  return { driver, clock, store };
}

/** Writes an envelope record as a bundle of another message generation would have left it. */
async function writeLeftover(driver: MemoryDriver, index: number, createdAt: number) {
  const stored = encodeEnvelope({
    data: Buffer.from(`leftover ${index}`),
    createToken: 'other-request',
    writeToken: 'other-request',
    createdAt,
    generation: 'another-generation',
  });
  expect(await driver.create(envelopeKey(evpid(index)), stored)).not.toBeNull();
}

describe.each(DRIVERS)('bundle and message generations, commit by $name', ({ make }) => {
  it('concurrent bundles of one msgid: one commits, the other leaves nothing', async () => {
    const { driver, store } = storeWithClock(make);

    const outcomes = await Promise.all([
      outcomeOf(store.messageBundle(MSGID, envelopes(1, 2), upload('first'), { token: 'a' })),
      outcomeOf(store.messageBundle(MSGID, envelopes(3, 4), upload('second'), { token: 'b' })),
    ]);

    const winner = outcomes[0] === 'ok' ? [1, 2] : [3, 4];
    expect([...outcomes].sort()).toEqual(['message-exists', 'ok']);
    if (driver instanceof StagingDriver) expect(driver.pending).toBe(0);
    expect(await walkAll(store)).toEqual(winner.map(evpid));
    expect(await driver.list(`env/${MSGID}/`, { limit: 10 })).toEqual(
      winner.map((index) => envelopeKey(evpid(index))),
    );
    expect(await driver.blobList(`body/${MSGID}/`, { limit: 10 })).toHaveLength(1);
  });

  it('leftover envelope of another generation stays out of both walks', async () => {
    const { driver, clock, store } = storeWithClock(make);
    await writeLeftover(driver, 9, clock.now);

    await store.messageBundle(MSGID, envelopes(1), upload('body'), { token: 'a' });

    expect(await walkAll(store)).toEqual([evpid(1)]);
    const own = await store.messageWalk(MSGID, { limit: 100, includeUncommitted: true });
    expect(own.envelopes.map((entry) => entry.evpid)).toEqual([evpid(1)]);
  });

  it('message holding only leftovers is collected after the age', async () => {
    const { driver, clock, store } = storeWithClock(make);
    await store.messageBundle(MSGID, envelopes(1), upload('body'), { token: 'a' });
    await writeLeftover(driver, 9, clock.now);

    // The leftover keeps the message past its last own envelope, until garbage collection.
    await store.envelopeDelete(evpid(1));
    expect((await store.messageInfo(MSGID)).state).toBe('committed');

    clock.now += 2 * HOUR_MS;
    await store.collectGarbage();

    expect(await outcomeOf(store.messageInfo(MSGID))).toBe('message-not-found');
    expect(await driver.list('', { limit: 10 })).toEqual([]);
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  });

  it('garbage collection spares young writes of a bundle without its message', async () => {
    const { driver, clock, store } = storeWithClock(make);
    await writeLeftover(driver, 1, clock.now);
    const upload = bodyKey(MSGID, clock.now, '00ff');
    await driver.blobPut(
      upload,
      (async function* () {
        yield Buffer.from('body in progress');
      })(),
    );

    const young = await store.collectGarbage();
    clock.now += 2 * HOUR_MS;
    const old = await store.collectGarbage();

    expect(young).toMatchObject({ orphanEnvelopes: 0, orphanBodies: 0 });
    expect(old).toMatchObject({ orphanEnvelopes: 1, orphanBodies: 1 });
    expect(await driver.list('', { limit: 10 })).toEqual([]);
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  });

  it('repeat of a delivered bundle brings no envelope back', async () => {
    const { store } = storeWithClock(make);
    await store.messageBundle(MSGID, envelopes(1, 2), upload('body'), { token: 'a' });
    await store.envelopeDelete(evpid(1));

    const repeat = await outcomeOf(
      store.messageBundle(MSGID, envelopes(1, 2), upload('body'), { token: 'a' }),
    );

    expect(repeat).toBe('ok');
    expect(await walkAll(store)).toEqual([evpid(2)]);
  });

  it('failed attempt removes its writes and a repeat commits', async () => {
    const { driver, store } = storeWithClock(make);
    const broken = { ...upload('body'), sha256: Buffer.alloc(32) };

    const failed = await outcomeOf(
      store.messageBundle(MSGID, envelopes(1, 2), broken, { token: 'a' }),
    );
    const left = [
      ...(await driver.list('', { limit: 10 })),
      ...(await driver.blobList('', { limit: 10 })),
    ];
    await store.messageBundle(MSGID, envelopes(1, 2), upload('body'), { token: 'a' });

    expect(failed).toBe('digest-mismatch');
    expect(left).toEqual([]);
    expect(await walkAll(store)).toEqual([evpid(1), evpid(2)]);
    if (driver instanceof StagingDriver) expect(driver.pending).toBe(0);
  });

  it('envelope of an unfinished attempt makes a repeat retry later', async () => {
    const { driver, clock, store } = storeWithClock(make);
    // What an attempt with token `a` that is still running, or failed, has written.
    const stored = encodeEnvelope({
      data: Buffer.from('rcpt 1'),
      createToken: 'a',
      writeToken: 'a',
      createdAt: clock.now,
      generation: 'first-attempt',
    });
    await driver.create(envelopeKey(evpid(1)), stored);

    const repeat = await outcomeOf(
      store.messageBundle(MSGID, envelopes(1, 2), upload('body'), { token: 'a' }),
    );
    const other = await outcomeOf(
      store.messageBundle(MSGID, envelopes(1, 2), upload('body'), { token: 'b' }),
    );

    expect(repeat).toBe('storage-unavailable');
    expect(other).toBe('envelope-exists');
    expect(await driver.list('', { limit: 10 })).toEqual([envelopeKey(evpid(1))]);
    expect(await driver.blobList('', { limit: 10 })).toEqual([]);
  });

  it('duplicate evpid in one bundle is rejected before any write', async () => {
    const { driver, store } = storeWithClock(make);

    const outcome = await outcomeOf(
      store.messageBundle(MSGID, [...envelopes(1), ...envelopes(1)], upload('body')),
    );

    expect(outcome).toBe('invalid-bundle');
    expect(await driver.list('', { limit: 10 })).toEqual([]);
  });

  it('garbage collection counts the queue', async () => {
    const { clock, store } = storeWithClock(make);
    await store.messageBundle(MSGID, envelopes(1, 2), upload('body'));
    await store.messageCreate({ msgid: '0000beef' });
    clock.now += 1000;

    const report = await store.collectGarbage();

    expect(report.census).toEqual({
      openMessages: 1,
      committedMessages: 1,
      envelopes: 2,
      oldestCommittedAt: clock.now - 1000,
      takenAt: clock.now,
    });
  });
});
