import { createHash } from 'node:crypto';
import type { StorageDriver } from '@smtpq/store';
import { ConformanceFailure, check, fail, show } from '../failure.js';
import {
  describeView,
  inspectQueue,
  type MessageView,
  type QueueSnapshot,
  sameView,
  viewOf,
} from './crash-inspect.js';
import {
  ageEverything,
  BASELINE,
  CRASH_QUEUE_OPTIONS,
  CRASH_SCENARIOS,
  type CrashScenario,
  writeBaseline,
} from './crash-scenarios.js';
import { FAULT_MODES, FaultDriver, type FaultMode } from './fault-driver.js';
import { type DriverCase, type DriverFactory, withStore } from './harness.js';
import { newClock, queueOver, type TestClock } from './queue-helpers.js';

/** No queue operation makes this many storage calls on the small stores of these cases. */
const MAX_CALLS = 500;

/** The states of the queue without a fault: before the operation and after it. */
interface References {
  before: QueueSnapshot;
  after: QueueSnapshot;
  beforeCollected: QueueSnapshot;
  afterCollected: QueueSnapshot;
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The baseline message as it was written: what every inspection must find. */
const BASELINE_VIEW: MessageView = {
  state: 'committed',
  bodySha256: sha256Hex(BASELINE.body),
  walk: BASELINE.envelopes.map((envelope) => `${envelope.evpid} ${sha256Hex(envelope.data)}`),
};

async function prepared(driver: StorageDriver, scenario: CrashScenario, clock: TestClock) {
  const store = queueOver(driver, clock, CRASH_QUEUE_OPTIONS);
  await writeBaseline(store);
  await scenario.prepare(store, clock, driver);
  return store;
}

async function collected(driver: StorageDriver, clock: TestClock): Promise<QueueSnapshot> {
  ageEverything(clock);
  const store = queueOver(driver, clock, CRASH_QUEUE_OPTIONS);
  await store.collectGarbage();
  return inspectQueue(store, driver);
}

async function references(factory: DriverFactory, scenario: CrashScenario): Promise<References> {
  const [before, beforeCollected] = await withStore(factory, async ({ driver }) => {
    const clock = newClock();
    const store = await prepared(driver, scenario, clock);
    return [await inspectQueue(store, driver), await collected(driver, clock)] as const;
  });
  const [after, afterCollected] = await withStore(factory, async ({ driver }) => {
    const clock = newClock();
    const store = await prepared(driver, scenario, clock);
    await scenario.run(store);
    return [await inspectQueue(store, driver), await collected(driver, clock)] as const;
  });
  return { before, after, beforeCollected, afterCollected };
}

function checkBaseline(snapshot: QueueSnapshot, when: string): void {
  const view = viewOf(snapshot, BASELINE.msgid);
  check(
    sameView(view, BASELINE_VIEW),
    `${when}: acknowledged message ${BASELINE.msgid} changed: ${describeView(view)}, expected ${describeView(BASELINE_VIEW)}`,
  );
}

/** Checks what a client sees right after the restart: each part is as before or as after. */
function checkRestarted(snapshot: QueueSnapshot, refs: References, scenario: CrashScenario): void {
  checkBaseline(snapshot, 'after the restart');
  for (const msgid of scenario.targets) {
    const seen = viewOf(snapshot, msgid);
    const before = viewOf(refs.before, msgid);
    const after = viewOf(refs.after, msgid);
    const where = `after the restart, message ${msgid} is ${describeView(seen)}; before the operation ${describeView(before)}, after it ${describeView(after)}`;

    // A commit is one write, so the walk shows all of a message's envelopes or none.
    check(
      show(seen.walk, 1e6) === show(before.walk, 1e6) ||
        show(seen.walk, 1e6) === show(after.walk, 1e6),
      `${where}: the walk matches neither`,
    );

    const states = new Set([before.state, after.state]);
    // A bundle creates its message open before it commits it.
    if (before.state === 'absent' && after.state === 'committed') states.add('open');
    check(states.has(seen.state), `${where}: the state matches neither`);

    const bodies = new Set([before.bodySha256, after.bodySha256]);
    if (before.state === 'absent') bodies.add(null);
    check(bodies.has(seen.bodySha256), `${where}: the body matches neither`);
  }
}

/** Checks the store after garbage collection: nothing of the failed operation may be left. */
function checkCollected(snapshot: QueueSnapshot, refs: References, scenario: CrashScenario): void {
  checkBaseline(snapshot, 'after garbage collection');
  for (const msgid of scenario.targets) {
    const seen = viewOf(snapshot, msgid);
    const before = viewOf(refs.beforeCollected, msgid);
    const after = viewOf(refs.afterCollected, msgid);
    check(
      sameView(seen, before) || sameView(seen, after),
      `after garbage collection, message ${msgid} is ${describeView(seen)}; expected ${describeView(before)} (before the operation) or ${describeView(after)} (after it)`,
    );
  }

  const keys = show(snapshot.keys, 1e6);
  check(
    keys === show(refs.beforeCollected.keys, 1e6) || keys === show(refs.afterCollected.keys, 1e6),
    `after garbage collection the store holds ${show(snapshot.keys, 400)}; expected ${show(refs.beforeCollected.keys, 400)} or ${show(refs.afterCollected.keys, 400)}`,
  );
}

/**
 * Runs the operation with a fault at storage call `k`, restarts the store and checks it.
 * Returns false once `k` is past the operation's last storage call.
 */
async function crashAt(
  factory: DriverFactory,
  scenario: CrashScenario,
  mode: FaultMode,
  k: number,
  refs: References,
): Promise<boolean> {
  return withStore(factory, async ({ driver, reopen }) => {
    const clock = newClock();
    const faulty = new FaultDriver(driver);
    const store = await prepared(faulty, scenario, clock);

    faulty.arm(k, mode);
    const outcome = await scenario.run(store).then(
      () => 'ok',
      (error: unknown) => error,
    );
    await faulty.settle();
    if (faulty.firedAt === null) {
      if (outcome !== 'ok')
        fail(`${scenario.operation} failed without a fault: ${String(outcome)}`);
      return false;
    }

    const at = `${scenario.operation} with a ${mode} at storage call ${k} (${faulty.firedAt})`;
    try {
      const restarted = await reopen();
      const restartedStore = queueOver(restarted, clock, CRASH_QUEUE_OPTIONS);
      checkRestarted(await inspectQueue(restartedStore, restarted), refs, scenario);
      checkCollected(await collected(restarted, clock), refs, scenario);
    } catch (error) {
      if (error instanceof ConformanceFailure) fail(`${at}: ${error.message}`);
      throw new Error(`${at}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    return true;
  });
}

function crashCase(scenario: CrashScenario, mode: FaultMode): DriverCase {
  return {
    name: `crash: ${scenario.operation}, ${mode} at every storage call`,
    run: async (factory) => {
      const refs = await references(factory, scenario);
      checkBaseline(refs.before, 'without a fault, before the operation');
      checkBaseline(refs.after, 'without a fault, after the operation');

      for (let k = 1; k <= MAX_CALLS; k++) {
        if (!(await crashAt(factory, scenario, mode, k, refs))) return;
      }
      fail(`${scenario.operation} made more than ${MAX_CALLS} storage calls`);
    },
  };
}

/**
 * Returns the crash cases: every queue operation in every fault mode, with the fault at each of
 * its storage calls in turn. After each fault the store is reopened and checked as a restarted
 * frontend would find it, then checked again after garbage collection.
 */
export function crashCases(): DriverCase[] {
  return CRASH_SCENARIOS.flatMap((scenario) =>
    FAULT_MODES.map((mode) => crashCase(scenario, mode)),
  );
}
