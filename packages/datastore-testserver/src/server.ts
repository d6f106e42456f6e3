import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { type Fault, FaultQueue } from './faults.js';
import { RpcCounters } from './rpc-counters.js';
import { DEFAULT_BEHAVIOUR, ServerState } from './server-state.js';
import { datastoreService } from './service.js';

export interface TestServerOptions {
  /** Loopback address to listen on (default 127.0.0.1); any other address is rejected. */
  host?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** See ServerBehaviour.queryLagMs (default 0: every read strongly consistent). */
  queryLagMs?: number;
  /** See ServerBehaviour.maxBatchResults (default 300). */
  maxBatchResults?: number;
  /**
   * The data of an earlier server to serve again, so that a test can stop the server and
   * start it again on the same port without losing entities. Behaviour options then come
   * from that state.
   */
  state?: ServerState;
}

export interface RunningTestServer {
  /** `host:port`, the form DATASTORE_EMULATOR_HOST takes. */
  address: string;
  host: string;
  port: number;
  /** Entities and transactions; pass it to startTestServer to serve them again. */
  state: ServerState;
  counters: RpcCounters;
  /** Scripts a fault for the next calls of a method. */
  injectFault(fault: Fault): void;
  /** Drops every scripted fault not yet applied. */
  clearFaults(): void;
  /** Stops at once, closing open connections as a crash would. */
  stop(): Promise<void>;
}

/** Maximum message the server accepts from gRPC, above the service's 10 MiB request limit. */
const GRPC_MAX_RECEIVE_BYTES = 64 * 1024 * 1024;

/** Starts a Datastore v1 test server on a loopback address. */
export async function startTestServer(options: TestServerOptions = {}): Promise<RunningTestServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new Error(
      `the Datastore test server listens on loopback addresses only, not ${JSON.stringify(host)}; use 127.0.0.1 or ::1`,
    );
  }

  const state =
    options.state ??
    new ServerState({
      queryLagMs: options.queryLagMs ?? DEFAULT_BEHAVIOUR.queryLagMs,
      maxBatchResults: options.maxBatchResults ?? DEFAULT_BEHAVIOUR.maxBatchResults,
    });
  const counters = new RpcCounters();
  const faults = new FaultQueue();
  const service = datastoreService(state, counters, faults);

  const server = new grpc.Server({
    'grpc.max_receive_message_length': GRPC_MAX_RECEIVE_BYTES,
    'grpc.max_send_message_length': -1,
  });
  server.addService(service.definition, service.handlers);

  const bindHost = host.includes(':') ? `[${host}]` : host;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${bindHost}:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error === null ? resolve(bound) : reject(error)),
    );
  });

  return {
    address: `${bindHost}:${port}`,
    host,
    port,
    state,
    counters,
    injectFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    stop: async () => {
      faults.clear();
      server.forceShutdown();
    },
  };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
