import { randomBytes } from 'node:crypto';
import { type RunningTestServer, startTestServer } from '@smtpq/datastore-testserver';
import {
  type DatastoreDriver,
  type DatastoreDriverOptions,
  type DatastoreTarget,
  openDatastoreDriver,
} from '../src/index.js';

// The Google client probes the cloud metadata server for credentials unless told not to.
// Tests never let it: every client here talks to a test server on 127.0.0.1 only.
process.env.METADATA_SERVER_DETECTION = 'none';

export const PROJECT = 'smtpq-test-project';

/** Retry budgets short enough for tests that wait for a fault to outlast them. */
export const SHORT_RETRY = {
  faultBudgetMs: 1500,
  contentionBudgetMs: 10_000,
  rpcTimeoutMs: 5000,
};

/** Starts a test server and points new Datastore clients at it (DATASTORE_EMULATOR_HOST). */
export async function testServerStart(
  options: Parameters<typeof startTestServer>[0] = {},
): Promise<RunningTestServer> {
  const server = await startTestServer(options);
  process.env.DATASTORE_EMULATOR_HOST = server.address;
  return server;
}

/** A target in a namespace of its own, so that each case starts from an empty store. */
export function freshTarget(label = 'case'): DatastoreTarget {
  return {
    projectId: PROJECT,
    databaseId: '',
    namespace: `${label}-${randomBytes(6).toString('hex')}`,
  };
}

export function driverOpen(
  target: DatastoreTarget,
  options: DatastoreDriverOptions = {},
): Promise<DatastoreDriver> {
  return openDatastoreDriver(target, options);
}

/** Yields `data` in pieces of `size` bytes, each a copy, as a network upload arrives. */
export async function* piecesOf(data: Buffer, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < data.length; offset += size) {
    yield Buffer.from(data.subarray(offset, offset + size));
  }
}

/** Reads a stream into one buffer. */
export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
}

/** Bytes whose every position differs from its neighbours, so that a shifted chunk shows. */
export function patterned(size: number, seed = 1): Buffer {
  const data = Buffer.allocUnsafe(size);
  let state = seed;
  for (let index = 0; index < size; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[index] = state >>> 24;
  }
  return data;
}
