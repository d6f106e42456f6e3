import { decodeCursor, encodeCursor, type Position } from './cursor.js';
import { type StoredEntity, timestampOf } from './entity-store.js';
import { groupOf, wireKey } from './keys.js';
import { type Comparison, planQuery, type QueryPlan } from './query-plan.js';
import { invalidArgument, unimplemented } from './rpc-error.js';
import { readContext, requestScope, type ServerState } from './server-state.js';
import { compareValues, isComparable, valueKind, valueRank } from './values.js';
import type { EntityResult, RunQueryRequest, Value } from './wire-types.js';

interface Candidate {
  entity: StoredEntity;
  position: Position;
}

export function runQuery(state: ServerState, request: RunQueryRequest, now: number) {
  const scope = requestScope(request);
  if (request.queryType === 'gqlQuery') throw unimplemented('GQL queries');
  if (request.explainOptions !== undefined && request.explainOptions !== null) {
    throw unimplemented('query explain');
  }
  if ((request.propertyMask?.paths?.length ?? 0) > 0) throw unimplemented('property masks');

  const query = request.query ?? {};
  const plan = planQuery(scope, request.partitionId, query);
  const read = readContext(state, scope, request.readOptions, now);
  if (read.transaction !== undefined && plan.ancestor === null) {
    throw invalidArgument('Only ancestor queries are allowed inside transactions.');
  }
  if (read.transaction !== undefined && plan.ancestor !== null) {
    state.transactions.noteRead(read.transaction, [groupOf(plan.ancestor)], state.store.sequence);
  }

  // Outside an entity group a query reads indexes that can lag behind the entities.
  const eventualAt =
    plan.ancestor === null && read.transaction === undefined
      ? now - state.behaviour.queryLagMs
      : read.eventualAt;

  const shape = JSON.stringify([plan.kind, plan.ancestor?.order, plan.keyFilters, plan.orders]);
  const candidates = selectCandidates(state, plan, eventualAt);

  const start =
    query.startCursor !== undefined && query.startCursor.length > 0
      ? decodeCursor(query.startCursor, shape)
      : undefined;
  const end =
    query.endCursor !== undefined && query.endCursor.length > 0
      ? decodeCursor(query.endCursor, shape)
      : undefined;

  let index = 0;
  if (start !== undefined && start.start !== true) {
    while (
      index < candidates.length &&
      comparePositions(plan, candidates[index] as Candidate, start) <= 0
    ) {
      index++;
    }
  }
  const inRange = (candidate: Candidate): boolean => {
    if (end === undefined) return true;
    if (end.start === true) return false;
    return comparePositions(plan, candidate, end) <= 0;
  };

  let last: Position = start ?? { values: [], order: '', start: true };
  let skipped = 0;
  while (
    skipped < plan.offset &&
    index < candidates.length &&
    inRange(candidates[index] as Candidate)
  ) {
    last = (candidates[index] as Candidate).position;
    skipped++;
    index++;
  }
  const skippedCursor = skipped > 0 ? encodeCursor(last, shape) : undefined;

  const results: EntityResult[] = [];
  const wanted = plan.limit ?? Number.POSITIVE_INFINITY;
  while (
    results.length < wanted &&
    results.length < state.behaviour.maxBatchResults &&
    index < candidates.length &&
    inRange(candidates[index] as Candidate)
  ) {
    const candidate = candidates[index] as Candidate;
    last = candidate.position;
    results.push(entityResult(plan, candidate, shape));
    index++;
  }

  const nextInRange = index < candidates.length && inRange(candidates[index] as Candidate);
  let moreResults: string;
  if (results.length >= wanted) moreResults = 'MORE_RESULTS_AFTER_LIMIT';
  else if (nextInRange) moreResults = 'NOT_FINISHED';
  else if (index < candidates.length) moreResults = 'MORE_RESULTS_AFTER_CURSOR';
  else moreResults = 'NO_MORE_RESULTS';

  return {
    batch: {
      skippedResults: skipped,
      skippedCursor,
      entityResultType: plan.keysOnly ? 'KEY_ONLY' : 'FULL',
      entityResults: results,
      endCursor: encodeCursor(last, shape),
      moreResults,
      snapshotVersion: state.store.sequence.toString(),
      readTime: timestampOf(now),
    },
    transaction: read.began ? Buffer.from(read.transaction?.id ?? '', 'hex') : undefined,
  };
}

