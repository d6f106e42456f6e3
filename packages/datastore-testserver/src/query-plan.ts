import { status } from '@grpc/grpc-js';
import { type Partition, partitionOf, type StoredKey, storedKey, validateKey } from './keys.js';
import { invalidArgument, RpcError, unimplemented } from './rpc-error.js';
import { isComparable } from './values.js';
import type { Filter, PartitionId, Query, RequestBase, Value } from './wire-types.js';

export type Comparison =
  | 'LESS_THAN'
  | 'LESS_THAN_OR_EQUAL'
  | 'GREATER_THAN'
  | 'GREATER_THAN_OR_EQUAL'
  | 'EQUAL';

const COMPARISONS = new Set<string>([
  'LESS_THAN',
  'LESS_THAN_OR_EQUAL',
  'GREATER_THAN',
  'GREATER_THAN_OR_EQUAL',
  'EQUAL',
]);

/** A query checked against the service's rules, ready to run. */
export interface QueryPlan {
  partition: Partition;
  kind: string | null;
  keysOnly: boolean;
  ancestor: StoredKey | null;
  keyFilters: Array<{ op: Comparison; order: string }>;
  propertyFilters: Array<{ name: string; op: Comparison; value: Value }>;
  orders: Array<{ name: string; descending: boolean }>;
  offset: number;
  limit: number | null;
}

/**
 * Checks a query against the rules of the service and the indexes it has without an index
 * configuration (the built-in indexes), and returns its plan. A query that needs a composite
 * index fails with FAILED_PRECONDITION, as on a database without that index.
 */
export function planQuery(
  scope: Required<RequestBase>,
  partitionGiven: PartitionId | null | undefined,
  query: Query,
): QueryPlan {
  const partition = partitionOf(scope, partitionGiven);
  if ((query.distinctOn?.length ?? 0) > 0) throw unimplemented('distinct_on');
  if (query.findNearest !== undefined && query.findNearest !== null) {
    throw unimplemented('find_nearest');
  }

  const kinds = query.kind ?? [];
  if (kinds.length > 1) throw invalidArgument('a query can name at most one kind');
  const kind = kinds[0]?.name ?? null;
  if (kind === '') throw invalidArgument('a query kind cannot be empty');

  const projection = (query.projection ?? []).map((entry) => entry.property?.name ?? '');
  const keysOnly = projection.length === 1 && projection[0] === '__key__';
  if (projection.length > 0 && !keysOnly) throw unimplemented('projections other than __key__');

  const plan: QueryPlan = {
    partition,
    kind,
    keysOnly,
    ancestor: null,
    keyFilters: [],
    propertyFilters: [],
    orders: (query.order ?? []).map((order) => ({
      name: order.property?.name ?? '',
      descending: order.direction === 'DESCENDING',
    })),
    offset: query.offset ?? 0,
    limit: query.limit?.value ?? null,
  };
  if (plan.offset < 0) throw invalidArgument('offset must not be negative');
  if (plan.limit !== null && plan.limit < 0) throw invalidArgument('limit must not be negative');
  if (plan.orders.some((order) => order.name === '')) {
    throw invalidArgument('a sort order needs a property');
  }

  if (query.filter !== undefined && query.filter !== null) {
    addFilter(scope, plan, query.filter);
  }
  checkRules(plan);
  return plan;
}

