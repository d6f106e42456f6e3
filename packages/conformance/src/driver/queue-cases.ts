import { createHash } from 'node:crypto';
import { AWKWARD_TEXT, everyByteValue, firstDifference } from '../bytes.js';
import { check, show } from '../failure.js';
import { type DriverCase, withStore } from './harness.js';
import {
  commitMessage,
  evpidOf,
  newClock,
  outcomeOf,
  queueOver,
  uploadOf,
  walkEntries,
} from './queue-helpers.js';
import { readAll } from './streams.js';

const M1 = '0000a001';
const M2 = '0000a002';
const M3 = '0000a003';

function envelopes(msgid: string, count: number, size = 0) {
  return Array.from({ length: count }, (_, i) => ({
    evpid: evpidOf(msgid, i + 1),
    data: size === 0 ? Buffer.from(`rcpt ${i + 1} of ${msgid}\n`) : everyByteValue(size, i),
  }));
}

function evpidsOf(entries: Array<{ evpid: string }>): string[] {
  return entries.map((entry) => entry.evpid);
}

function expectEvpids(actual: string[], expected: string[], what: string): void {
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    `${what} returned ${show(actual)}, expected ${show(expected)}`,
  );
}

const cases: DriverCase[] = [
  {
    name: 'commit makes every envelope visible at once',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await store.messageCreate({ msgid: M1 });
        for (const envelope of envelopes(M1, 3)) {
          await store.envelopeCreate(M1, envelope.data, { evpid: envelope.evpid });
        }
        await store.bodyPut(M1, uploadOf(AWKWARD_TEXT));

        expectEvpids(evpidsOf(await walkEntries(store)), [], 'walk before the commit');
        await store.messageCommit(M1);
        expectEvpids(
          evpidsOf(await walkEntries(store)),
          evpidsOf(envelopes(M1, 3)),
          'walk after the commit',
        );
      }),
  },
  {
    name: 'envelope of a committed message is visible at once',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await commitMessage(store, M1, envelopes(M1, 1), AWKWARD_TEXT);
        await store.envelopeCreate(M1, Buffer.from('bounce'), { evpid: evpidOf(M1, 0xff) });
        expectEvpids(
          evpidsOf(await walkEntries(store)),
          [evpidOf(M1, 1), evpidOf(M1, 0xff)],
          'walk',
        );
      }),
  },
  {
    name: 'message delete removes envelopes and body',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await commitMessage(store, M1, envelopes(M1, 3), AWKWARD_TEXT);
        await store.messageDelete(M1);
        await store.messageDelete(M1);

        const records = await driver.list('', { limit: 100 });
        const blobs = await driver.blobList('', { limit: 100 });
        check(records.length === 0, `records left after message delete: ${show(records)}`);
        check(blobs.length === 0, `blobs left after message delete: ${show(blobs)}`);
      }),
  },
  {
    name: 'last envelope delete removes the message',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await commitMessage(store, M1, envelopes(M1, 2), AWKWARD_TEXT);

        await store.envelopeDelete(evpidOf(M1, 1));
        const after = await outcomeOf(store.messageInfo(M1));
        check(after === 'ok', `message info after deleting one of two envelopes: ${after}`);
        await store.envelopeDelete(evpidOf(M1, 2));

        const gone = await outcomeOf(store.messageInfo(M1));
        check(gone === 'message-not-found', `message info after the last envelope delete: ${gone}`);
        const blobs = await driver.blobList('', { limit: 100 });
        check(blobs.length === 0, `blobs left after the last envelope delete: ${show(blobs)}`);
      }),
  },
  {
    name: 'create conflicts unless the token repeats',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await store.messageCreate({ msgid: M1, token: 'first' });

        const replay = await outcomeOf(store.messageCreate({ msgid: M1, token: 'first' }));
        const other = await outcomeOf(store.messageCreate({ msgid: M1, token: 'other' }));
        const none = await outcomeOf(store.messageCreate({ msgid: M1 }));
        check(replay === 'ok', `repeat with the same token: ${replay}, expected ok`);
        check(other === 'message-exists', `create with another token: ${other}`);
        check(none === 'message-exists', `create without a token: ${none}`);
      }),
  },
  {
    name: 'twenty concurrent message creates have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            outcomeOf(store.messageCreate({ msgid: M1, token: `t${i}` })),
          ),
        );
        const ok = outcomes.filter((outcome) => outcome === 'ok').length;
        const exists = outcomes.filter((outcome) => outcome === 'message-exists').length;
        check(ok === 1 && exists === 19, `outcomes of 20 concurrent creates: ${show(outcomes)}`);
      }),
  },
  {
    name: 'concurrent If-Match updates have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await commitMessage(store, M1, envelopes(M1, 1), AWKWARD_TEXT);
        const evpid = evpidOf(M1, 1);
        const { etag } = await store.envelopeGet(evpid);

        const writers = ['a', 'b', 'c', 'd', 'e', 'f'];
        const outcomes = await Promise.all(
          writers.map((name) =>
            outcomeOf(store.envelopeUpdate(evpid, Buffer.from(name), { ifMatch: etag })),
          ),
        );
        const winners = writers.filter((_, i) => outcomes[i] === 'ok');
        const failed = outcomes.filter((outcome) => outcome === 'precondition-failed').length;
        check(winners.length === 1 && failed === writers.length - 1, `outcomes: ${show(outcomes)}`);

        const stored = await store.envelopeGet(evpid);
        check(
          stored.data.toString() === winners[0],
          `stored ${show(stored.data.toString())}, winner wrote ${show(winners[0])}`,
        );
        const stale = await outcomeOf(store.envelopeDelete(evpid, { ifMatch: etag }));
        check(stale === 'precondition-failed', `delete with the stale ETag: ${stale}`);
      }),
  },
  {
    name: 'body keeps every byte value',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        const body = Buffer.concat([AWKWARD_TEXT, everyByteValue(3 * 1024 * 1024 + 1, 7)]);
        await store.messageCreate({ msgid: M1 });
        await store.bodyPut(M1, uploadOf(everyByteValue(1000, 1)));
        await store.bodyPut(M1, uploadOf(body));
        await store.messageCommit(M1);

        const read = await store.bodyGet(M1);
        const data = await readAll(read.stream);
        check(data.equals(body), `body read back differs: ${firstDifference(data, body)}`);
        const sha = createHash('sha256').update(body).digest('hex');
        check(read.sha256 === sha, `body sha256 is ${read.sha256}, expected ${sha}`);
        const late = await outcomeOf(store.bodyPut(M1, uploadOf(Buffer.from('late'))));
        check(late === 'message-committed', `body upload after the commit: ${late}`);
      }),
  },
  {
    name: 'failed body upload stores nothing',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        const kept = Buffer.from('kept body\r\n');
        await store.messageCreate({ msgid: M1 });
        await store.bodyPut(M1, uploadOf(kept));

        const wrong = { ...uploadOf(Buffer.from('other body')), sha256: Buffer.alloc(32) };
        const mismatch = await outcomeOf(store.bodyPut(M1, wrong));
        const short = { ...uploadOf(Buffer.from('short')), length: 100 };
        const incomplete = await outcomeOf(store.bodyPut(M1, short));
        check(mismatch === 'digest-mismatch', `upload with a wrong digest: ${mismatch}`);
        check(incomplete === 'incomplete-body', `upload shorter than its length: ${incomplete}`);

        const data = await readAll((await store.bodyGet(M1)).stream);
        check(
          data.equals(kept),
          `body after failed uploads differs: ${firstDifference(data, kept)}`,
        );
        const blobs = await driver.blobList('', { limit: 10 });
        check(
          blobs.length === 1,
          `blobs after failed uploads: ${show(blobs)}, expected only the kept body`,
        );
      }),
  },
  {
    name: 'walk returns each envelope once across changes',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await commitMessage(store, M1, envelopes(M1, 10), AWKWARD_TEXT);
        await commitMessage(store, M3, envelopes(M3, 10), AWKWARD_TEXT);

        const seen: string[] = [];
        let cursor: string | undefined;
        let page = await store.walk({ limit: 4 });
        for (let round = 0; ; round++) {
          seen.push(...evpidsOf(page.envelopes));
          if (page.end) break;
          // Between pages: delete what was read and what is ahead, add before and after the cursor.
          if (round === 0) {
            await store.envelopeDelete(evpidOf(M1, 1));
            await store.envelopeDelete(evpidOf(M1, 8));
            await commitMessage(store, M2, envelopes(M2, 3), AWKWARD_TEXT);
            // Recreated behind the cursor: the walk already returned this evpid once.
            await store.envelopeCreate(M1, Buffer.from('again'), { evpid: evpidOf(M1, 1) });
          }
          cursor = page.next ?? undefined;
          page = await store.walk({ cursor, limit: 4 });
        }

        check(new Set(seen).size === seen.length, `walk returned an envelope twice: ${show(seen)}`);
        const sorted = [...seen].sort();
        expectEvpids(seen, sorted, 'walk order');
        for (const evpid of [...evpidsOf(envelopes(M2, 3)), ...evpidsOf(envelopes(M3, 10))]) {
          check(seen.includes(evpid), `walk missed ${evpid}, committed after the cursor`);
        }
        check(
          !seen.includes(evpidOf(M1, 8)),
          `walk returned ${evpidOf(M1, 8)}, deleted before its page`,
        );
      }),
  },
  {
    name: 'walk pages stay under the byte bound',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock(), { maxWalkPageBytes: 10_000 });
        await commitMessage(store, M1, envelopes(M1, 12, 3000), AWKWARD_TEXT);

        let cursor: string | undefined;
        let total = 0;
        for (;;) {
          const page = await store.walk({ cursor, limit: 100 });
          const bytes = page.envelopes.reduce(
            (sum, entry) => sum + Buffer.from(entry.data, 'base64').length,
            0,
          );
          check(
            bytes <= 10_000,
            `walk page holds ${bytes} envelope bytes, over the bound of 10000`,
          );
          check(page.end || page.envelopes.length > 0, 'walk page is empty but not the end');
          total += page.envelopes.length;
          if (page.end) break;
          cursor = page.next ?? undefined;
        }
        check(total === 12, `walk returned ${total} envelopes, expected 12`);
      }),
  },
  {
    name: 'bundle commits at once and failures leave nothing',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const store = queueOver(driver, newClock());
        await store.messageBundle(M1, envelopes(M1, 4), uploadOf(AWKWARD_TEXT), { token: 'b1' });
        expectEvpids(
          evpidsOf(await walkEntries(store)),
          evpidsOf(envelopes(M1, 4)),
          'walk after the bundle',
        );

        const wrong = { ...uploadOf(Buffer.from('body')), sha256: Buffer.alloc(32) };
        const failed = await outcomeOf(store.messageBundle(M2, envelopes(M2, 2), wrong));
        check(failed === 'digest-mismatch', `bundle with a wrong digest: ${failed}`);
        const left = [
          ...(await driver.list(`msg/${M2}`, { limit: 10 })),
          ...(await driver.list(`env/${M2}/`, { limit: 10 })),
          ...(await driver.blobList(`body/${M2}/`, { limit: 10 })),
        ];
        check(left.length === 0, `a failed bundle left ${show(left)}`);
      }),
  },
  {
    name: 'uncommitted message expires after its age',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, { uncommittedMaxAgeMs: 60_000 });
        await store.messageCreate({ msgid: M1 });
        await store.envelopeCreate(M1, Buffer.from('a'), { evpid: evpidOf(M1, 1) });
        await store.bodyPut(M1, uploadOf(Buffer.from('body')));
        await commitMessage(store, M2, envelopes(M2, 1), AWKWARD_TEXT);

        clock.now += 120_000;
        await store.collectGarbage();

        const commit = await outcomeOf(store.messageCommit(M1));
        check(commit === 'message-expired', `commit after expiry: ${commit}`);
        const left = [
          ...(await driver.list(`env/${M1}/`, { limit: 10 })),
          ...(await driver.blobList(`body/${M1}/`, { limit: 10 })),
        ];
        check(left.length === 0, `the expired message left ${show(left)}`);
        expectEvpids(
          evpidsOf(await walkEntries(store)),
          [evpidOf(M2, 1)],
          'walk after garbage collection',
        );
      }),
  },
  {
    name: 'committed queue survives a reopen',
    run: (factory) =>
      withStore(factory, async ({ driver, reopen }) => {
        const clock = newClock();
        const envelopeList = envelopes(M1, 3, 500);
        const body = everyByteValue(100_000, 2);
        await commitMessage(queueOver(driver, clock), M1, envelopeList, body);

        const store = queueOver(await reopen(), clock);
        const entries = await walkEntries(store);
        expectEvpids(evpidsOf(entries), evpidsOf(envelopeList), 'walk after reopen');
        for (const [i, entry] of entries.entries()) {
          const expected = envelopeList[i]?.data ?? Buffer.alloc(0);
          check(
            entry.data.equals(expected),
            `envelope ${entry.evpid} after reopen: ${firstDifference(entry.data, expected)}`,
          );
        }
        const data = await readAll((await store.bodyGet(M1)).stream);
        check(data.equals(body), `body after reopen: ${firstDifference(data, body)}`);
      }),
  },
];

/** Returns the queue rules as cases, run through createQueueStore over the driver under test. */
export function queueCases(): DriverCase[] {
  return cases.map((entry) => ({ ...entry, name: `queue: ${entry.name}` }));
}
