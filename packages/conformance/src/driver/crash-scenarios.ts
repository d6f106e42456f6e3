import type { QueueOptions, QueueStore, StorageDriver } from '@smtpq/store';
import { everyByteValue } from '../bytes.js';
import { PREFIX } from './crash-inspect.js';
import { commitMessage, evpidOf, type TestClock, uploadOf } from './queue-helpers.js';

/** Queue settings of the crash cases: a short expiry so that garbage collection has work. */
export const CRASH_QUEUE_OPTIONS: Partial<QueueOptions> = { uncommittedMaxAgeMs: 60 * 60 * 1000 };

/** Moves the clock past the uncommitted age, so that collectGarbage removes every leftover. */
export function ageEverything(clock: TestClock): void {
  clock.now += (CRASH_QUEUE_OPTIONS.uncommittedMaxAgeMs ?? 0) + 60 * 60 * 1000;
}

/** One queue operation run with a fault at each of its storage calls in turn. */
export interface CrashScenario {
  operation: string;
  /** Messages the operation may change; every other message must stay as it was. */
  targets: string[];
  /** Brings the store, which already contains the baseline, to the state before the operation. */
  prepare(store: QueueStore, clock: TestClock, driver: StorageDriver): Promise<void>;
  run(store: QueueStore): Promise<unknown>;
}

/** A committed message that no operation touches: it must survive every crash byte for byte. */
export const BASELINE = {
  msgid: '0000b001',
  envelopes: [
    { evpid: evpidOf('0000b001', 1), data: everyByteValue(300, 11) },
    { evpid: evpidOf('0000b001', 2), data: everyByteValue(1000, 12) },
  ],
  body: everyByteValue(150_000, 13),
};

export async function writeBaseline(store: QueueStore): Promise<void> {
  await commitMessage(store, BASELINE.msgid, BASELINE.envelopes, BASELINE.body);
}

const T = '0000c001';
const G1 = '0000d001';
const G2 = '0000d002';

function envelope(msgid: string, index: number) {
  return { evpid: evpidOf(msgid, index), data: everyByteValue(200 + index, index) };
}

const BODY = everyByteValue(120_000, 21);
const NEW_BODY = everyByteValue(90_000, 22);

export const CRASH_SCENARIOS: CrashScenario[] = [
  {
    operation: 'messageCreate',
    targets: [T],
    prepare: async () => {},
    run: (store) => store.messageCreate({ msgid: T, token: 'crash-test' }),
  },
  {
    operation: 'envelopeCreate',
    targets: [T],
    // A bounce: an envelope added to a committed message is visible at once.
    prepare: (store) => commitMessage(store, T, [envelope(T, 1)], BODY),
    run: (store) => store.envelopeCreate(T, envelope(T, 2).data, { evpid: evpidOf(T, 2) }),
  },
  {
    operation: 'bodyPut',
    targets: [T],
    prepare: async (store) => {
      await store.messageCreate({ msgid: T });
      await store.envelopeCreate(T, envelope(T, 1).data, { evpid: evpidOf(T, 1) });
      await store.bodyPut(T, uploadOf(BODY));
    },
    run: (store) => store.bodyPut(T, uploadOf(NEW_BODY)),
  },
  {
    operation: 'messageCommit',
    targets: [T],
    prepare: async (store) => {
      await store.messageCreate({ msgid: T });
      await store.envelopeCreate(T, envelope(T, 1).data, { evpid: evpidOf(T, 1) });
      await store.envelopeCreate(T, envelope(T, 2).data, { evpid: evpidOf(T, 2) });
      await store.bodyPut(T, uploadOf(BODY));
    },
    run: (store) => store.messageCommit(T),
  },
  {
    operation: 'messageBundle',
    targets: [T],
    prepare: async () => {},
    run: (store) =>
      store.messageBundle(T, [envelope(T, 1), envelope(T, 2), envelope(T, 3)], uploadOf(BODY), {
        token: 'crash-test',
      }),
  },
  {
    operation: 'envelopeUpdate',
    targets: [T],
    prepare: (store) => commitMessage(store, T, [envelope(T, 1), envelope(T, 2)], BODY),
    run: async (store) => {
      const { etag } = await store.envelopeGet(evpidOf(T, 1));
      return store.envelopeUpdate(evpidOf(T, 1), everyByteValue(400, 31), { ifMatch: etag });
    },
  },
  {
    operation: 'envelopeDelete',
    targets: [T],
    // The last envelope: its delete also removes the committed message and its body.
    prepare: (store) => commitMessage(store, T, [envelope(T, 1)], BODY),
    run: (store) => store.envelopeDelete(evpidOf(T, 1)),
  },
  {
    operation: 'messageDelete',
    targets: [T],
    prepare: (store) => commitMessage(store, T, [envelope(T, 1), envelope(T, 2)], BODY),
    run: (store) => store.messageDelete(T),
  },
  {
    operation: 'collectGarbage',
    targets: [G1, G2],
    prepare: async (store, clock, driver) => {
      // An abandoned open message, and the envelope and body of a message whose record is gone.
      await store.messageCreate({ msgid: G1 });
      await store.envelopeCreate(G1, envelope(G1, 1).data, { evpid: evpidOf(G1, 1) });
      await store.bodyPut(G1, uploadOf(BODY));
      await commitMessage(store, G2, [envelope(G2, 1)], BODY);
      await driver.delete(`${PREFIX.message}${G2}`);
      ageEverything(clock);
    },
    run: (store) => store.collectGarbage(),
  },
];
