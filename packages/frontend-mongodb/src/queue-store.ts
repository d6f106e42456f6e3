import { createQueueStore, type QueueOptions, type QueueStore } from '@smtpq/store';
import type { MongoDriver } from './mongo-driver.js';
import { MAX_RECORD_BYTES } from './mongo-driver.js';
import { type MongoDriverOptions, openMongoDriver } from './open.js';

/**
 * Largest envelope limit a MongoDB store accepts: an envelope record is the envelope plus a
 * header of a few hundred bytes, and must fit in one document (MAX_RECORD_BYTES).
 */
export const MAX_ENVELOPE_BYTES = MAX_RECORD_BYTES - 64 * 1024;

/**
 * Opens the queue store over MongoDB that a `mongodb://` or `mongodb+srv://` URL names: the
 * driver, the queue semantics over it, and GridFS orphan collection in every garbage
 * collection pass.
 */
export async function openMongoQueueStore(
  url: string,
  options: { queue?: Partial<QueueOptions>; driver?: MongoDriverOptions } = {},
): Promise<QueueStore> {
  const maxEnvelopeBytes = options.queue?.maxEnvelopeBytes;
  if (maxEnvelopeBytes !== undefined && maxEnvelopeBytes > MAX_ENVELOPE_BYTES) {
    throw new Error(
      `envelope limit of ${maxEnvelopeBytes} bytes does not fit in one MongoDB document; ` +
        `set --max-envelope-bytes to at most ${MAX_ENVELOPE_BYTES}`,
    );
  }

  const driver = await openMongoDriver(url, options.driver);
  return createMongoQueueStore(driver, options.queue);
}

/**
 * Creates the queue semantics over a MongoDB driver. Its garbage collection also removes the
 * GridFS files and chunks that no blob key reaches, with the uncommitted maximum age as the
 * age bound, so an upload still in progress is never taken for an orphan.
 */
export function createMongoQueueStore(
  driver: MongoDriver,
  queue: Partial<QueueOptions> = {},
): QueueStore {
  const store = createQueueStore(driver, queue);

  const collectGarbage: QueueStore['collectGarbage'] = async () => {
    const report = await store.collectGarbage();
    await driver.collectOrphans(store.options.uncommittedMaxAgeMs);
    return report;
  };

  return new Proxy(store, {
    get(target, property) {
      if (property === 'collectGarbage') return collectGarbage;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
