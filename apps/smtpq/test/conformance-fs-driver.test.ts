import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDriverContract } from '@smtpq/conformance/vitest';
import { openFsDriver } from '@smtpq/frontend-fs';

// Each case gets a folder of its own. A reopen is a new driver on the same folder, as a
// frontend restarted after a crash would open it.
runDriverContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smtpq-conformance-fs-'));
  return {
    driver: await openFsDriver(dir),
    reopen: () => openFsDriver(dir),
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
});
