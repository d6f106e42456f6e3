import { type TestMongo, testMongoStart } from '@smtpq/frontend-mongodb/testing';
import { afterAll, beforeAll } from 'vitest';
import type { StoreProvider } from '../src/cases/context.js';
import { defineBasicDeliveryCase } from '../src/cases/delivery.js';

let mongo: TestMongo | undefined;

// FerretDB on 127.0.0.1, built with go on the first run and cached after it.
beforeAll(async () => {
  mongo = await testMongoStart();
}, 900_000);

afterAll(async () => {
  await mongo?.stop();
});

const mongodbStoreProvider: StoreProvider = {
  name: 'mongodb',
  createStore: async () => {
    if (mongo === undefined) throw new Error('FerretDB is not running: its start failed');
    return mongo.newDatabaseUrl('e2e');
  },
};

defineBasicDeliveryCase(mongodbStoreProvider);
