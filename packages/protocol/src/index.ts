export * from './bundle.js';
export * from './client/index.js';
export * from './digest.js';
export * from './errors.js';
export * from './ids.js';
export * from './pool.js';
export * from './wire.js';