function addFilter(scope: Required<RequestBase>, plan: QueryPlan, filter: Filter): void {
  if (filter.filterType === 'compositeFilter') {
    const composite = filter.compositeFilter ?? {};
    if (composite.op === 'OR') throw unimplemented('OR filters');
    if (composite.op !== 'AND') throw invalidArgument('a composite filter needs the AND operator');
    const filters = composite.filters ?? [];
    if (filters.length === 0) throw invalidArgument('a composite filter needs at least one filter');
    for (const inner of filters) addFilter(scope, plan, inner);
    return;
  }
  if (filter.filterType !== 'propertyFilter') throw invalidArgument('a filter is empty');

  const property = filter.propertyFilter?.property?.name ?? '';
  const op = filter.propertyFilter?.op ?? 'OPERATOR_UNSPECIFIED';
  const value = filter.propertyFilter?.value ?? {};
  if (property === '') throw invalidArgument('a property filter needs a property');

  if (op === 'HAS_ANCESTOR') {
    if (property !== '__key__') throw invalidArgument('HAS_ANCESTOR applies to __key__ only');
    if (plan.ancestor !== null) throw invalidArgument('a query can have one ancestor filter');
    plan.ancestor = filterKey(scope, plan, value);
    return;
  }
  if (op === 'IN' || op === 'NOT_IN' || op === 'NOT_EQUAL') throw unimplemented(`${op} filters`);
  if (!COMPARISONS.has(op)) throw invalidArgument(`invalid filter operator ${op}`);

  if (property === '__key__') {
    plan.keyFilters.push({ op: op as Comparison, order: filterKey(scope, plan, value).order });
    return;
  }
  if (!isComparable(value)) {
    throw invalidArgument(`property "${property}": a filter value cannot be an array or an entity`);
  }
  plan.propertyFilters.push({ name: property, op: op as Comparison, value });
}

function filterKey(scope: Required<RequestBase>, plan: QueryPlan, value: Value): StoredKey {
  if (value.keyValue === undefined) throw invalidArgument('a __key__ filter needs a key value');
  const key = validateKey(scope, value.keyValue, false);
  if (key.partition.namespaceId !== plan.partition.namespaceId) {
    throw invalidArgument('a __key__ filter names a key of another namespace than the query');
  }
  return storedKey(key.partition, key.path);
}

function checkRules(plan: QueryPlan): void {
  const keyInequality = plan.keyFilters.some((filter) => filter.op !== 'EQUAL');
  const inequalities = new Set(
    plan.propertyFilters.filter((filter) => filter.op !== 'EQUAL').map((filter) => filter.name),
  );
  if (keyInequality) inequalities.add('__key__');
  const equalities = plan.propertyFilters.filter((filter) => filter.op === 'EQUAL');
  const propertyOrders = plan.orders.filter((order) => order.name !== '__key__');
  const keyDescending = plan.orders.some((o) => o.name === '__key__' && o.descending);

  if (
    plan.kind === null &&
    (plan.propertyFilters.length > 0 || propertyOrders.length > 0 || keyDescending)
  ) {
    throw invalidArgument(
      'kindless queries can only filter on __key__ and ancestor and sort by __key__ ascending',
    );
  }
  if (inequalities.size > 1) {
    throw invalidArgument(
      `inequality filters on more than one property: ${[...inequalities].join(', ')}`,
    );
  }
  const [inequality] = [...inequalities];
  if (inequality !== undefined && plan.orders.length > 0 && plan.orders[0]?.name !== inequality) {
    throw invalidArgument(
      `the first sort order must be on the property of the inequality filter, "${inequality}"`,
    );
  }

  const propertyInequality = inequality !== undefined && inequality !== '__key__';
  const builtIn =
    // Key filters, ancestor and equality filters, in key order (merge join of the built-in
    // single-property indexes).
    (!propertyInequality && propertyOrders.length === 0 && !keyDescending) ||
    // One property's inequality filters, sorted on that property only.
    (plan.ancestor === null &&
      equalities.length === 0 &&
      propertyInequality &&
      propertyOrders.every((order) => order.name === inequality) &&
      plan.orders.length <= 1) ||
    // No filter and one sort order.
    (plan.ancestor === null &&
      plan.propertyFilters.length === 0 &&
      plan.keyFilters.length === 0 &&
      plan.orders.length === 1);
  if (!builtIn) {
    throw new RpcError(
      status.FAILED_PRECONDITION,
      'no matching index found. This query needs a composite index, which the smtpq test ' +
        'server does not have: declare it in index.yaml for the real service, or change the query',
    );
  }
}
