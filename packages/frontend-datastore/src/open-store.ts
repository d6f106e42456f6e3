import type { QueueOptions, QueueStore } from '@smtpq/store';
import { openDatastoreDriver } from './open.js';
import { createDatastoreQueueStore } from './queue-store.js';
import { parseDatastoreStoreUrl } from './url.js';

/**
 * Opens the queue store that a `datastore://` URL names, for `smtpq serve` and the frontend's
 * bin. It reads one key first, so that an emulator that does not run, a wrong project or
 * missing credentials stop the start with an error instead of failing every later request.
 */
export async function openDatastoreStore(
  url: string,
  options: { queue?: Partial<QueueOptions> } = {},
): Promise<QueueStore> {
  const target = parseDatastoreStoreUrl(url);
  const driver = await openDatastoreDriver(target);
  try {
    await driver.health();
  } catch (error) {
    await driver.close();
    throw new Error(`${startupProblem(target.projectId)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return createDatastoreQueueStore(driver, options.queue);
}

function startupProblem(projectId: string): string {
  const emulator = process.env.DATASTORE_EMULATOR_HOST;
  if (emulator) {
    return (
      `the Datastore emulator at DATASTORE_EMULATOR_HOST=${emulator} did not respond for ` +
      `project ${projectId}; start it or correct the variable`
    );
  }
  return (
    `Datastore did not respond for project ${projectId}; check the project id and the ` +
    'Application Default Credentials (or set DATASTORE_EMULATOR_HOST for an emulator)'
  );
}
