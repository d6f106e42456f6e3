import { createQueueStore, type QueueOptions, type QueueStore } from '@smtpq/store';
import type { DatastoreDriver } from './driver.js';

/**
 * Creates the queue store over a Datastore driver. Its garbage collection also sweeps the
 * chunks of interrupted uploads, which the generic queue semantics cannot see; each upload
 * swept counts as an orphan body.
 */
export function createDatastoreQueueStore(
  driver: DatastoreDriver,
  options: Partial<QueueOptions> = {},
): QueueStore {
  const store = createQueueStore(driver, options);
  const collectGarbage: QueueStore['collectGarbage'] = async () => {
    const report = await store.collectGarbage();
    const swept = await driver.collectOrphanChunks();
    return { ...report, orphanBodies: report.orphanBodies + swept.uploads };
  };

  return new Proxy(store, {
    get(target, property) {
      if (property === 'collectGarbage') return collectGarbage;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
