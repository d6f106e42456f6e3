#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=128
import { runServeCommand } from '@smtpq/server';
import { openDatastoreDriver } from './open.js';
import { createDatastoreQueueStore } from './queue-store.js';
import { parseDatastoreStoreUrl } from './url.js';

await runServeCommand({
  programName: 'smtpq-frontend-datastore',
  storeExample: 'datastore://my-project/smtpq',
  openStore: async (url, options) =>
    createDatastoreQueueStore(
      await openDatastoreDriver(parseDatastoreStoreUrl(url)),
      options.queue,
    ),
});
