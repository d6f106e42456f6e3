import { randomBytes } from 'node:crypto';
import { Datastore, type Key } from '@google-cloud/datastore';
import { StorageFault } from '@smtpq/store';
import { GroupDirectory } from './group-directory.js';
import { GroupGate } from './group-gate.js';
import { groupOf, KIND } from './layout.js';
import type { RetryPolicy } from './retry.js';
import type { DatastoreTarget } from './url.js';

/** Entity properties as the Google client takes them for a write. */
export type EntityData = Array<{ name: string; value: unknown; excludeFromIndexes?: boolean }>;

/**
 * The Datastore client of one driver, with what every operation shares: the target, the
 * retry policy, the per-group transaction gate, and the builders of keys and call options.
 */
export class DatastoreAccess {
  readonly gate = new GroupGate();
  readonly directory = new GroupDirectory(this);
  private closed = false;

  constructor(
    readonly client: Datastore,
    readonly target: DatastoreTarget,
    readonly policy: RetryPolicy,
  ) {}

  /** Throws a StorageFault once the driver is closed. */
  checkOpen(): void {
    if (this.closed) throw new StorageFault('unavailable', 'the Datastore driver is closed');
  }

  recordKey(key: string): Key {
    return this.key([KIND.group, groupOf(key), KIND.record, key]);
  }

  blobKey(key: string): Key {
    return this.key([KIND.group, groupOf(key), KIND.blob, key]);
  }

  groupKey(group: string): Key {
    return this.key([KIND.group, group]);
  }

  key(path: string[]): Key {
    return this.client.key({ namespace: this.target.namespace || undefined, path });
  }

  /** Call options: our own deadline and no retries in the client, since the driver retries. */
  callOptions(timeoutMs = this.policy.rpcTimeoutMs) {
    return { timeout: timeoutMs, retry: { retryCodes: [] } };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const client of this.client.clients_.values()) {
      await (client as unknown as { close?: () => Promise<void> }).close?.();
    }
  }
}

/** Returns bytes the Google client read as a Buffer, without a copy when they are one. */
export function asBuffer(value: unknown): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
}

/** A new version string: visible ASCII, unique with overwhelming probability. */
export function newVersion(): string {
  return `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
}

/** The properties of a record entity; neither is indexed, since no query filters on them. */
export function recordData(data: Buffer, version: string): EntityData {
  return [
    { name: 'data', value: data, excludeFromIndexes: true },
    { name: 'version', value: version, excludeFromIndexes: true },
  ];
}

/** Opens a Datastore client on `target`, through DATASTORE_EMULATOR_HOST when it is set. */
export function createDatastoreClient(target: DatastoreTarget): Datastore {
  const options: Record<string, unknown> = {
    projectId: target.projectId,
    // A dropped channel is tried again after 100 ms, then at most every 2 s, so that the
    // driver notices quickly when the service is back.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 2000,
  };
  if (target.namespace !== '') options.namespace = target.namespace;
  if (target.databaseId !== '') options.databaseId = target.databaseId;
  if (process.env.DATASTORE_EMULATOR_HOST) {
    // With a universe domain given, the client needs no credentials before it talks to an
    // emulator, so it never looks for Application Default Credentials (which would probe
    // the cloud metadata server unless METADATA_SERVER_DETECTION=none).
    options.universeDomain = 'googleapis.com';
  }
  return new Datastore(options);
}
