import type { Readable } from 'node:stream';
import { QueueClient } from '@smtpq/protocol';
import { type RunningServer, startServer } from '@smtpq/server';
import {
  createQueueStore,
  MemoryDriver,
  type StorageDriver,
  StorageFault,
  type StoredRecord,
} from '@smtpq/store';
import { pino } from 'pino';

/**
 * A MemoryDriver whose every call fails with a StorageFault while `failing` is set, so that
 * the real server responds with 503 storage-unavailable.
 */
export class FaultyDriver implements StorageDriver {
  readonly kind = 'memory';
  failing = false;
  private readonly inner = new MemoryDriver();

  private check(): void {
    if (this.failing) throw new StorageFault('unavailable', 'fault injected by the test');
  }

  async get(key: string): Promise<StoredRecord | null> {
    this.check();
    return this.inner.get(key);
  }
  async create(key: string, data: Buffer): Promise<string | null> {
    this.check();
    return this.inner.create(key, data);
  }
  async replace(key: string, data: Buffer, version: string) {
    this.check();
    return this.inner.replace(key, data, version);
  }
  async delete(key: string, version?: string) {
    this.check();
    return this.inner.delete(key, version);
  }
  async list(prefix: string, options: { after?: string; limit: number }): Promise<string[]> {
    this.check();
    return this.inner.list(prefix, options);
  }
  async blobPut(key: string, source: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    this.check();
    return this.inner.blobPut(key, source);
  }
  async blobGet(key: string): Promise<{ size: number; stream: Readable } | null> {
    this.check();
    return this.inner.blobGet(key);
  }
  async blobDelete(key: string): Promise<void> {
    this.check();
    return this.inner.blobDelete(key);
  }
  async blobList(prefix: string, options: { after?: string; limit: number }) {
    this.check();
    return this.inner.blobList(prefix, options);
  }
  async health(): Promise<void> {
    this.check();
  }
  async close(): Promise<void> {
    await this.inner.close();
  }
}

export interface Frontend {
  url: string;
  port: number;
  driver: FaultyDriver;
  client: QueueClient;
  close(): Promise<void>;
}

/** Starts a real frontend on 127.0.0.1 over a FaultyDriver (port 0 picks a free port). */
export async function startFrontend(
  port = 0,
  driver = new FaultyDriver(),
  options: { keepAliveTimeoutMs?: number } = {},
): Promise<Frontend> {
  const server: RunningServer = await startServer({
    store: createQueueStore(driver),
    host: '127.0.0.1',
    port,
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
    shutdownTimeoutMs: 1_000,
    ...options,
  });
  const client = new QueueClient({ url: server.url, retryBudgetMs: 0 });
  return {
    url: server.url,
    port: server.address.port,
    driver,
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}
