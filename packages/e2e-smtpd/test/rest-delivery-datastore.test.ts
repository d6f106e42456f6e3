import { randomBytes } from 'node:crypto';
import { type RunningTestServer, startTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll } from 'vitest';
import type { StoreProvider } from '../src/cases/context.js';
import { defineBasicDeliveryCase } from '../src/cases/delivery.js';

const PROJECT = 'smtpq-e2e-project';

let server: RunningTestServer | undefined;

beforeAll(async () => {
  server = await startTestServer();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

const datastoreStoreProvider: StoreProvider = {
  name: 'datastore',
  // METADATA_SERVER_DETECTION=none keeps the Google client from probing the metadata server.
  get frontendEnv() {
    if (server === undefined) throw new Error('the Datastore test server is not running');
    return { DATASTORE_EMULATOR_HOST: server.address, METADATA_SERVER_DETECTION: 'none' };
  },
  createStore: async () => `datastore://${PROJECT}/e2e-${randomBytes(6).toString('hex')}`,
};

defineBasicDeliveryCase(datastoreStoreProvider);
