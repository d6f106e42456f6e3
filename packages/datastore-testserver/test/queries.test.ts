import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTestServer, startTestServer } from '../src/index.js';
import {
  key,
  nonTransactional,
  type RawClient,
  rawClient,
  resultNames,
  statusOf,
} from './helpers.js';

let server: RunningTestServer;
let client: RawClient;

const integer = (value: number) => ({ integerValue: String(value) });
const text = (value: string) => ({ stringValue: value });

beforeAll(async () => {
  server = await startTestServer({ maxBatchResults: 3 });
  client = rawClient(server.address);

  const rows: Array<[string, string, number, string]> = [
    ['g1', 'a', 5, 'red'],
    ['g1', 'b', 3, 'blue'],
    ['g1', 'c', 9, 'red'],
    ['g1', 'd', 1, 'red'],
    ['g2', 'e', 7, 'blue'],
    ['g2', 'f', 2, 'red'],
  ];
  await client.call(
    'Commit',
    nonTransactional(
      ...rows.map(([group, name, size, color]) => ({
        insert: {
          key: key('G', group, 'R', name),
          properties: {
            size: integer(size),
            color: text(color),
            hidden: { ...integer(size), excludeFromIndexes: true },
          },
        },
      })),
      { insert: { key: key('G', 'g1', 'Other', 'x'), properties: {} } },
    ),
  );
});

afterAll(async () => {
  client.close();
  await server.stop();
});

const property = (name: string, op: string, value: object) => ({
  propertyFilter: { property: { name }, op, value },
});
const and = (...filters: object[]) => ({ compositeFilter: { op: 'AND', filters } });
const ancestor = (...parts: string[]) =>
  property('__key__', 'HAS_ANCESTOR', { keyValue: key(...parts) });
const keyAbove = (...parts: string[]) =>
  property('__key__', 'GREATER_THAN', { keyValue: key(...parts) });

/** Runs a query through every batch, as the client library does. */
async function runAll(query: Record<string, unknown>): Promise<string[]> {
  const names: string[] = [];
  let startCursor: Buffer | undefined;
  for (;;) {
    const response = await client.call('RunQuery', { query: { ...query, startCursor } });
    names.push(...resultNames(response));
    const batch = response.batch as { moreResults: string; endCursor: Buffer };
    if (batch.moreResults !== 'NOT_FINISHED') return names;
    startCursor = batch.endCursor;
  }
}

