import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTestServer, startTestServer } from '../src/index.js';
import { insert, key, nonTransactional, type RawClient, rawClient, statusOf } from './helpers.js';

let server: RunningTestServer;
let client: RawClient;

beforeAll(async () => {
  server = await startTestServer();
  client = rawClient(server.address);
  await client.call(
    'Commit',
    nonTransactional(
      insert(key('G', 'g1', 'R', 'a')),
      insert(key('G', 'g1', 'R', 'b')),
      insert(key('G', 'g2', 'R', 'a')),
    ),
  );
});

afterAll(async () => {
  client.close();
  await server.stop();
});

async function begin(): Promise<Buffer> {
  const response = await client.call('BeginTransaction', {});
  return response.transaction as Buffer;
}

const read = (transaction: Buffer, entityKey: object) =>
  client.call('Lookup', { keys: [entityKey], readOptions: { transaction } });

const commitIn = (transaction: Buffer, ...mutations: object[]) =>
  client.call('Commit', { mode: 'TRANSACTIONAL', transaction, mutations });

const upsert = (entityKey: object, value: string) => ({
  upsert: { key: entityKey, properties: { v: { stringValue: value } } },
});

describe('optimistic transactions', () => {
  it('the second of two transactions that read one entity fails with ABORTED', async () => {
    const first = await begin();
    const second = await begin();
    await read(first, key('G', 'g1', 'R', 'a'));
    await read(second, key('G', 'g1', 'R', 'a'));

    expect(await statusOf(commitIn(first, upsert(key('G', 'g1', 'R', 'a'), 'first')))).toBe('OK');
    expect(await statusOf(commitIn(second, upsert(key('G', 'g1', 'R', 'a'), 'second')))).toBe(
      'ABORTED',
    );

    const stored = await client.call('Lookup', { keys: [key('G', 'g1', 'R', 'a')] });
    const found = stored.found as Array<{ entity: { properties: { v: { stringValue: string } } } }>;
    expect(found[0]?.entity.properties.v.stringValue).toBe('first');
  });

  it('write to the same group aborts', async () => {
    const transaction = await begin();
    await read(transaction, key('G', 'g1', 'R', 'a'));

    await client.call('Commit', nonTransactional(upsert(key('G', 'g1', 'R', 'b'), 'other')));

    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g1', 'R', 'a'), 'x')))).toBe(
      'ABORTED',
    );
  });

  it('a write to another entity group does not abort the transaction', async () => {
    const transaction = await begin();
    await read(transaction, key('G', 'g1', 'R', 'a'));

    await client.call('Commit', nonTransactional(upsert(key('G', 'g2', 'R', 'a'), 'elsewhere')));

    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g1', 'R', 'a'), 'y')))).toBe('OK');
  });

  it('an ancestor query in a transaction is a read of its group', async () => {
    const transaction = await begin();
    await client.call('RunQuery', {
      readOptions: { transaction },
      query: {
        kind: [{ name: 'R' }],
        filter: {
          propertyFilter: {
            property: { name: '__key__' },
            op: 'HAS_ANCESTOR',
            value: { keyValue: key('G', 'g1') },
          },
        },
      },
    });

    await client.call('Commit', nonTransactional(insert(key('G', 'g1', 'R', 'new'))));

    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g1', 'R', 'a'), 'z')))).toBe(
      'ABORTED',
    );
  });

  it('a lookup with new_transaction begins a transaction and returns its id', async () => {
    const response = await client.call('Lookup', {
      keys: [key('G', 'g2', 'R', 'a')],
      readOptions: { newTransaction: {} },
    });
    const transaction = response.transaction as Buffer;
    expect(transaction.length).toBeGreaterThan(0);

    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g2', 'R', 'a'), 'new-tx')))).toBe(
      'OK',
    );
  });

  it('a committed transaction cannot commit again', async () => {
    const transaction = await begin();
    await commitIn(transaction, upsert(key('G', 'g2', 'R', 'a'), 'once'));
    expect(await statusOf(commitIn(transaction))).toBe('INVALID_ARGUMENT');
  });

  it('an aborted transaction can be rolled back but not committed', async () => {
    const transaction = await begin();
    await read(transaction, key('G', 'g2', 'R', 'a'));
    await client.call('Commit', nonTransactional(upsert(key('G', 'g2', 'R', 'a'), 'race')));
    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g2', 'R', 'a'), 'late')))).toBe(
      'ABORTED',
    );

    expect(await statusOf(commitIn(transaction))).toBe('INVALID_ARGUMENT');
    expect(await statusOf(client.call('Rollback', { transaction }))).toBe('OK');
  });

  it('a read-only transaction cannot write', async () => {
    const response = await client.call('BeginTransaction', {
      transactionOptions: { readOnly: {} },
    });
    const transaction = response.transaction as Buffer;
    expect(await statusOf(commitIn(transaction, upsert(key('G', 'g1', 'R', 'a'), 'ro')))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('a transaction over more than 25 entity groups is rejected', async () => {
    const transaction = await begin();
    const keys = Array.from({ length: 26 }, (_, i) => key('Many', `g${i}`));
    expect(await statusOf(client.call('Lookup', { keys, readOptions: { transaction } }))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('a non-ancestor query in a transaction is rejected', async () => {
    const transaction = await begin();
    expect(
      await statusOf(
        client.call('RunQuery', { readOptions: { transaction }, query: { kind: [{ name: 'R' }] } }),
      ),
    ).toBe('INVALID_ARGUMENT');
  });

  it('an insert in a transaction of a key that appeared meanwhile aborts', async () => {
    const transaction = await begin();
    await read(transaction, key('G', 'g3', 'R', 'race'));
    await client.call('Commit', nonTransactional(insert(key('G', 'g3', 'R', 'race'))));

    expect(await statusOf(commitIn(transaction, insert(key('G', 'g3', 'R', 'race'))))).toBe(
      'ABORTED',
    );
  });
});
