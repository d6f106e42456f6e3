import { MemoryDriver } from '@smtpq/store';
import { runDriverContract } from '../src/vitest.js';

// MemoryDriver keeps its state in the object, so "reopening" the store is using the same object
// through a new queue store, as a restarted process would find the same files.
runDriverContract('memory', async () => {
  const driver = new MemoryDriver();
  return { driver, reopen: async () => driver };
});
