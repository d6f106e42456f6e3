#!/usr/bin/env node
import { openFsDriver, parseFsStoreUrl } from '@smtpq/frontend-fs';
import { runServeCommand } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';
import { ThrottledDriver } from './throttled-driver.js';

// The fs frontend with every blob read and write held to the rate of the environment variable
// below, for tests of slow storage. It takes the options of `smtpq serve`.
const RATE_VARIABLE = 'SMTPQ_E2E_BLOB_BYTES_PER_SECOND';

const rate = Number(process.env[RATE_VARIABLE]);
if (!Number.isSafeInteger(rate) || rate < 1) {
  process.stderr.write(`${RATE_VARIABLE} must be a positive whole number of bytes per second\n`);
  process.exit(1);
}

await runServeCommand({
  programName: 'smtpq-e2e-throttled-frontend',
  storeExample: 'fs:///var/lib/smtpq',
  openStore: async (url, options) =>
    createQueueStore(
      new ThrottledDriver(await openFsDriver(parseFsStoreUrl(url)), rate),
      options.queue,
    ),
});
