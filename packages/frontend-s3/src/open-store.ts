import { createQueueStore, type QueueOptions, type QueueStore } from '@smtpq/store';
import type { S3DriverLogger } from './logger.js';
import { openS3Driver } from './open.js';
import { parseS3StoreUrl } from './store-url.js';

/** Opens the queue store an `s3://` URL names, in the shape the server's `serve` command takes. */
export async function openS3Store(
  url: string,
  options: { queue?: Partial<QueueOptions>; logger?: S3DriverLogger } = {},
): Promise<QueueStore> {
  const driver = await openS3Driver({ ...parseS3StoreUrl(url), logger: options.logger });
  return createQueueStore(driver, options.queue);
}
