import { rm } from 'node:fs/promises';
import { FERRETDB_VERSION, ferretdbStart } from '@smtpq/frontend-mongodb/testing';
import type { BenchTarget } from './target.js';

/**
 * Starts FerretDB on 127.0.0.1 with the helper the MongoDB frontend's tests use (it builds
 * FerretDB with go on the first run). Unlike the tests, the bench never reads
 * SMTPQ_TEST_MONGODB_URL: it measures only a server that it started on loopback itself.
 */
export async function mongodbTargetStart(): Promise<BenchTarget> {
  const ferretdb = await ferretdbStart();

  return {
    name: 'mongodb',
    server: `FerretDB ${FERRETDB_VERSION} with its SQLite backend on 127.0.0.1`,
    caveat:
      'figures are those of FerretDB, not of MongoDB: FerretDB scans a whole collection for ' +
      'every query and the driver takes a lock document around each compare-and-swap there',
    storeUrl: (label) => ferretdb.url(`smtpq_bench_${label}`),
    env: {},
    stop: async () => {
      await ferretdb.stop();
      await rm(ferretdb.dataDir, { recursive: true, force: true });
    },
  };
}
