#!/usr/bin/env node
import { runServeCommand } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';
import { openFsDriver } from './open.js';
import { parseFsStoreUrl } from './url.js';

await runServeCommand({
  programName: 'smtpq-frontend-fs',
  storeExample: 'fs:///var/lib/smtpq',
  openStore: async (url, options) =>
    createQueueStore(await openFsDriver(parseFsStoreUrl(url)), options.queue),
});
