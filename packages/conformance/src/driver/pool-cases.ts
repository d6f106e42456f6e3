import type { NodeLease } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';
import { AWKWARD_TEXT } from '../bytes.js';
import { check, show } from '../failure.js';
import { type DriverCase, withStore } from './harness.js';
import {
  commitMessage,
  evpidOf,
  newClock,
  outcomeOf,
  queueOver,
  walkEntries,
} from './queue-helpers.js';
import { readAll } from './streams.js';

const M1 = '0000b001';
const M2 = '0000b002';
const M3 = '0000b003';
const TTL_MS = 30_000;
const GRACE_MS = 10_000;
const CLAIM_ROUNDS = 5;

/** Queue options of the pool cases: a known claim grace; the clock is the case's own. */
const POOL_OPTIONS = { claimGraceMs: GRACE_MS };

function oneEnvelope(msgid: string, text = 'rcpt 1') {
  return [{ evpid: evpidOf(msgid, 1), data: Buffer.from(`${text} of ${msgid}\n`) }];
}

async function nodeStore(store: QueueStore, name: string, ttlMs = TTL_MS) {
  const lease = await store.nodeLeaseAcquire(name, { ttlMs });
  return { lease, store: store.withNode({ name, leaseId: lease.leaseId }) };
}

function evpidsOf(entries: Array<{ evpid: string }>): string[] {
  return entries.map((entry) => entry.evpid);
}

function expectOutcome(actual: string, expected: string, what: string): void {
  check(actual === expected, `${what}: ${actual}, expected ${expected}`);
}

