import type { OpenStore } from '@smtpq/server';

/**
 * Store openers by URL scheme. A storage package that `smtpq serve` should know adds its
 * scheme here; a store of another kind can still be served by its own frontend binary.
 * Each opener imports its package when called, so a server loads only the driver it
 * serves: loading the S3, MongoDB and Datastore clients as well added about 45 MiB of
 * resident memory when measured.
 */
export const STORE_OPENERS: Record<string, OpenStore> = {
  'fs:': async (url, options) => {
    const { openFsDriver, parseFsStoreUrl } = await import('@smtpq/frontend-fs');
    const { createQueueStore } = await import('@smtpq/store');
    return createQueueStore(await openFsDriver(parseFsStoreUrl(url)), options.queue);
  },
  's3:': async (url, options) => {
    const { openS3Store } = await import('@smtpq/frontend-s3');
    return openS3Store(url, options);
  },
  'mongodb:': openMongoStore,
  'mongodb+srv:': openMongoStore,
  'datastore:': async (url, options) => {
    const { openDatastoreStore } = await import('@smtpq/frontend-datastore');
    return openDatastoreStore(url, { queue: options.queue });
  },
};

async function openMongoStore(...[url, options]: Parameters<OpenStore>) {
  const { openMongoQueueStore } = await import('@smtpq/frontend-mongodb');
  return openMongoQueueStore(url, { queue: options.queue, driver: { logger: options.logger } });
}

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
