import type { CommandStartedEvent } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMongoQueueStore, type MongoDriver, openMongoDriver } from '../src/index.js';
import { generatedStream } from './support/bytes.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

let server: TestMongo;
let driver: MongoDriver;
const commands: CommandStartedEvent[] = [];

beforeAll(async () => {
  server = await testMongoStart();
  driver = await openMongoDriver(server.newDatabaseUrl('list'), {
    clientOptions: { monitorCommands: true },
  });
  driver.client.on('commandStarted', (event) => commands.push(event));
}, 900_000);

afterAll(async () => {
  await driver?.close();
  await server?.stop();
});

function findsOn(collection: string): Array<Record<string, unknown>> {
  return commands
    .filter((event) => event.commandName === 'find' && event.command.find === collection)
    .map((event) => event.command);
}

/** The sort of a find command; the client sends it as a Map to keep the key order. */
function sortOf(find: Record<string, unknown> | undefined): unknown {
  const sort = find?.sort;
  return sort instanceof Map ? Object.fromEntries(sort) : sort;
}

describe('list queries', () => {
  it('list sends one _id range sorted by _id', async () => {
    commands.length = 0;
    await driver.list('env/', { after: 'env/0000abcd/0000abcd00000001', limit: 10 });

    const [find, ...others] = findsOn('records');
    expect(others).toEqual([]);
    expect(find?.filter).toEqual({
      _id: { $gt: 'env/0000abcd/0000abcd00000001', $lt: 'env0' },
    });
    expect(sortOf(find)).toEqual({ _id: 1 });
    expect(find?.limit).toBe(10);
    expect(find?.projection).toEqual({ _id: 1 });
  });

  it('list without a cursor starts at the prefix', async () => {
    commands.length = 0;
    await driver.list('msg/', { limit: 1000 });

    expect(findsOn('records')[0]?.filter).toEqual({ _id: { $gte: 'msg/', $lt: 'msg0' } });
  });

  it('blobList sends one _id range sorted by _id', async () => {
    commands.length = 0;
    await driver.blobList('body/0000abcd/', { after: 'body/0000abcd/a', limit: 5 });

    const [find] = findsOn('blobs');
    expect(find?.filter).toEqual({ _id: { $gt: 'body/0000abcd/a', $lt: 'body/0000abcd0' } });
    expect(sortOf(find)).toEqual({ _id: 1 });
    expect(find?.limit).toBe(5);
  });

  it('every list of a queue walk is an _id range', async () => {
    const store = createMongoQueueStore(driver);
    await store.messageCreate({ msgid: '0000abcd' });
    for (let index = 1; index <= 5; index++) {
      await store.envelopeCreate('0000abcd', Buffer.from(`rcpt ${index}`), {
        evpid: `0000abcd0000000${index}`,
      });
    }
    await store.bodyPut('0000abcd', { source: generatedStream(100) });
    await store.messageCommit('0000abcd');

    commands.length = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await store.walk({ cursor, limit: 2 });
      if (page.end) break;
      cursor = page.next ?? undefined;
    }

    const finds = findsOn('records');
    const isRange = (find: Record<string, unknown>) =>
      typeof (find.filter as { _id: unknown })._id === 'object';
    const ranges = finds.filter(isRange);
    expect(ranges.length).toBeGreaterThan(0);
    for (const find of ranges) {
      expect(Object.keys(find.filter as object)).toEqual(['_id']);
      expect((find.filter as { _id: object })._id).toHaveProperty('$lt');
      expect(sortOf(find)).toEqual({ _id: 1 });
      expect(typeof find.limit).toBe('number');
    }
    // Every other find is a point read by _id.
    for (const find of finds.filter((entry) => !isRange(entry))) {
      expect(typeof (find.filter as { _id: unknown })._id).toBe('string');
    }
  });
});