describe('queries', () => {
  it('kind query returns every entity of the kind in key order, across batches', async () => {
    expect(await runAll({ kind: [{ name: 'R' }] })).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('a batch holds at most maxBatchResults and says NOT_FINISHED', async () => {
    const response = await client.call('RunQuery', { query: { kind: [{ name: 'R' }] } });
    expect(resultNames(response)).toEqual(['a', 'b', 'c']);
    expect((response.batch as { moreResults: string }).moreResults).toBe('NOT_FINISHED');
  });

  it('ancestor query returns the group only', async () => {
    expect(await runAll({ kind: [{ name: 'R' }], filter: ancestor('G', 'g2') })).toEqual([
      'e',
      'f',
    ]);
  });

  it('kindless ancestor query returns every kind of the group', async () => {
    expect(await runAll({ filter: ancestor('G', 'g1') })).toEqual(['x', 'a', 'b', 'c', 'd']);
  });

  it('key range with ancestor and limit', async () => {
    const response = await client.call('RunQuery', {
      query: {
        kind: [{ name: 'R' }],
        filter: and(ancestor('G', 'g1'), keyAbove('G', 'g1', 'R', 'a')),
        projection: [{ property: { name: '__key__' } }],
        limit: { value: 2 },
      },
    });
    const batch = response.batch as {
      moreResults: string;
      entityResultType: string;
      entityResults: Array<{ entity: { properties?: object } }>;
    };
    expect(resultNames(response)).toEqual(['b', 'c']);
    expect(batch.moreResults).toBe('MORE_RESULTS_AFTER_LIMIT');
    expect(batch.entityResultType).toBe('KEY_ONLY');
    expect(batch.entityResults[0]?.entity.properties).toBeUndefined();
  });

  it('equality filters combine with AND', async () => {
    const filter = and(property('color', 'EQUAL', text('red')), ancestor('G', 'g1'));
    expect(await runAll({ kind: [{ name: 'R' }], filter })).toEqual(['a', 'c', 'd']);
  });

  it('inequality filter sorted on its property', async () => {
    const query = {
      kind: [{ name: 'R' }],
      filter: property('size', 'GREATER_THAN_OR_EQUAL', integer(3)),
      order: [{ property: { name: 'size' }, direction: 'DESCENDING' }],
    };
    expect(await runAll(query)).toEqual(['c', 'e', 'a', 'b']);
  });

  it('unindexed properties match no filter', async () => {
    const filter = property('hidden', 'EQUAL', integer(5));
    expect(await runAll({ kind: [{ name: 'R' }], filter })).toEqual([]);
  });

  it('start and end cursors bound the results', async () => {
    const query = { kind: [{ name: 'R' }], order: [{ property: { name: 'size' } }] };
    const first = await client.call('RunQuery', { query: { ...query, limit: { value: 2 } } });
    expect(resultNames(first)).toEqual(['d', 'f']);
    const startCursor = (first.batch as { endCursor: Buffer }).endCursor;

    const results = (first.batch as { entityResults: Array<{ cursor: Buffer }> }).entityResults;
    const second = await client.call('RunQuery', {
      query: { ...query, startCursor, limit: { value: 2 } },
    });
    expect(resultNames(second)).toEqual(['b', 'a']);

    const endCursor = (second.batch as { entityResults: Array<{ cursor: Buffer }> })
      .entityResults[0]?.cursor;
    const bounded = await client.call('RunQuery', { query: { ...query, startCursor, endCursor } });
    expect(resultNames(bounded)).toEqual(['b']);
    expect((bounded.batch as { moreResults: string }).moreResults).toBe(
      'MORE_RESULTS_AFTER_CURSOR',
    );
    expect(results).toHaveLength(2);
  });

  it('offset skips results', async () => {
    const response = await client.call('RunQuery', {
      query: { kind: [{ name: 'R' }], offset: 4 },
    });
    expect(resultNames(response)).toEqual(['e', 'f']);
    expect((response.batch as { skippedResults: number }).skippedResults).toBe(4);
  });

  it('a changed cursor gets INVALID_ARGUMENT', async () => {
    const first = await client.call('RunQuery', {
      query: { kind: [{ name: 'R' }], limit: { value: 1 } },
    });
    const cursor = Buffer.from((first.batch as { endCursor: Buffer }).endCursor);
    cursor[cursor.length - 2] ^= 1;
    expect(
      await statusOf(
        client.call('RunQuery', { query: { kind: [{ name: 'R' }], startCursor: cursor } }),
      ),
    ).toBe('INVALID_ARGUMENT');
  });

  it('a cursor of another query shape gets INVALID_ARGUMENT', async () => {
    const first = await client.call('RunQuery', {
      query: { kind: [{ name: 'R' }], limit: { value: 1 } },
    });
    const startCursor = (first.batch as { endCursor: Buffer }).endCursor;
    const other = { kind: [{ name: 'R' }], order: [{ property: { name: 'size' } }], startCursor };
    expect(await statusOf(client.call('RunQuery', { query: other }))).toBe('INVALID_ARGUMENT');
  });
});

describe('index rules', () => {
  const cases: Array<[string, string, object]> = [
    [
      'equality filter with a sort order on another property',
      'FAILED_PRECONDITION',
      {
        kind: [{ name: 'R' }],
        filter: property('color', 'EQUAL', text('red')),
        order: [{ property: { name: 'size' } }],
      },
    ],
    [
      'ancestor with a property inequality',
      'FAILED_PRECONDITION',
      {
        kind: [{ name: 'R' }],
        filter: and(ancestor('G', 'g1'), property('size', 'GREATER_THAN', integer(1))),
      },
    ],
    [
      'two sort orders',
      'FAILED_PRECONDITION',
      {
        kind: [{ name: 'R' }],
        order: [{ property: { name: 'size' } }, { property: { name: 'color' } }],
      },
    ],
    [
      'inequalities on two properties',
      'INVALID_ARGUMENT',
      {
        kind: [{ name: 'R' }],
        filter: and(
          property('size', 'GREATER_THAN', integer(1)),
          property('color', 'LESS_THAN', text('z')),
        ),
      },
    ],
    [
      'inequality with a first sort order on another property',
      'INVALID_ARGUMENT',
      {
        kind: [{ name: 'R' }],
        filter: property('size', 'GREATER_THAN', integer(1)),
        order: [{ property: { name: 'color' } }],
      },
    ],
    [
      'kindless query with a property filter',
      'INVALID_ARGUMENT',
      { filter: property('size', 'EQUAL', integer(1)) },
    ],
    [
      'HAS_ANCESTOR on a property',
      'INVALID_ARGUMENT',
      {
        kind: [{ name: 'R' }],
        filter: property('size', 'HAS_ANCESTOR', { keyValue: key('G', 'g1') }),
      },
    ],
    [
      'OR filter',
      'UNIMPLEMENTED',
      {
        kind: [{ name: 'R' }],
        filter: { compositeFilter: { op: 'OR', filters: [property('size', 'EQUAL', integer(1))] } },
      },
    ],
  ];

  for (const [name, expected, query] of cases) {
    it(`${name} gets ${expected}`, async () => {
      expect(await statusOf(client.call('RunQuery', { query }))).toBe(expected);
    });
  }
});

describe('eventual consistency', () => {
  let lagged: RunningTestServer;
  let laggedClient: RawClient;

  beforeAll(async () => {
    lagged = await startTestServer({ queryLagMs: 60_000 });
    laggedClient = rawClient(lagged.address);
    await laggedClient.call(
      'Commit',
      nonTransactional({ insert: { key: key('G', 'g', 'R', 'new'), properties: {} } }),
    );
  });

  afterAll(async () => {
    laggedClient.close();
    await lagged.stop();
  });

  it('a non-ancestor query does not see a recent write', async () => {
    const response = await laggedClient.call('RunQuery', { query: { kind: [{ name: 'R' }] } });
    expect(resultNames(response)).toEqual([]);
  });

  it('an ancestor query and a lookup see it', async () => {
    const query = await laggedClient.call('RunQuery', {
      query: { kind: [{ name: 'R' }], filter: ancestor('G', 'g') },
    });
    expect(resultNames(query)).toEqual(['new']);
    const found = await laggedClient.call('Lookup', { keys: [key('G', 'g', 'R', 'new')] });
    expect(found.found).toHaveLength(1);
  });

  it('an EVENTUAL lookup does not see it', async () => {
    const found = await laggedClient.call('Lookup', {
      keys: [key('G', 'g', 'R', 'new')],
      readOptions: { readConsistency: 'EVENTUAL' },
    });
    expect(found.found ?? []).toHaveLength(0);
    expect(found.missing).toHaveLength(1);
  });
});
