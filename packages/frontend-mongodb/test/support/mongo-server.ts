export * from '../../src/testing/mongo-server.js';
