import {
  createDatastoreQueueStore,
  openDatastoreDriver,
  parseDatastoreStoreUrl,
} from '@smtpq/frontend-datastore';
import { openFsDriver, parseFsStoreUrl } from '@smtpq/frontend-fs';
import { openMongoQueueStore } from '@smtpq/frontend-mongodb';
import { openS3Store } from '@smtpq/frontend-s3';
import type { OpenStore } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';

/**
 * Store openers by URL scheme. A storage package that `smtpq serve` should know adds its
 * scheme here; a store of another kind can still be served by its own frontend binary.
 */
export const STORE_OPENERS: Record<string, OpenStore> = {
  'fs:': async (url, options) =>
    createQueueStore(await openFsDriver(parseFsStoreUrl(url)), options.queue),
  's3:': openS3Store,
  'mongodb:': (url, options) =>
    openMongoQueueStore(url, { queue: options.queue, driver: { logger: options.logger } }),
  'mongodb+srv:': (url, options) =>
    openMongoQueueStore(url, { queue: options.queue, driver: { logger: options.logger } }),
  'datastore:': async (url, options) =>
    createDatastoreQueueStore(
      await openDatastoreDriver(parseDatastoreStoreUrl(url)),
      options.queue,
    ),
};

/** Opens the store a URL names, choosing the driver by the URL scheme. */
export const openStoreByUrl: OpenStore = async (url, options) => {
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
  const known = Object.keys(STORE_OPENERS).join(', ');
  if (scheme === undefined) {
    throw new Error(`${JSON.stringify(url)} is not a store URL; known schemes: ${known}`);
  }

  const open = STORE_OPENERS[scheme];
  if (open === undefined) {
    throw new Error(`unknown store scheme "${scheme}"; known schemes: ${known}`);
  }
  return open(url, options);
};
