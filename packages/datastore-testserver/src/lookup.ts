import { timestampOf } from './entity-store.js';
import { groupOf, storedKey, validateKey, wireKey } from './keys.js';
import { LIMITS } from './limits.js';
import { invalidArgument, unimplemented } from './rpc-error.js';
import { readContext, requestScope, type ServerState } from './server-state.js';
import type { EntityResult, LookupRequest } from './wire-types.js';

export function lookup(state: ServerState, request: LookupRequest, now: number) {
  const scope = requestScope(request);
  if ((request.propertyMask?.paths?.length ?? 0) > 0) throw unimplemented('property masks');
  const keys = request.keys ?? [];
  if (keys.length === 0) throw invalidArgument('Lookup needs at least one key');
  if (keys.length > LIMITS.lookupKeys) {
    throw invalidArgument(
      `Lookup got ${keys.length} keys; at most ${LIMITS.lookupKeys} are allowed`,
    );
  }

  const stored = keys.map((key) => {
    const valid = validateKey(scope, key, false);
    return storedKey(valid.partition, valid.path);
  });
  const read = readContext(state, scope, request.readOptions, now);
  if (read.transaction !== undefined) {
    state.transactions.noteRead(read.transaction, stored.map(groupOf), state.store.sequence);
  }

  const found: EntityResult[] = [];
  const missing: EntityResult[] = [];
  for (const key of stored) {
    const entity = state.store.getAt(key, read.eventualAt);
    if (entity === undefined) {
      missing.push({ entity: { key: wireKey(key) }, version: state.store.sequence.toString() });
    } else {
      found.push({
        entity: { key: wireKey(key), properties: entity.properties },
        version: entity.version.toString(),
        createTime: entity.createTime,
        updateTime: entity.updateTime,
      });
    }
  }

  return {
    found,
    missing,
    deferred: [],
    transaction: read.began ? Buffer.from(read.transaction?.id ?? '', 'hex') : undefined,
    readTime: timestampOf(now),
  };
}
