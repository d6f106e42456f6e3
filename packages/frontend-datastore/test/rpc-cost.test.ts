import type { RunningTestServer } from '@smtpq/datastore-testserver';
import type { QueueStore } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatastoreQueueStore, type DatastoreDriver } from '../src/index.js';
import { driverOpen, freshTarget, patterned, piecesOf, testServerStart } from './helpers.js';

let server: RunningTestServer;
let driver: DatastoreDriver;
let store: QueueStore;

beforeAll(async () => {
  server = await testServerStart();
  driver = await driverOpen(freshTarget('cost'));
  store = createDatastoreQueueStore(driver);
});

afterAll(async () => {
  await store?.close();
  await server?.stop();
});

const BODY = patterned(4096, 3);

/** Accepts one message as smtpd does through queue-rest: a bundle of 2 envelopes and a body. */
async function accept(msgid: string): Promise<void> {
  await store.messageBundle(
    msgid,
    [1, 2].map((n) => ({
      evpid: `${msgid}${n.toString(16).padStart(8, '0')}`,
      data: Buffer.from(`version: 3\nrcpt: user${n}@example.org\n`),
    })),
    { source: piecesOf(BODY) },
  );
}

function calls(): { total: number; byMethod: Record<string, number> } {
  return { total: server.counters.totalCalls(), byMethod: server.counters.callCounts() };
}

describe('calls to the service per operation', () => {
  it('accepting a message of 2 envelopes and a 4 KiB body', async () => {
    server.counters.reset();
    await accept('2a000001');
    const cold = calls();

    server.counters.reset();
    await accept('2a000002');
    const warm = calls();

    console.log(`bundle, first in its entity groups: ${JSON.stringify(cold)}`);
    console.log(`bundle, groups known: ${JSON.stringify(warm)}`);
    // Pins the cost: a change that adds calls to the accept path shows here.
    expect(warm.total).toBeLessThanOrEqual(6);
    expect(cold.total - warm.total).toBeLessThanOrEqual(6);
  });

  it('walking committed envelopes', async () => {
    for (let index = 3; index < 53; index++) {
      await accept(
        `${((index * 5) % 256).toString(16).padStart(2, '0')}0000${index.toString(16).padStart(2, '0')}`,
      );
    }
    server.counters.reset();

    let walked = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await store.walk({ cursor, limit: 1000 });
      walked += page.envelopes.length;
      if (page.end) break;
      cursor = page.next ?? undefined;
    }
    const walk = calls();

    console.log(
      `walk of ${walked} envelopes in ${walked / 2} messages: ${JSON.stringify(walk)}, ` +
        `${(walk.total / walked).toFixed(2)} calls per envelope`,
    );
    expect(walked).toBe(104);
    expect(walk.total / walked).toBeLessThanOrEqual(2.2);
  });
});
