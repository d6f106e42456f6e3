export * from '../../src/testing/fault-proxy.js';
