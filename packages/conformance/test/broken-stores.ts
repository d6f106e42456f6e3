import { Readable } from 'node:stream';
import type { WalkPage } from '@smtpq/protocol';
import type { QueueStore, StorageDriver, StoredRecord } from '@smtpq/store';

/** Returns `store` with some of its operations replaced. */
export function withOverrides(store: QueueStore, overrides: Partial<QueueStore>): QueueStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof QueueStore];
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Returns a store whose walk also shows the envelopes of open messages, on its last page. */
export function visibleBeforeCommit(store: QueueStore): QueueStore {
  return withOverrides(store, {
    walk: async (options) => {
      const page = await store.walk(options);
      if (!page.end) return page;
      const open = await store.messageList({ state: 'open' });
      const extra: WalkPage['envelopes'] = [];
      for (const message of open.messages) {
        const walk = await store.messageWalk(message.msgid, { includeUncommitted: true });
        extra.push(...walk.envelopes);
      }
      const envelopes = [...page.envelopes, ...extra].sort((a, b) => (a.evpid < b.evpid ? -1 : 1));
      return { ...page, envelopes };
    },
  });
}

/** Returns a store that ignores If-Match on envelope writes and deletes. */
export function ifMatchIgnored(store: QueueStore): QueueStore {
  return withOverrides(store, {
    envelopeUpdate: (evpid, data, options = {}) =>
      store.envelopeUpdate(evpid, data, { ...options, ifMatch: undefined }),
    envelopeDelete: (evpid) => store.envelopeDelete(evpid, {}),
  });
}

/** Returns a store whose walk cursor points one entry back, so each page repeats the last entry. */
export function walkRepeatsEntry(store: QueueStore): QueueStore {
  return withOverrides(store, {
    walk: async (options) => {
      const page = await store.walk(options);
      if (page.end || page.envelopes.length < 2) return page;
      const shorter = await store.walk({ ...options, limit: page.envelopes.length - 1 });
      return { ...page, next: shorter.next };
    },
  });
}

/** Returns a store whose walk returns its last page empty, when it is not the first. */
export function lastPageDropped(store: QueueStore): QueueStore {
  return withOverrides(store, {
    walk: async (options) => {
      const page = await store.walk(options);
      if (page.end && options.cursor !== undefined) return { envelopes: [], next: null, end: true };
      return page;
    },
  });
}

/** Returns a store that stores uploads without checking their Content-Digest. */
export function digestSkipped(store: QueueStore): QueueStore {
  return withOverrides(store, {
    bodyPut: (msgid, upload, options) =>
      store.bodyPut(msgid, { ...upload, sha256: undefined }, options),
    messageBundle: (msgid, envelopes, body, options) =>
      store.messageBundle(
        msgid,
        envelopes,
        { ...body, sha256: undefined, check: undefined },
        options,
      ),
  });
}

interface LossyState {
  records: Map<string, StoredRecord>;
  blobs: Map<string, Buffer>;
  /** How to undo the last acknowledged write, which a crash loses. */
  undoLast: (() => void) | null;
  counter: number;
}

/**
 * A driver that acknowledges every write at once but makes it durable only when the next write
 * arrives, so a crash (a reopen) loses the last acknowledged write: the bug of a store that
 * acknowledges a write before it is flushed.
 */
export class LossyDriver implements StorageDriver {
  readonly kind = 'lossy';

  constructor(
    private readonly state: LossyState = {
      records: new Map(),
      blobs: new Map(),
      undoLast: null,
      counter: 0,
    },
  ) {}

  /** Opens the same store after a crash: the last acknowledged write is gone. */
  reopen(): LossyDriver {
    this.state.undoLast?.();
    this.state.undoLast = null;
    return new LossyDriver(this.state);
  }

  async get(key: string) {
    const record = this.state.records.get(key);
    return record === undefined
      ? null
      : { data: Buffer.from(record.data), version: record.version };
  }

  async create(key: string, data: Buffer) {
    if (this.state.records.has(key)) return null;
    return this.writeRecord(key, data);
  }

  async replace(key: string, data: Buffer, expectedVersion: string) {
    const current = this.state.records.get(key);
    if (current === undefined) return 'missing' as const;
    if (current.version !== expectedVersion) return 'mismatch' as const;
    return this.writeRecord(key, data);
  }

  async delete(key: string, expectedVersion?: string) {
    const current = this.state.records.get(key);
    if (current === undefined) return 'missing' as const;
    if (expectedVersion !== undefined && current.version !== expectedVersion)
      return 'mismatch' as const;
    this.remember(() => this.state.records.set(key, current));
    this.state.records.delete(key);
    return 'deleted' as const;
  }

  async list(prefix: string, options: { after?: string; limit: number }) {
    return select(this.state.records.keys(), prefix, options);
  }

  async blobPut(key: string, source: AsyncIterable<Uint8Array>) {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(Buffer.from(chunk));
    const before = this.state.blobs.get(key);
    this.remember(() =>
      before === undefined ? this.state.blobs.delete(key) : this.state.blobs.set(key, before),
    );
    const blob = Buffer.concat(chunks);
    this.state.blobs.set(key, blob);
    return { size: blob.length };
  }

  async blobGet(key: string) {
    const blob = this.state.blobs.get(key);
    return blob === undefined ? null : { size: blob.length, stream: Readable.from([blob]) };
  }

  async blobDelete(key: string) {
    const before = this.state.blobs.get(key);
    if (before !== undefined) this.remember(() => this.state.blobs.set(key, before));
    this.state.blobs.delete(key);
  }

  async blobList(prefix: string, options: { after?: string; limit: number }) {
    return select(this.state.blobs.keys(), prefix, options);
  }

  async health() {}

  async close() {}

  private writeRecord(key: string, data: Buffer): string {
    const before = this.state.records.get(key);
    this.remember(() =>
      before === undefined ? this.state.records.delete(key) : this.state.records.set(key, before),
    );
    this.state.counter += 1;
    const version = `v${this.state.counter}`;
    this.state.records.set(key, { data: Buffer.from(data), version });
    return version;
  }

  /** Makes the previous write durable and keeps the undo of this one. */
  private remember(undo: () => void): void {
    this.state.undoLast = undo;
  }
}

function select(
  keys: Iterable<string>,
  prefix: string,
  options: { after?: string; limit: number },
) {
  const after = options.after;
  return [...keys]
    .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
    .sort()
    .slice(0, options.limit);
}
