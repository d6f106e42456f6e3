#!/usr/bin/env -S node --max-semi-space-size=1 --max-old-space-size=128
import { runServeCommand } from '@smtpq/server';
import { openDatastoreStore } from './open-store.js';

await runServeCommand({
  programName: 'smtpq-frontend-datastore',
  storeExample: 'datastore://my-project/smtpq',
  openStore: (url, options) => openDatastoreStore(url, { queue: options.queue }),
});
