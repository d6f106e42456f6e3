export * from './driver.js';
export * from './queue-types.js';
