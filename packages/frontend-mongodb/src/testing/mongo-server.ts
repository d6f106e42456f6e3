import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { MongoClient } from 'mongodb';
import { type FerretDbServer, ferretdbStart } from './ferretdb.js';

/**
 * The server the tests run against: FerretDB started for this test file, or the MongoDB that
 * SMTPQ_TEST_MONGODB_URL names (its path is replaced by a database of each test's own, and
 * those databases are dropped at the end).
 */
export interface TestMongo {
  /** The FerretDB process, or null when the tests run against SMTPQ_TEST_MONGODB_URL. */
  readonly ferretdb: FerretDbServer | null;
  /** URL of a database that no other test uses. */
  newDatabaseUrl(label: string): string;
  /** Drops the databases handed out, stops FerretDB and removes its data folder. */
  stop(): Promise<void>;
}

export const EXTERNAL_URL = process.env.SMTPQ_TEST_MONGODB_URL;

export async function testMongoStart(): Promise<TestMongo> {
  const databases: string[] = [];
  const ferretdb = EXTERNAL_URL === undefined ? await ferretdbStart() : null;

  const urlOf = (database: string) =>
    ferretdb === null ? withDatabase(EXTERNAL_URL as string, database) : ferretdb.url(database);

  return {
    ferretdb,
    newDatabaseUrl(label) {
      const database = `smtpq_test_${label}_${randomBytes(4).toString('hex')}`;
      databases.push(database);
      return urlOf(database);
    },
    async stop() {
      if (ferretdb !== null) {
        await ferretdb.stop();
        await rm(ferretdb.dataDir, { recursive: true, force: true });
        return;
      }
      const client = new MongoClient(urlOf('admin'), { serverSelectionTimeoutMS: 5_000 });
      try {
        for (const database of databases) await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

/** Replaces the database (path) of a MongoDB URL, keeping credentials and options. */
export function withDatabase(url: string, database: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/[^/?#]+)(?:\/[^?#]*)?(\?[^#]*)?$/.exec(url);
  if (match === null) throw new Error(`SMTPQ_TEST_MONGODB_URL is not a MongoDB URL: ${url}`);
  return `${match[1]}/${database}${match[2] ?? ''}`;
}
