export * from '../../src/testing/ferretdb.js';