const cases: DriverCase[] = [
  {
    name: 'pool leases of two nodes overlap, one name is held',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const other = queueOver(driver, clock, POOL_OPTIONS);

        const first: NodeLease = await store.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS });
        clock.now += 1000;
        const again = await outcomeOf(other.nodeLeaseAcquire('mx1', { ttlMs: TTL_MS }));
        expectOutcome(again, 'lease-held', 'second acquire of live node mx1');
        const second = await other.nodeLeaseAcquire('mx2', { ttlMs: TTL_MS });
        check(first.leaseId !== second.leaseId, 'two nodes got the same lease id');

        const mx1 = store.withNode({ name: 'mx1', leaseId: first.leaseId });
        const mx2 = other.withNode({ name: 'mx2', leaseId: second.leaseId });
        expectOutcome(await outcomeOf(mx1.walk({})), 'ok', 'walk of mx1');
        expectOutcome(await outcomeOf(mx2.walk({})), 'ok', 'walk of mx2');

        const { nodes } = await store.nodeList();
        const listed = nodes.map((node) => `${node.node}:${node.state}:${node.remainingMs}`);
        const expected = [`mx1:live:${TTL_MS - 1000}`, `mx2:live:${TTL_MS}`];
        check(
          show(listed) === show(expected),
          `node list ${show(listed)}, expected ${show(expected)}`,
        );
      }),
  },
  {
    name: 'pool racing acquires of one node have one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const stores = [
          queueOver(driver, clock, POOL_OPTIONS),
          queueOver(driver, clock, POOL_OPTIONS),
        ];

        for (let round = 1; round <= CLAIM_ROUNDS; round++) {
          const name = `race-${round}`;
          const outcomes = await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
              outcomeOf((stores[i % 2] as QueueStore).nodeLeaseAcquire(name, { ttlMs: TTL_MS })),
            ),
          );
          const won = outcomes.filter((outcome) => outcome === 'ok').length;
          const held = outcomes.filter((outcome) => outcome === 'lease-held').length;
          check(won === 1 && held === 5, `round ${round}: six acquires got ${show(outcomes)}`);
        }
      }),
  },
  {
    name: 'pool claim race between two nodes has one winner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const mx1 = await nodeStore(store, 'mx1');
        const mx2 = await nodeStore(queueOver(driver, clock, POOL_OPTIONS), 'mx2');

        for (let round = 1; round <= CLAIM_ROUNDS; round++) {
          const msgid = `0000c0${round.toString(16).padStart(2, '0')}`;
          await commitMessage(store, msgid, oneEnvelope(msgid), AWKWARD_TEXT);

          const outcomes = await Promise.all([
            outcomeOf(mx1.store.messageClaim(msgid, { from: null })),
            outcomeOf(mx2.store.messageClaim(msgid, { from: null })),
          ]);
          const winner = outcomes.indexOf('ok');
          check(
            winner !== -1 &&
              outcomes.lastIndexOf('ok') === winner &&
              outcomes.includes('claim-lost'),
            `round ${round}: two claims of ${msgid} got ${show(outcomes)}, expected ok and claim-lost`,
          );
          const owner = (await store.messageInfo(msgid)).owner;
          const expected = winner === 0 ? 'mx1' : 'mx2';
          check(owner === expected, `round ${round}: owner ${show(owner)}, ${expected} won`);
        }
      }),
  },
  {
    name: 'pool claim needs a claimable owner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const mx1 = await nodeStore(store, 'mx1');
        await commitMessage(mx1.store, M1, oneEnvelope(M1), AWKWARD_TEXT);
        await mx1.store.messageCreate({ msgid: M2 });

        clock.now += TTL_MS;
        const mx2 = await nodeStore(store, 'mx2');
        const early = await outcomeOf(mx2.store.messageClaim(M1, { from: 'mx1' }));
        expectOutcome(early, 'lease-live', 'claim at the expiry, before the grace');
        const stale = await outcomeOf(mx2.store.messageClaim(M1, { from: null }));
        expectOutcome(stale, 'claim-lost', 'claim from null of a message mx1 owns');

        clock.now += GRACE_MS;
        const open = await outcomeOf(mx2.store.messageClaim(M2, { from: 'mx1' }));
        expectOutcome(open, 'message-open', 'claim of an uncommitted message');
        const claimed = await mx2.store.messageClaim(M1, { from: 'mx1' });
        check(
          claimed.owner === 'mx2' && show(claimed.evpids) === show([evpidOf(M1, 1)]),
          `claim after expiry and grace returned ${show(claimed)}`,
        );
        const repeat = await mx2.store.messageClaim(M1, { from: 'mx1' });
        check(repeat.owner === 'mx2', `repeated claim returned ${show(repeat)}`);
      }),
  },
  {
    name: 'pool fenced former owner changes nothing',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const mx1 = await nodeStore(store, 'mx1');
        const evpid = evpidOf(M1, 1);
        await commitMessage(mx1.store, M1, oneEnvelope(M1), AWKWARD_TEXT);
        const before = await store.envelopeGet(evpid);

        clock.now += TTL_MS + GRACE_MS;
        const mx2 = await nodeStore(store, 'mx2');
        await mx2.store.messageClaim(M1, { from: 'mx1' });

        const fencedCalls = (node: QueueStore): Array<[string, () => Promise<unknown>]> => [
          ['walk', () => node.walk({})],
          ['envelope update', () => node.envelopeUpdate(evpid, Buffer.from('changed'))],
          ['envelope delete', () => node.envelopeDelete(evpid)],
          ['body read', () => node.bodyGet(M1)],
          ['bounce envelope create', () => node.envelopeCreate(M1, Buffer.from('bounce'))],
          ['message delete', () => node.messageDelete(M1)],
        ];
        for (const [what, call] of fencedCalls(mx1.store)) {
          expectOutcome(await outcomeOf(call()), 'lease-lost', `${what} with the expired lease`);
        }

        const again = await nodeStore(store, 'mx1');
        for (const [what, call] of fencedCalls(again.store).slice(1)) {
          expectOutcome(await outcomeOf(call()), 'not-owner', `${what} with a new lease`);
        }
        const walked = evpidsOf(await walkEntries(again.store));
        check(walked.length === 0, `walk of mx1 after the claim returned ${show(walked)}`);

        const after = await store.envelopeGet(evpid);
        check(after.etag === before.etag, `envelope etag ${after.etag}, was ${before.etag}`);
        check(after.data.equals(before.data), 'envelope bytes changed');
        const body = await store.bodyGet(M1);
        check((await readAll(body.stream)).equals(AWKWARD_TEXT), 'body bytes changed');
        const all = evpidsOf(await walkEntries(mx2.store));
        check(show(all) === show([evpid]), `walk of mx2 returned ${show(all)}`);
      }),
  },
  {
    name: 'pool walk and message list filtered by owner',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const mx1 = await nodeStore(store, 'mx1');
        const mx2 = await nodeStore(store, 'mx2');
        await commitMessage(mx1.store, M1, oneEnvelope(M1), AWKWARD_TEXT);
        await commitMessage(mx2.store, M2, oneEnvelope(M2), AWKWARD_TEXT);
        await commitMessage(store, M3, oneEnvelope(M3), AWKWARD_TEXT);

        const walks = {
          mx1: evpidsOf(await walkEntries(mx1.store, { limit: 1 })),
          mx2: evpidsOf(await walkEntries(mx2.store)),
          all: evpidsOf(await walkEntries(store)),
        };
        const expected = {
          mx1: [evpidOf(M1, 1)],
          mx2: [evpidOf(M2, 1)],
          all: [evpidOf(M1, 1), evpidOf(M2, 1), evpidOf(M3, 1)],
        };
        check(show(walks) === show(expected), `walks ${show(walks)}, expected ${show(expected)}`);

        const lists = {
          mx1: (await store.messageList({ owner: 'mx1' })).messages.map((m) => m.msgid),
          unowned: (await store.messageList({ owner: null })).messages.map((m) => m.msgid),
        };
        const listed = { mx1: [M1], unowned: [M3] };
        check(show(lists) === show(listed), `lists ${show(lists)}, expected ${show(listed)}`);
      }),
  },
  {
    name: 'pool lease expiry follows the store clock',
    run: (factory) =>
      withStore(factory, async ({ driver }) => {
        const clock = newClock();
        const store = queueOver(driver, clock, POOL_OPTIONS);
        const mx1 = await nodeStore(store, 'mx1', 1000);

        clock.now += 999;
        expectOutcome(await outcomeOf(mx1.store.walk({})), 'ok', 'walk 1 ms before the expiry');
        const [live] = (await store.nodeList()).nodes;
        check(
          live?.state === 'live' && live.remainingMs === 1,
          `node 1 ms before expiry: ${show(live)}`,
        );

        clock.now += 1;
        expectOutcome(await outcomeOf(mx1.store.walk({})), 'lease-lost', 'walk at the expiry');
        const renew = store.nodeLeaseRenew('mx1', mx1.lease.leaseId, { ttlMs: 1000 });
        expectOutcome(await outcomeOf(renew), 'lease-lost', 'renew at the expiry');
        const [expired] = (await store.nodeList()).nodes;
        check(
          expired?.state === 'expired' && expired.claimable === false,
          `node at the expiry: ${show(expired)}`,
        );

        clock.now += GRACE_MS;
        const [claimable] = (await store.nodeList()).nodes;
        check(claimable?.claimable === true, `node after the grace: ${show(claimable)}`);
        const next = await store.nodeLeaseAcquire('mx1', { ttlMs: 1000 });
        check(next.leaseId !== mx1.lease.leaseId, 'acquire after expiry returned the old lease id');
      }),
  },
];

/** Returns the pool cases of the driver-level contract: leases, owners and claims. */
export function poolCases(): DriverCase[] {
  return cases;
}
