import { MemoryDriver } from '@smtpq/store';
import { runDriverContract } from '../src/vitest.js';
import { withoutScan } from './scan-drivers.js';

// MemoryDriver keeps its state in the object, so "reopening" the store is using the same object
// through a new queue store, as a restarted process would find the same files.
runDriverContract(
  'memory',
  async () => {
    const driver = new MemoryDriver();
    return { driver, reopen: async () => driver };
  },
  { scan: true },
);

// The walk has a second path for drivers without scan (the fs driver is one); the queue cases
// run over it too.
runDriverContract('memory without scan', async () => {
  const driver = withoutScan(new MemoryDriver());
  return { driver, reopen: async () => driver };
});
