import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, type RunningTestServer, startTestServer } from '../src/index.js';
import {
  blob,
  insert,
  key,
  nonTransactional,
  type RawClient,
  rawClient,
  statusOf,
} from './helpers.js';

let server: RunningTestServer;
let client: RawClient;

beforeAll(async () => {
  server = await startTestServer();
  client = rawClient(server.address);
});

afterAll(async () => {
  client.close();
  await server.stop();
});

const commit = (...mutations: object[]) => client.call('Commit', nonTransactional(...mutations));
const lookupCount = async (...keys: object[]) => {
  const response = await client.call('Lookup', { keys });
  return (response.found as unknown[] | undefined)?.length ?? 0;
};

describe('entity size', () => {
  // Key K:"k" is 16 + 2 + 2 = 20 bytes; each one-letter property name is 2 bytes; an entity
  // adds 32. Property `a` contains the largest unindexed value, so `b` gets what remains.
  const fixed = 20 + 32 + 2 + LIMITS.unindexedValueBytes + 2;

  it('accepts an entity of exactly 1,048,572 bytes', async () => {
    const room = LIMITS.entityBytes - fixed;
    expect(room).toBe(29);

    const status = await statusOf(
      commit(insert(key('K', 'e'), { a: blob(LIMITS.unindexedValueBytes), b: blob(room) })),
    );

    expect(status).toBe('OK');
    expect(await lookupCount(key('K', 'e'))).toBe(1);
  });

  it('rejects an entity one byte larger', async () => {
    const room = LIMITS.entityBytes - fixed + 1;

    const status = await statusOf(
      commit(insert(key('K', 'o'), { a: blob(LIMITS.unindexedValueBytes), b: blob(room) })),
    );

    expect(status).toBe('INVALID_ARGUMENT');
    expect(await lookupCount(key('K', 'o'))).toBe(0);
  });

  it('counts the namespace and the key path in the entity size', async () => {
    const namespaced = {
      partitionId: { namespaceId: 'n'.repeat(99) },
      path: [{ kind: 'K', name: 'k' }],
    };
    // The namespace adds 100 bytes to the key, more than the 29 bytes the entity above had left.
    const status = await statusOf(
      commit(insert(namespaced, { a: blob(LIMITS.unindexedValueBytes), b: blob(29) })),
    );
    expect(status).toBe('INVALID_ARGUMENT');
  });
});

describe('property size', () => {
  it('accepts an unindexed blob of 1,048,487 bytes and rejects one byte more', async () => {
    expect(await statusOf(commit(insert(key('P', 'max'), { d: blob(1_048_487) })))).toBe('OK');
    expect(await statusOf(commit(insert(key('P', 'over'), { d: blob(1_048_488) })))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('accepts an indexed string of 1500 bytes and rejects 1501', async () => {
    const text = (length: number) => ({ stringValue: 'x'.repeat(length) });
    expect(await statusOf(commit(insert(key('S', 'max'), { s: text(1500) })))).toBe('OK');
    expect(await statusOf(commit(insert(key('S', 'over'), { s: text(1501) })))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('rejects an indexed blob over 1500 bytes', async () => {
    expect(await statusOf(commit(insert(key('B', 'i'), { d: blob(1501, true) })))).toBe(
      'INVALID_ARGUMENT',
    );
  });
});

describe('request size', () => {
  it('accepts a commit of 9 MiB', async () => {
    const mutations = Array.from({ length: 9 }, (_, i) =>
      insert(key('R', `nine-${i}`), { d: blob(1_000_000) }),
    );
    expect(await statusOf(commit(...mutations))).toBe('OK');
  });

  it('rejects a commit over 10 MiB with nothing written', async () => {
    const mutations = Array.from({ length: 11 }, (_, i) =>
      insert(key('R', `eleven-${i}`), { d: blob(1_000_000) }),
    );

    expect(await statusOf(commit(...mutations))).toBe('INVALID_ARGUMENT');
    expect(await lookupCount(key('R', 'eleven-0'), key('R', 'eleven-10'))).toBe(0);
  });
});

describe('mutations per commit', () => {
  it('accepts 500 mutations', async () => {
    const mutations = Array.from({ length: 500 }, (_, i) => insert(key('M', `ok-${i}`)));
    expect(await statusOf(commit(...mutations))).toBe('OK');
  });

  it('rejects 501 mutations with nothing written', async () => {
    const mutations = Array.from({ length: 501 }, (_, i) => insert(key('M', `no-${i}`)));

    expect(await statusOf(commit(...mutations))).toBe('INVALID_ARGUMENT');
    expect(await lookupCount(key('M', 'no-0'))).toBe(0);
  });
});

describe('lookup', () => {
  it('accepts 1000 keys and rejects 1001', async () => {
    const keys = (count: number) => Array.from({ length: count }, (_, i) => key('L', `k${i}`));
    expect(await statusOf(client.call('Lookup', { keys: keys(1000) }))).toBe('OK');
    expect(await statusOf(client.call('Lookup', { keys: keys(1001) }))).toBe('INVALID_ARGUMENT');
  });
});

describe('key size', () => {
  it('rejects a key over 6 KiB', async () => {
    const long = key(
      'K',
      'a'.repeat(1400),
      'K',
      'b'.repeat(1400),
      'K',
      'c'.repeat(1400),
      'K',
      'd'.repeat(1400),
      'K',
      'e'.repeat(1400),
    );
    expect(await statusOf(commit(insert(long)))).toBe('INVALID_ARGUMENT');
  });

  it('rejects a key name over 1500 bytes', async () => {
    expect(await statusOf(commit(insert(key('K', 'n'.repeat(1501)))))).toBe('INVALID_ARGUMENT');
  });
});