function selectCandidates(
  state: ServerState,
  plan: QueryPlan,
  eventualAt: number | undefined,
): Candidate[] {
  const candidates: Candidate[] = [];
  for (const entity of state.store.scan(plan.partition, plan.ancestor?.order, eventualAt)) {
    const path = entity.key.path;
    if (plan.kind !== null && path[path.length - 1]?.kind !== plan.kind) continue;
    if (
      !plan.keyFilters.every((filter) =>
        matches(compareOrders(entity.key.order, filter.order), filter.op),
      )
    ) {
      continue;
    }
    if (!plan.propertyFilters.every((filter) => propertyMatches(entity, filter))) continue;

    const values: Value[] = [];
    let sortable = true;
    for (const order of plan.orders) {
      if (order.name === '__key__') continue;
      const value = sortValue(entity, order.name, order.descending);
      if (value === undefined) sortable = false;
      else values.push(value);
    }
    if (sortable) candidates.push({ entity, position: { values, order: entity.key.order } });
  }
  candidates.sort((a, b) => comparePositions(plan, a, b.position));
  return candidates;
}

/** Compares a candidate with a position in the query's order; keys break ties. */
function comparePositions(plan: QueryPlan, candidate: Candidate, position: Position): number {
  let valueIndex = 0;
  for (const order of plan.orders) {
    let difference: number;
    if (order.name === '__key__') {
      difference = compareOrders(candidate.position.order, position.order);
    } else {
      difference = compareValues(
        candidate.position.values[valueIndex] as Value,
        position.values[valueIndex] as Value,
      );
      valueIndex++;
    }
    if (difference !== 0) return order.descending ? -difference : difference;
  }
  return compareOrders(candidate.position.order, position.order);
}

function compareOrders(a: string, b: string): number {
  return Number(a > b) - Number(a < b);
}

function matches(difference: number, op: Comparison): boolean {
  switch (op) {
    case 'EQUAL':
      return difference === 0;
    case 'LESS_THAN':
      return difference < 0;
    case 'LESS_THAN_OR_EQUAL':
      return difference <= 0;
    case 'GREATER_THAN':
      return difference > 0;
    case 'GREATER_THAN_OR_EQUAL':
      return difference >= 0;
  }
}

/** Returns the indexed values of a property: each element of an array, unless excluded. */
function indexedValues(entity: StoredEntity, name: string): Value[] {
  const value = entity.properties[name];
  if (value === undefined) return [];
  const values = valueKind(value) === 'arrayValue' ? (value.arrayValue?.values ?? []) : [value];
  return values.filter((element) => element.excludeFromIndexes !== true && isComparable(element));
}

function propertyMatches(
  entity: StoredEntity,
  filter: { name: string; op: Comparison; value: Value },
): boolean {
  return indexedValues(entity, filter.name).some((value) => {
    // Inequalities only match values of the filter value's type, as index ranges do.
    if (filter.op !== 'EQUAL' && valueRank(value) !== valueRank(filter.value)) return false;
    return matches(compareValues(value, filter.value), filter.op);
  });
}

/** Returns the value an entity sorts by: the smallest element ascending, the largest descending. */
function sortValue(entity: StoredEntity, name: string, descending: boolean): Value | undefined {
  const values = indexedValues(entity, name);
  if (values.length === 0) return undefined;
  return values.reduce((best, value) => {
    const difference = compareValues(value, best);
    return (descending ? difference > 0 : difference < 0) ? value : best;
  });
}

function entityResult(plan: QueryPlan, candidate: Candidate, shape: string): EntityResult {
  const { entity } = candidate;
  return {
    entity: plan.keysOnly
      ? { key: wireKey(entity.key) }
      : { key: wireKey(entity.key), properties: entity.properties },
    version: entity.version.toString(),
    createTime: entity.createTime,
    updateTime: entity.updateTime,
    cursor: encodeCursor(candidate.position, shape),
  };
}
