import { runDriverContract } from '@smtpq/conformance/vitest';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll } from 'vitest';
import { openMongoDriver } from '../src/index.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

let server: TestMongo;

beforeAll(async () => {
  server = await testMongoStart();
}, 900_000);

afterAll(async () => {
  await server?.stop();
});

runDriverContract(
  'mongodb',
  async () => {
    const url = server.newDatabaseUrl('contract');
    return {
      driver: await openMongoDriver(url),
      reopen: () => openMongoDriver(url),
      destroy: async () => {
        const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
        try {
          await client.db().dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  },
  { scan: true },
);
