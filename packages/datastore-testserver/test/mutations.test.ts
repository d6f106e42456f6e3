import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTestServer, startTestServer } from '../src/index.js';
import { insert, key, nonTransactional, type RawClient, rawClient, statusOf } from './helpers.js';

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
const exists = async (entityKey: object) => {
  const response = await client.call('Lookup', { keys: [entityKey] });
  return ((response.found as unknown[] | undefined)?.length ?? 0) === 1;
};

describe('commit rules', () => {
  it('insert of an existing key fails with ALREADY_EXISTS', async () => {
    await commit(insert(key('E', 'one')));
    expect(await statusOf(commit(insert(key('E', 'one'))))).toBe('ALREADY_EXISTS');
  });

  it('update of a missing key fails with NOT_FOUND', async () => {
    const update = { update: { key: key('E', 'missing'), properties: {} } };
    expect(await statusOf(commit(update))).toBe('NOT_FOUND');
    expect(await exists(key('E', 'missing'))).toBe(false);
  });

  it('a failing mutation leaves the whole commit unapplied', async () => {
    await commit(insert(key('E', 'taken')));

    const status = await statusOf(commit(insert(key('E', 'fresh')), insert(key('E', 'taken'))));

    expect(status).toBe('ALREADY_EXISTS');
    expect(await exists(key('E', 'fresh'))).toBe(false);
  });

  it('upsert and delete need no existing entity', async () => {
    expect(await statusOf(commit({ upsert: { key: key('E', 'up'), properties: {} } }))).toBe('OK');
    expect(await statusOf(commit({ delete: key('E', 'never') }))).toBe('OK');
    expect(await statusOf(commit({ delete: key('E', 'up') }))).toBe('OK');
    expect(await exists(key('E', 'up'))).toBe(false);
  });

  it('insert of an incomplete key allocates an id', async () => {
    const response = await commit({
      insert: { key: { path: [{ kind: 'Auto' }] }, properties: {} },
    });
    const results = response.mutationResults as Array<{ key: { path: Array<{ id: string }> } }>;
    const id = results[0]?.key.path[0]?.id ?? '0';
    expect(BigInt(id)).toBeGreaterThan(0n);
  });

  it('versions grow with every write of an entity', async () => {
    const first = await commit({ upsert: { key: key('E', 'v'), properties: {} } });
    const second = await commit({ upsert: { key: key('E', 'v'), properties: {} } });
    const version = (response: Record<string, unknown>) =>
      BigInt((response.mutationResults as Array<{ version: string }>)[0]?.version ?? '0');
    expect(version(second)).toBeGreaterThan(version(first));
  });
});

describe('bad requests', () => {
  const cases: Array<[string, string, object]> = [
    ['no project id', 'Lookup', { projectId: '', keys: [key('E', 'a')] }],
    ['no keys', 'Lookup', { keys: [] }],
    ['incomplete key in a lookup', 'Lookup', { keys: [{ path: [{ kind: 'E' }] }] }],
    ['reserved kind', 'Commit', nonTransactional(insert(key('__E__', 'a')))],
    [
      'reserved property name',
      'Commit',
      nonTransactional(insert(key('E', 'r'), { __p__: { nullValue: 'NULL_VALUE' } })),
    ],
    [
      'key of another project',
      'Lookup',
      { keys: [{ partitionId: { projectId: 'other' }, path: [{ kind: 'E', name: 'a' }] }] },
    ],
    ['id 0', 'Lookup', { keys: [{ path: [{ kind: 'E', id: '0' }] }] }],
    ['mutation without operation', 'Commit', nonTransactional({})],
    [
      'two mutations of one entity outside a transaction',
      'Commit',
      nonTransactional(insert(key('E', 'twice')), { delete: key('E', 'twice') }),
    ],
    ['unspecified commit mode', 'Commit', { mutations: [insert(key('E', 'mode'))] }],
    [
      'transactional commit without a transaction',
      'Commit',
      { mode: 'TRANSACTIONAL', mutations: [] },
    ],
    [
      'unknown transaction',
      'Commit',
      { mode: 'TRANSACTIONAL', transaction: Buffer.from('00ff', 'hex'), mutations: [] },
    ],
    ['rollback of an unknown transaction', 'Rollback', { transaction: Buffer.from('00ff', 'hex') }],
    [
      'array inside an array',
      'Commit',
      nonTransactional(
        insert(key('E', 'arr'), {
          a: { arrayValue: { values: [{ arrayValue: { values: [] } }] } },
        }),
      ),
    ],
  ];

  for (const [name, method, request] of cases) {
    it(`${name} gets INVALID_ARGUMENT`, async () => {
      expect(await statusOf(client.call(method, request))).toBe('INVALID_ARGUMENT');
    });
  }

  it('unsupported features get UNIMPLEMENTED, not a silent success', async () => {
    const gql = { gqlQuery: { queryString: 'SELECT * FROM E' } };
    expect(await statusOf(client.call('RunQuery', gql))).toBe('UNIMPLEMENTED');
    const baseVersion = nonTransactional({
      upsert: { key: key('E', 'b'), properties: {} },
      baseVersion: '1',
    });
    expect(await statusOf(client.call('Commit', baseVersion))).toBe('UNIMPLEMENTED');
    expect(await exists(key('E', 'b'))).toBe(false);
  });
});
