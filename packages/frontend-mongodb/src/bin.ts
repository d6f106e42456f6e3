#!/usr/bin/env node
import { runServeCommand } from '@smtpq/server';
import { openMongoQueueStore } from './queue-store.js';

await runServeCommand({
  programName: 'smtpq-frontend-mongodb',
  storeExample: 'mongodb://127.0.0.1:27017/smtpq',
  openStore: (url, { queue, logger }) =>
    openMongoQueueStore(url, { queue, driver: { logger: logger.child({ store: 'mongodb' }) } }),
});
