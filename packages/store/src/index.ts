export * from './driver.js';
export { MemoryDriver } from './memory-driver.js';
export { createQueueStore, DEFAULT_QUEUE_OPTIONS } from './queue-store.js';
export * from './queue-types.js';
