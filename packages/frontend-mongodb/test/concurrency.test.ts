import { QueueError } from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoQueueStore, type MongoDriver, openMongoDriver } from '../src/index.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

// Separate MongoClients, as separate frontend processes on one store would have.
const CLIENTS = 4;

let server: TestMongo;
let drivers: MongoDriver[] = [];

beforeAll(async () => {
  server = await testMongoStart();
  const url = server.newDatabaseUrl('concurrency');
  drivers = await Promise.all(Array.from({ length: CLIENTS }, () => openMongoDriver(url)));
}, 900_000);

afterAll(async () => {
  for (const driver of drivers) await driver.close();
  await server?.stop();
});

function driverAt(index: number): MongoDriver {
  return drivers[index % drivers.length] as MongoDriver;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
}

describe('concurrent creates', () => {
  // Field case: 20 concurrent creates of msgid 0000abcd must give one 201 and nineteen 409.
  it('exactly one of 20 creates of one key wins', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        driverAt(index).create('msg/0000abcd', Buffer.from(`creator ${index}`)),
      ),
    );

    const winners = results.flatMap((version, index) => (version === null ? [] : [index]));
    expect(winners).toHaveLength(1);
    const stored = await driverAt(0).get('msg/0000abcd');
    expect(stored?.data.toString()).toBe(`creator ${winners[0]}`);
    expect(stored?.version).toBe(results[winners[0] as number]);
  });

  it('exactly one of 20 message creates succeeds through the queue store', async () => {
    const stores = drivers.map((driver) => createMongoQueueStore(driver));

    const codes = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        codeOf(
          (stores[index % stores.length] as (typeof stores)[0]).messageCreate({
            msgid: '0000abce',
          }),
        ),
      ),
    );

    expect(codes.filter((code) => code === 'ok')).toHaveLength(1);
    expect(codes.filter((code) => code === 'message-exists')).toHaveLength(19);
  });
});

describe('concurrent compare-and-swap', () => {
  // Field case: two frontends update one envelope with the same ETag; 100 rounds, one winner each.
  it('one of two updates with one version wins, 100 rounds', async () => {
    const key = 'env/0000abcd/0000abcd00000001';
    let version = (await driverAt(0).create(key, Buffer.from('round 0'))) as string;

    for (let round = 1; round <= 100; round++) {
      const [first, second] = await Promise.all([
        driverAt(0).replace(key, Buffer.from(`round ${round} from client 0`), version),
        driverAt(1).replace(key, Buffer.from(`round ${round} from client 1`), version),
      ]);

      const outcomes = [first, second].map((result) => (result === 'mismatch' ? 'lost' : 'won'));
      expect(outcomes.sort(), `round ${round}`).toEqual(['lost', 'won']);
      const winner = first === 'mismatch' ? 1 : 0;
      const stored = await driverAt(2).get(key);
      expect(stored?.data.toString(), `round ${round}`).toBe(
        `round ${round} from client ${winner}`,
      );
      version = (winner === 0 ? first : second) as string;
      expect(stored?.version).toBe(version);
    }
  });

  it('one of two envelope updates with one ETag wins, 100 rounds', async () => {
    const [storeA, storeB] = drivers.map((driver) => createMongoQueueStore(driver)) as [
      ReturnType<typeof createMongoQueueStore>,
      ReturnType<typeof createMongoQueueStore>,
    ];
    await storeA.messageCreate({ msgid: '0000abcf' });
    const evpid = '0000abcf00000001';
    let { etag } = await storeA.envelopeCreate('0000abcf', Buffer.from('round 0'), { evpid });

    for (let round = 1; round <= 100; round++) {
      const [first, second] = await Promise.allSettled([
        storeA.envelopeUpdate(evpid, Buffer.from(`round ${round} from A`), { ifMatch: etag }),
        storeB.envelopeUpdate(evpid, Buffer.from(`round ${round} from B`), { ifMatch: etag }),
      ]);

      const codes = [first, second].map((result) =>
        result.status === 'fulfilled' ? 'ok' : (result.reason as QueueError).code,
      );
      expect(codes.sort(), `round ${round}`).toEqual(['ok', 'precondition-failed']);
      const winner = first.status === 'fulfilled' ? first : (second as typeof first);
      const stored = await storeB.envelopeGet(evpid);
      expect(stored.data.toString(), `round ${round}`).toBe(
        `round ${round} from ${winner === first ? 'A' : 'B'}`,
      );
      etag = stored.etag;
      expect((winner as PromiseFulfilledResult<{ etag: string }>).value.etag).toBe(etag);
    }
  });
});
