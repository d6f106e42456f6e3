import type { Datastore } from '@google-cloud/datastore';
import { createDatastoreClient, DatastoreAccess } from './access.js';
import { DatastoreDriver } from './driver.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import type { DatastoreTarget } from './url.js';

export interface DatastoreDriverOptions {
  /** Deadlines and retry budgets; see RetryPolicy for each field and its default. */
  retry?: Partial<RetryPolicy>;
  /** A Google client to use instead of one opened on the target. */
  client?: Datastore;
}

/**
 * Opens a driver on a Datastore target. Credentials come from Application Default
 * Credentials, or none are needed when DATASTORE_EMULATOR_HOST names an emulator. Nothing is
 * sent before the first operation: `health()` tells whether the store answers.
 */
export async function openDatastoreDriver(
  target: DatastoreTarget,
  options: DatastoreDriverOptions = {},
): Promise<DatastoreDriver> {
  const client = options.client ?? createDatastoreClient(target);
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  return new DatastoreDriver(new DatastoreAccess(client, target, policy));
}
