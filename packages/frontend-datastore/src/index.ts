export { type ChunkSweepReport, ORPHAN_MIN_AGE_MS } from './chunk-sweep.js';
export { CHUNK_BYTES, CHUNKS_PER_COMMIT } from './chunks.js';
export { DatastoreDriver } from './driver.js';
export { KIND } from './layout.js';
export { type DatastoreDriverOptions, openDatastoreDriver } from './open.js';
export { createDatastoreQueueStore } from './queue-store.js';
export { MAX_RECORD_BYTES } from './records.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
export { type DatastoreTarget, parseDatastoreStoreUrl } from './url.js';
