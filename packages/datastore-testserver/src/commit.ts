import { status } from '@grpc/grpc-js';
import { timestampOf, type Write } from './entity-store.js';
import { groupOf, keySize, type StoredKey, storedKey, validateKey, wireKey } from './keys.js';
import { LIMITS } from './limits.js';
import { invalidArgument, RpcError, unimplemented } from './rpc-error.js';
import { requestScope, type ServerState } from './server-state.js';
import type { Transaction } from './transactions.js';
import { entitySize } from './values.js';
import type { CommitRequest, Entity, Key, Mutation, RequestBase, Value } from './wire-types.js';

type Operation = 'insert' | 'update' | 'upsert' | 'delete';

interface PlannedMutation {
  operation: Operation;
  partition: StoredKey['partition'];
  path: StoredKey['path'];
  complete: boolean;
  properties: Record<string, Value> | null;
}

export function commit(state: ServerState, request: CommitRequest, now: number) {
  const scope = requestScope(request);
  const mutations = request.mutations ?? [];
  if (mutations.length > LIMITS.mutationsPerCommit) {
    throw invalidArgument(
      `cannot write more than ${LIMITS.mutationsPerCommit} entities in a single call (got ${mutations.length})`,
    );
  }

  const transaction = commitTransaction(state, scope, request, now);
  let committed = false;
  try {
    const planned = mutations.map((mutation) => planMutation(scope, mutation));
    if (transaction?.readOnly === true && planned.length > 0) {
      throw invalidArgument('a read-only transaction cannot write');
    }
    checkSequence(planned, request.mode === 'TRANSACTIONAL');

    if (transaction !== undefined) {
      const groups = planned.filter((m) => m.complete).map((m) => groupOf(m));
      state.transactions.checkConflicts(transaction, groups, (group) =>
        state.store.groupVersion(group),
      );
    }
    checkExistence(state, planned);

    const allocated: Array<Key | undefined> = [];
    const writes: Write[] = planned.map((mutation) => {
      let path = mutation.path;
      if (!mutation.complete) {
        const last = path[path.length - 1];
        path = [...path.slice(0, -1), { kind: last?.kind, id: state.store.allocateId() }];
        allocated.push(wireKey({ partition: mutation.partition, path }));
      } else {
        allocated.push(undefined);
      }
      return { key: storedKey(mutation.partition, path), properties: mutation.properties };
    });
    const version = state.store.apply(writes, now);
    committed = true;

    const time = timestampOf(now);
    return {
      mutationResults: planned.map((_mutation, index) => ({
        key: allocated[index],
        version: version.toString(),
        updateTime: time,
        conflictDetected: false,
      })),
      indexUpdates: writes.reduce((sum, write) => sum + indexedValues(write.properties), 0),
      commitTime: time,
    };
  } finally {
    if (transaction !== undefined && committed) state.transactions.end(transaction);
    else if (transaction !== undefined) state.transactions.finish(transaction);
  }
}

function commitTransaction(
  state: ServerState,
  scope: Required<RequestBase>,
  request: CommitRequest,
  now: number,
): Transaction | undefined {
  if (request.mode === 'NON_TRANSACTIONAL') {
    if (request.transactionSelector !== undefined) {
      throw invalidArgument('a NON_TRANSACTIONAL commit cannot name a transaction');
    }
    return undefined;
  }
  if (request.mode !== 'TRANSACTIONAL') {
    throw invalidArgument('mode must be TRANSACTIONAL or NON_TRANSACTIONAL');
  }
  if (request.transactionSelector === 'transaction') {
    return state.transactions.find(scope, request.transaction, now);
  }
  if (request.transactionSelector === 'singleUseTransaction') {
    return state.transactions.begin(scope, request.singleUseTransaction, state.store.sequence, now);
  }
  throw invalidArgument('a TRANSACTIONAL commit needs a transaction or a single-use transaction');
}

function planMutation(scope: Required<RequestBase>, mutation: Mutation): PlannedMutation {
  if (mutation.conflictDetectionStrategy !== undefined) {
    throw unimplemented('conflict detection with base_version or update_time');
  }
  if ((mutation.propertyMask?.paths?.length ?? 0) > 0) throw unimplemented('property masks');
  if ((mutation.propertyTransforms?.length ?? 0) > 0) throw unimplemented('property transforms');

  const operation = mutation.operation;
  if (operation === undefined) throw invalidArgument('a mutation needs an operation');
  if (operation === 'delete') {
    const key = validateKey(scope, mutation.delete, false);
    return { operation, ...key, properties: null };
  }

  const entity: Entity = mutation[operation] ?? {};
  const key = validateKey(scope, entity.key, operation !== 'update');
  const size = entitySize(scope, entity, keySize(key.partition, key.path));
  if (size > LIMITS.entityBytes) {
    throw invalidArgument(
      `entity is too big: ${size} bytes (at most ${LIMITS.entityBytes}, counted as in the storage size calculations)`,
    );
  }
  return { operation, ...key, properties: entity.properties ?? {} };
}

/**
 * Applies the service's rules on several mutations of one entity: none at all outside a
 * transaction, and in a transaction no insert after anything but a delete, and no update after
 * a delete.
 */
function checkSequence(planned: PlannedMutation[], transactional: boolean): void {
  const last = new Map<string, Operation>();
  for (const mutation of planned) {
    if (!mutation.complete) continue;
    const order = storedKey(mutation.partition, mutation.path).order;
    const before = last.get(order);
    if (before !== undefined) {
      if (!transactional) {
        throw invalidArgument(
          'a non-transactional commit may not contain multiple mutations affecting the same entity',
        );
      }
      const forbidden =
        (mutation.operation === 'insert' && before !== 'delete') ||
        (mutation.operation === 'update' && before === 'delete');
      if (forbidden) {
        throw invalidArgument(
          `a ${before} followed by an ${mutation.operation} of one entity is not allowed in one commit`,
        );
      }
    }
    last.set(order, mutation.operation);
  }
}

/** Throws ALREADY_EXISTS for an insert of a present key, NOT_FOUND for an update of an absent one. */
function checkExistence(state: ServerState, planned: PlannedMutation[]): void {
  const present = new Map<string, boolean>();
  for (const mutation of planned) {
    if (!mutation.complete) continue;
    const key = storedKey(mutation.partition, mutation.path);
    const exists = present.get(key.order) ?? state.store.get(key) !== undefined;
    if (mutation.operation === 'insert' && exists) {
      throw new RpcError(status.ALREADY_EXISTS, `entity already exists: ${describe(key)}`);
    }
    if (mutation.operation === 'update' && !exists) {
      throw new RpcError(status.NOT_FOUND, `no entity to update: ${describe(key)}`);
    }
    present.set(key.order, mutation.operation !== 'delete');
  }
}

function describe(key: StoredKey): string {
  return key.path
    .map((element) => `${element.kind}:${element.id ?? JSON.stringify(element.name)}`)
    .join('/');
}

function indexedValues(properties: Record<string, Value> | null): number {
  if (properties === null) return 1;
  let count = 1;
  for (const value of Object.values(properties)) {
    if (value.excludeFromIndexes !== true) count += 2;
  }
  return count;
}
