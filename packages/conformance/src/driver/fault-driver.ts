import type { Readable } from 'node:stream';
import { type StorageDriver, StorageFault, type StoredRecord } from '@smtpq/store';

/**
 * How an injected fault behaves at the chosen storage call:
 * - `fault`: the call fails with a StorageFault and does nothing; later calls work, as after
 *   a passing outage.
 * - `crash`: the process stops before the call reaches the storage; the call and every later
 *   one fail.
 * - `lost-response`: the call reaches the storage but its response is lost (a timeout after the
 *   storage acted), so the caller gets a StorageFault; later calls work.
 * - `crash`: the process stops before the call reaches the storage; the call and every later
 *   one fail.
 * - `crash-after-write`: the call reaches the storage, then the process stops before it sees
 *   the response; the call and every later one fail.
 */
export type FaultMode = 'fault' | 'lost-response' | 'crash' | 'crash-after-write';

export const FAULT_MODES: readonly FaultMode[] = [
  'fault',
  'lost-response',
  'crash',
  'crash-after-write',
];

const WRITES = new Set(['create', 'replace', 'delete', 'blobPut', 'blobDelete']);

/**
 * A StorageDriver wrapper that injects one fault at the k-th storage call after `arm(k, mode)`.
 * Calls already in flight when the process "stops" still reach the storage, because writes in
 * flight at a real crash may land or not. `settle()` waits for them.
 */
export class FaultDriver implements StorageDriver {
  readonly kind: string;

  private armedAt = 0;
  private mode: FaultMode = 'fault';
  private calls = 0;
  private stopped = false;
  /** Name of the storage call the fault hit, or null while it has not fired. */
  firedAt: string | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly inner: StorageDriver) {
    this.kind = inner.kind;
  }

  /** Injects a fault at the `at`-th storage call from now (1 is the next call). */
  arm(at: number, mode: FaultMode): void {
    this.armedAt = at;
    this.mode = mode;
    this.calls = 0;
    this.firedAt = null;
  }

  /** Waits until every call that reached the storage has finished. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
    }
  }

  get(key: string): Promise<StoredRecord | null> {
    return this.call('get', key, () => this.inner.get(key));
  }

  create(key: string, data: Buffer): Promise<string | null> {
    return this.call('create', key, () => this.inner.create(key, data));
  }

  replace(
    key: string,
    data: Buffer,
    expectedVersion: string,
  ): Promise<string | 'mismatch' | 'missing'> {
    return this.call('replace', key, () => this.inner.replace(key, data, expectedVersion));
  }

  delete(key: string, expectedVersion?: string): Promise<'deleted' | 'missing' | 'mismatch'> {
    return this.call('delete', key, () => this.inner.delete(key, expectedVersion));
  }

  list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return this.call('list', prefix, () => this.inner.list(prefix, options));
  }

  blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    return this.call('blobPut', key, () => this.inner.blobPut(key, source));
  }

  blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    return this.call('blobGet', key, () => this.inner.blobGet(key));
  }

  blobDelete(key: string): Promise<void> {
    return this.call('blobDelete', key, () => this.inner.blobDelete(key));
  }

  blobList(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    return this.call('blobList', prefix, () => this.inner.blobList(prefix, options));
  }

  health(): Promise<void> {
    return this.call('health', '', () => this.inner.health());
  }

  async close(): Promise<void> {
    await this.settle();
    await this.inner.close();
  }

  private async call<T>(name: string, key: string, perform: () => Promise<T>): Promise<T> {
    if (this.stopped) throw this.stoppedFault(name);
    if (this.armedAt === 0) return this.track(perform());

    this.calls += 1;
    if (this.calls !== this.armedAt) return this.track(perform());

    this.firedAt = `${name} ${key}`;
    this.armedAt = 0;
    if (this.mode === 'fault') {
      throw new StorageFault('unavailable', `injected fault at ${name} ${key}`);
    }
    if (this.mode === 'lost-response') {
      await this.track(perform()).catch(() => undefined);
      throw new StorageFault('timeout', `injected loss of the response to ${name} ${key}`);
    }

    this.stopped = true;
    if (this.mode === 'crash-after-write' && WRITES.has(name)) {
      await this.track(perform()).catch(() => undefined);
    }
    throw this.stoppedFault(name);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  private stoppedFault(name: string): StorageFault {
    return new StorageFault('unavailable', `process stopped (simulated crash) before ${name}`);
  }
}
