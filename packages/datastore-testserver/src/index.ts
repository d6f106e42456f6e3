export type { Fault } from './faults.js';
export { LIMITS } from './limits.js';
export { datastoreServiceClient, LOADER_OPTIONS, loadDatastoreProtos } from './protos.js';
export { RpcCounters } from './rpc-counters.js';
export { type RunningTestServer, startTestServer, type TestServerOptions } from './server.js';
export { type ServerBehaviour, ServerState } from './server-state.js';
