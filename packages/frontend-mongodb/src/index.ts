export type { BlobDocument, GridFsChunk, GridFsFile, RecordDocument } from './collections.js';
export { BUCKET_NAME } from './collections.js';
export { classifyMongoError } from './faults.js';
export { MAX_RECORD_BYTES, type MongoDeployment, MongoDriver } from './mongo-driver.js';
export {
  DEFAULT_CHUNK_SIZE_BYTES,
  DEFAULT_RETRY_BUDGET_MS,
  type MongoDriverOptions,
  openMongoDriver,
} from './open.js';
export type { OrphanReport } from './orphans.js';
export {
  createMongoQueueStore,
  MAX_ENVELOPE_BYTES,
  openMongoQueueStore,
} from './queue-store.js';
export type { DriverLogger } from './retry.js';
export { parseMongoStoreUrl, redactUrl } from './store-url.js';
export type { ConditionalWrites } from './write-guard.js';
