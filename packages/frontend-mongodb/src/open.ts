import { StorageFault } from '@smtpq/store';
import {
  type Document,
  MongoClient,
  type MongoClientOptions,
  MongoError,
  MongoParseError,
  MongoServerSelectionError,
  ReadConcern,
  type WriteConcernSettings,
} from 'mongodb';
import { ensureIndexes, storeCollections } from './collections.js';
import { describeError } from './faults.js';
import { type MongoDeployment, MongoDriver } from './mongo-driver.js';
import type { DriverLogger } from './retry.js';
import { type MongoStoreUrl, parseMongoStoreUrl } from './store-url.js';
import { type ConditionalWrites, LockedWrites, NATIVE_WRITES } from './write-guard.js';

/** Settings of the MongoDB driver; every field has a default. */
export interface MongoDriverOptions {
  /**
   * Milliseconds one storage operation may spend retrying transient faults (lost connection,
   * no primary, step-down, timeout) before it fails with a StorageFault. Default 10000.
   */
  retryBudgetMs?: number;
  /** Bytes per GridFS chunk. Default 261120 (255 KiB, the GridFS default). */
  chunkSizeBytes?: number;
  /**
   * MongoClient options; they override the store URL's options and the driver's defaults.
   * Tests pass `{ monitorCommands: true }` here to watch the commands the driver sends.
   */
  clientOptions?: MongoClientOptions;
  /**
   * How compare-and-swap is kept atomic: `native` on MongoDB, `locked` (a lock document per
   * key) on servers whose filtered writes are not atomic. Default: `locked` on FerretDB 1.x,
   * detected from its buildInfo reply, `native` on every other server.
   */
  conditionalWrites?: ConditionalWrites;
  /** Receives one warning per operation that had to retry. */
  logger?: DriverLogger;
}

export const DEFAULT_RETRY_BUDGET_MS = 10_000;
export const DEFAULT_CHUNK_SIZE_BYTES = 255 * 1024;

/**
 * Client timeouts, in ms, applied when neither the store URL nor clientOptions set them. Each
 * bounds one attempt, so that the retry budget bounds the operation: an unreachable server
 * costs serverSelectionTimeoutMS per attempt, a hung connection socketTimeoutMS.
 */
const DEFAULT_TIMEOUTS = {
  serverSelectionTimeoutMS: 3_000,
  connectTimeoutMS: 3_000,
  socketTimeoutMS: 20_000,
};

// A lock outlives the retry budgets of the two operations its holder runs under it, so that
// only a holder that died (or stalled that long) loses it.
const LOCK_LEASE_BUDGETS = 3;

// URL options by which the operator chose a write concern of their own.
const WRITE_CONCERN_OPTIONS = ['w', 'journal', 'wtimeoutms'];

/**
 * Connects to the server a store URL names, checks that it answers and accepts the
 * credentials, creates the indexes, and returns the driver. Throws a StorageFault
 * ('unavailable') when no server answers in time, and an Error with the reason and what to
 * change for a malformed URL or rejected credentials. The password never appears in a message.
 */
export async function openMongoDriver(
  url: string,
  options: MongoDriverOptions = {},
): Promise<MongoDriver> {
  const storeUrl = parseMongoStoreUrl(url);
  const client = clientCreate(storeUrl, options.clientOptions ?? {});

  try {
    await client.connect();
    const hello = await client.db(storeUrl.database).command({ hello: 1 });
    const buildInfo = await client.db(storeUrl.database).command({ buildInfo: 1 });
    const deployment = deploymentOf(hello);
    const ownWriteConcern = !chosenWriteConcern(storeUrl, options.clientOptions ?? {});

    const db = client.db(storeUrl.database, {
      readConcern: ownWriteConcern ? readConcernFor(deployment) : undefined,
    });
    const collections = storeCollections(
      db,
      ownWriteConcern ? writeConcernFor(deployment) : undefined,
    );
    await ensureIndexes(collections);

    const retry = {
      budgetMs: options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS,
      logger: options.logger,
    };
    const conditionalWrites = options.conditionalWrites ?? conditionalWritesOf(buildInfo);
    if (conditionalWrites === 'locked') {
      options.logger?.warn(
        { conditionalWrites, ferretdbVersion: buildInfo.ferretdbVersion },
        'mongodb: compare-and-swap runs under per-key locks, because this server does not ' +
          'apply filtered updates and deletes atomically',
      );
    }
    const guard =
      conditionalWrites === 'native'
        ? NATIVE_WRITES
        : new LockedWrites(collections.locks, retry, LOCK_LEASE_BUDGETS * retry.budgetMs);

    return new MongoDriver({
      client,
      database: storeUrl.database,
      deployment,
      collections,
      retry,
      chunkSizeBytes: options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE_BYTES,
      guard,
      logger: options.logger,
    });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw startupError(storeUrl, error);
  }
}

