import type { Readable } from 'node:stream';

/**
 * The narrow interface every storage system implements. Keys are `/`-separated paths of
 * lower-case letters, digits, `.`, `_` and `-`; listing order is the byte order of keys.
 * Records are small (an envelope, a message record); blobs are large and streamed.
 *
 * Every write resolves only once it is durable: after a crash of the process or the machine,
 * a resolved write is there, and a write that did not resolve left either the old or the new
 * state of its key, never a torn one.
 */
export interface StorageDriver {
  /** Store kind, as in the store URL scheme: `fs`, `s3`, `mongodb`, `datastore`. */
  readonly kind: string;

  /** Reads a record, or returns null when the key is absent. */
  get(key: string): Promise<StoredRecord | null>;

  /** Creates a record if the key is absent. Returns its version, or null when the key exists. */
  create(key: string, data: Buffer): Promise<string | null>;

  /**
   * Optional: does the durable work of `create` without making the record visible. `publish`
   * then makes it visible if the key is still absent, with create's result. The queue store
   * stages the record that commits a bundle while the bundle's envelopes and body are being
   * written, so that the commit itself is one short step. Drivers whose create is a single
   * request leave this out, and the store calls `create`.
   */
  prepareCreate?(key: string, data: Buffer): Promise<PreparedCreate>;

  /**
   * Replaces a record whose current version is `expectedVersion` (compare-and-swap).
   * Returns the new version, `mismatch` when the version differs, `missing` when absent.
   */
  replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'>;

  /**
   * Deletes a record, only if its version is `expectedVersion` when one is given.
   * Returns `deleted`, `missing` (already absent) or `mismatch`.
   */
  delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'>;

  /**
   * Lists record keys that start with `prefix` and sort strictly after `after`, ascending,
   * at most `limit` of them. Blob keys are not listed here.
   */
  list(prefix: string, options: { after?: string; limit: number }): Promise<string[]>;

  /**
   * Optional: lists records like `list` and returns their contents too, in one request where
   * the storage allows it. The queue walk reads a page of envelopes and their message records
   * this way. Without `scan` it calls `list`, then `get` once per key.
   *
   * Consistency: each record returned is one state its key had at some moment during the
   * call, with the data and version of that state together, as `get` returns them. The
   * records need not form one snapshot together. A key that exists for the whole call and
   * that `list` would return is returned. A key created or deleted during the call may be
   * returned or left out.
   */
  scan?(prefix: string, options: { after?: string; limit: number }): Promise<ScannedRecord[]>;

  /**
   * Stores a blob from a stream, replacing any blob of that key atomically. Resolves once the
   * whole blob is durable; if the stream fails, nothing of it becomes visible.
   */
  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }>;

  /** Opens a blob for reading, or returns null when it is absent. */
  blobGet(key: string): Promise<{ size: number; stream: Readable } | null>;

  /** Deletes a blob; absent blobs are not an error. */
  blobDelete(key: string): Promise<void>;

  /** Lists blob keys with `prefix`, like `list`. */
  blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]>;

  /** Throws a StorageFault when the storage cannot serve reads and writes now. */
  health(): Promise<void>;

  /**
   * Optional: counters of the driver's own work since it opened, such as the fsyncs of the fs
   * driver. The server exports each as a Prometheus counter.
   */
  counters?(): DriverCounter[];

  close(): Promise<void>;
}

/** A record staged by `prepareCreate`. Exactly one of its methods should be called. */
export interface PreparedCreate {
  /** Makes the record visible; returns its version, or null when the key exists by now. */
  publish(): Promise<string | null>;
  /** Drops the staged record; does nothing after `publish`. */
  discard(): Promise<void>;
}

/** A counter that only grows, in the Prometheus sense. */
export interface DriverCounter {
  /** Metric name: `smtpq_` followed by the store kind, such as `smtpq_fs_fsyncs_total`. */
  name: string;
  /** One line that describes what is counted. */
  help: string;
  value: number;
}

export interface StoredRecord {
  data: Buffer;
  /** Opaque version of this state of the record; changes on every write. */
  version: string;
}

/** A record returned by `scan`: its key with the data and version of one state. */
export interface ScannedRecord extends StoredRecord {
  key: string;
}

/** Kinds of storage fault, each answered with its own 503 code. */
export type StorageFaultKind = 'unavailable' | 'full' | 'read-only' | 'timeout';

/**
 * A fault of the storage itself (not of the request): the same request may succeed later.
 * Drivers throw it for every transient or environmental failure they recognise.
 */
export class StorageFault extends Error {
  readonly kind: StorageFaultKind;

  constructor(kind: StorageFaultKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageFault';
    this.kind = kind;
  }
}
