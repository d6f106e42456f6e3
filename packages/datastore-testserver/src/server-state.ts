import { EntityStore } from './entity-store.js';
import { invalidArgument, unimplemented } from './rpc-error.js';
import { type Transaction, TransactionTable } from './transactions.js';
import type { ReadOptions, RequestBase } from './wire-types.js';

/** Settings of the test server that change its responses. */
export interface ServerBehaviour {
  /**
   * Age in ms of the state that eventually consistent reads see: non-ancestor queries outside
   * transactions, and reads that ask for EVENTUAL. Zero (the default) makes every read strong,
   * as in Firestore in Datastore mode; a few hundred ms models legacy Cloud Datastore.
   */
  queryLagMs: number;
  /** Maximum results in one RunQuery batch; the client asks again for the rest. */
  maxBatchResults: number;
}

export const DEFAULT_BEHAVIOUR: ServerBehaviour = { queryLagMs: 0, maxBatchResults: 300 };

/** The data of one test server: its entities and its open transactions. */
export class ServerState {
  readonly store: EntityStore;
  readonly transactions = new TransactionTable();

  constructor(readonly behaviour: ServerBehaviour) {
    this.store = new EntityStore(behaviour.queryLagMs);
  }
}

/** Returns the request's project and database, or throws INVALID_ARGUMENT without a project. */
export function requestScope(request: RequestBase): Required<RequestBase> {
  const projectId = request.projectId ?? '';
  if (projectId === '') throw invalidArgument('project_id is required');
  return { projectId, databaseId: request.databaseId ?? '' };
}

/** Context of a read: its transaction, and the time an eventual read reads at. */
export interface ReadContext {
  transaction?: Transaction;
  /** True when the read began the transaction (`new_transaction`). */
  began: boolean;
  /** Time whose state an eventually consistent read returns; undefined for a strong read. */
  eventualAt?: number;
}

export function readContext(
  state: ServerState,
  scope: Required<RequestBase>,
  options: ReadOptions | null | undefined,
  now: number,
): ReadContext {
  switch (options?.consistencyType) {
    case 'transaction':
      return {
        transaction: state.transactions.find(scope, options.transaction, now),
        began: false,
      };
    case 'newTransaction':
      return {
        transaction: state.transactions.begin(
          scope,
          options.newTransaction,
          state.store.sequence,
          now,
        ),
        began: true,
      };
    case 'readTime':
      throw unimplemented('reads at a read_time');
    case 'readConsistency':
      if (options.readConsistency === 'EVENTUAL') {
        return { began: false, eventualAt: now - state.behaviour.queryLagMs };
      }
      return { began: false };
    default:
      return { began: false };
  }
}