function clientCreate(storeUrl: MongoStoreUrl, clientOptions: MongoClientOptions): MongoClient {
  const defaults: MongoClientOptions = {};
  for (const [name, value] of Object.entries({ appName: 'smtpq', ...DEFAULT_TIMEOUTS })) {
    if (!storeUrl.options.has(name.toLowerCase())) Object.assign(defaults, { [name]: value });
  }

  try {
    return new MongoClient(storeUrl.clientUrl, { ...defaults, ...clientOptions });
  } catch (error) {
    throw startupError(storeUrl, error);
  }
}

/** FerretDB 1.x names itself in buildInfo; its filtered writes are not atomic. */
function conditionalWritesOf(buildInfo: Document): ConditionalWrites {
  const ferretdb = buildInfo.ferretdbVersion;
  return typeof ferretdb === 'string' && /^v?[01]\./.test(ferretdb) ? 'locked' : 'native';
}

function deploymentOf(hello: Document): MongoDeployment {
  if (typeof hello.setName === 'string') return 'replica-set';
  if (hello.msg === 'isdbgrid') return 'sharded';
  return 'standalone';
}

function chosenWriteConcern(storeUrl: MongoStoreUrl, clientOptions: MongoClientOptions): boolean {
  if (WRITE_CONCERN_OPTIONS.some((name) => storeUrl.options.has(name))) return true;
  return clientOptions.writeConcern !== undefined || clientOptions.w !== undefined;
}

/**
 * Every acknowledged write must survive a crash: journaled always, and on a replica set (or
 * the shards' replica sets) on a majority of members, so that a fail-over cannot roll it back.
 */
function writeConcernFor(deployment: MongoDeployment): WriteConcernSettings {
  return deployment === 'standalone' ? { w: 1, journal: true } : { w: 'majority', journal: true };
}

/**
 * On a replica set, reads see only majority-committed data, so no frontend acts on a write
 * (a commit, say) that a fail-over could still roll back.
 */
function readConcernFor(deployment: MongoDeployment): ReadConcern | undefined {
  return deployment === 'standalone' ? undefined : new ReadConcern('majority');
}

function startupError(storeUrl: MongoStoreUrl, error: unknown): Error {
  if (error instanceof StorageFault) return error;
  const where = storeUrl.redacted;

  if (error instanceof MongoParseError) {
    return new Error(`invalid MongoDB store URL ${where}: ${error.message}`, { cause: error });
  }
  if (isCredentialError(error)) {
    return new Error(
      `MongoDB at ${where} rejected the credentials: check the user name, the password and ` +
        `authSource in the store URL (${describeError(error)})`,
      { cause: error },
    );
  }
  if (error instanceof MongoServerSelectionError) {
    return new StorageFault(
      'unavailable',
      `cannot reach MongoDB at ${where}: no server answered within serverSelectionTimeoutMS; ` +
        `check the host and port and that the server runs (${describeError(error)})`,
      { cause: error },
    );
  }
  if (error instanceof MongoError) {
    return new Error(`MongoDB at ${where} failed at startup: ${describeError(error)}`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

function isCredentialError(error: unknown): boolean {
  if (!(error instanceof MongoError)) return false;
  if (error.code === 18 || error.code === 13) return true;
  // A failed handshake surfaces as a server selection error whose reason names authentication.
  return /authentication failed|auth(?:entication)? mechanism|SCRAM/i.test(error.message);
}
