import { runDriverContract } from '@smtpq/conformance/vitest';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll } from 'vitest';
import { driverOpen, freshTarget, testServerStart } from './helpers.js';

let server: RunningTestServer;

beforeAll(async () => {
  // Non-ancestor queries see the store as it was a minute ago, as on legacy Cloud Datastore
  // at its worst: the driver must never need one to be up to date. Small query batches make
  // every listing page through several batches.
  server = await testServerStart({ queryLagMs: 60_000, maxBatchResults: 100 });
});

afterAll(async () => {
  await server?.stop();
});

runDriverContract('datastore', async () => {
  const target = freshTarget('contract');
  const open = () => driverOpen(target);
  return { driver: await open(), reopen: open };
});
