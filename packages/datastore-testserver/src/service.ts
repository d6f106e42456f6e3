import * as grpc from '@grpc/grpc-js';
import { commit } from './commit.js';
import type { FaultQueue } from './faults.js';
import { storedKey, validateKey, wireKey } from './keys.js';
import { LIMITS } from './limits.js';
import { lookup } from './lookup.js';
import { datastoreServiceClient } from './protos.js';
import type { RpcCounters } from './rpc-counters.js';
import { invalidArgument, RpcError, unimplemented } from './rpc-error.js';
import { runQuery } from './run-query.js';
import { requestScope, type ServerState } from './server-state.js';
import type {
  AllocateIdsRequest,
  BeginTransactionRequest,
  CommitRequest,
  LookupRequest,
  RollbackRequest,
  RunQueryRequest,
} from './wire-types.js';

type Handler = (request: never, now: number) => object;

/**
 * Builds the service definition and the handlers of `google.datastore.v1.Datastore` over one
 * server state. Every call is counted, checked against the 10 MiB request limit, and may meet
 * a scripted fault first.
 */
export function datastoreService(
  state: ServerState,
  counters: RpcCounters,
  faults: FaultQueue,
): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const requestSizes = new WeakMap<object, number>();
  const original = datastoreServiceClient().service;
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(original)) {
    definition[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        const request = method.requestDeserialize(bytes) as object;
        requestSizes.set(request, bytes.length);
        return request;
      },
    };
  }

  const handlers: Record<string, Handler> = {
    Lookup: (request: LookupRequest, now) => lookup(state, request, now),
    RunQuery: (request: RunQueryRequest, now) => runQuery(state, request, now),
    RunAggregationQuery: () => {
      throw unimplemented('aggregation queries');
    },
    BeginTransaction: (request: BeginTransactionRequest, now) => {
      const scope = requestScope(request);
      const transaction = state.transactions.begin(
        scope,
        request.transactionOptions,
        state.store.sequence,
        now,
      );
      return { transaction: Buffer.from(transaction.id, 'hex') };
    },
    Commit: (request: CommitRequest, now) => commit(state, request, now),
    Rollback: (request: RollbackRequest, now) => {
      const scope = requestScope(request);
      state.transactions.end(state.transactions.find(scope, request.transaction, now, true));
      return {};
    },
    AllocateIds: (request: AllocateIdsRequest) => allocateIds(state, request),
    ReserveIds: (request: AllocateIdsRequest) => reserveIds(state, request),
  };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) {
    implementation[name] = unaryCall(name, handler, requestSizes, counters, faults);
  }
  return { definition, handlers: implementation };
}

function unaryCall(
  name: string,
  handler: Handler,
  requestSizes: WeakMap<object, number>,
  counters: RpcCounters,
  faults: FaultQueue,
): grpc.handleUnaryCall<object, object> {
  return (call, callback) => {
    counters.noteCall(name);
    const fault = faults.take(name);

    const serve = () => {
      try {
        const size = requestSizes.get(call.request) ?? 0;
        if (size > LIMITS.requestBytes) {
          throw invalidArgument(
            `Request payload size exceeds the limit: ${LIMITS.requestBytes} bytes (got ${size}).`,
          );
        }
        if (fault?.code !== undefined) {
          throw new RpcError(
            fault.code,
            fault.message ?? `fault injected by the test into ${name}`,
          );
        }
        const response = handler(call.request as never, Date.now());
        counters.noteStatus(name, 'OK');
        callback(null, response);
      } catch (error) {
        if (!(error instanceof RpcError)) {
          process.stderr.write(
            `smtpq-datastore-testserver: internal error in ${name}: ${(error as Error).stack}\n`,
          );
        }
        const code = error instanceof RpcError ? error.code : grpc.status.INTERNAL;
        counters.noteStatus(name, grpc.status[code]);
        callback({ code, details: (error as Error).message });
      }
    };

    if (fault?.delayMs !== undefined) setTimeout(serve, fault.delayMs);
    else serve();
  };
}

function allocateIds(state: ServerState, request: AllocateIdsRequest) {
  const scope = requestScope(request);
  const keys = (request.keys ?? []).map((key) => {
    const valid = validateKey(scope, key, true);
    if (valid.complete) throw invalidArgument('AllocateIds takes incomplete keys only');
    const last = valid.path[valid.path.length - 1];
    const path = [...valid.path.slice(0, -1), { kind: last?.kind, id: state.store.allocateId() }];
    return wireKey(storedKey(valid.partition, path));
  });
  return { keys };
}

function reserveIds(state: ServerState, request: AllocateIdsRequest) {
  const scope = requestScope(request);
  for (const key of request.keys ?? []) {
    const valid = validateKey(scope, key, false);
    const id = valid.path[valid.path.length - 1]?.id;
    if (id === undefined) throw invalidArgument('ReserveIds takes keys with integer ids only');
    state.store.reserveId(BigInt(id));
  }
  return {};
}
