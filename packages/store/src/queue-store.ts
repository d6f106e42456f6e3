import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  DEFAULT_CLAIM_GRACE_MS,
  DEFAULT_LIMITS,
  DEFAULT_UNCOMMITTED_MAX_AGE_SECONDS,
  type Evpid,
  evpidMsgid,
  type MessageClaimed,
  type MessageInfo,
  type Msgid,
  type NodeContext,
  type NodeLease,
  type NodeList,
  QueueError,
  type WalkPage,
} from '@smtpq/protocol';
import { forEachBounded } from './bounded.js';
import { type LoadedMessage, messageBundle, messageExists } from './bundle.js';
import { messageClaim } from './claim.js';
import type { DriverCounter, StorageDriver } from './driver.js';
import { etagOf, versionOf } from './etag.js';
import { collectGarbage, messageExpire } from './garbage.js';
import { evpidCandidates, msgidCandidates, newGeneration } from './ids-from-token.js';
import {
  bodyKey,
  bodyPrefix,
  envelopeKey,
  envelopePrefix,
  expiredKey,
  messageKey,
} from './keys.js';
import { leaseAcquire, leaseCheck, leaseRelease, leaseRenew } from './node-lease.js';
import { nodeList } from './node-list.js';
import { nodeContextCheck, notOwner } from './pool-errors.js';
import type {
  BodyUpload,
  EnvelopeRecord,
  GarbageReport,
  MessageListOptions,
  QueueOptions,
  QueueStore,
  WalkOptions,
  WriteOptions,
} from './queue-types.js';
import {
  decodeEnvelope,
  decodeMessage,
  encodeEnvelope,
  encodeMessage,
  type MessageRecord,
  messageInfoOf,
} from './records.js';
import { storageCall } from './storage-errors.js';
import { checkedUpload } from './upload-check.js';
import { listMessages, walkPage } from './walk.js';

/** Envelope deletes in flight at once while a message is removed. */
const DELETE_CONCURRENCY = 16;
/** How many ids a create with a server-chosen id tries before it gives up. */
const ID_ATTEMPTS = 8;

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
  maxEnvelopeBytes: DEFAULT_LIMITS.maxEnvelopeBytes,
  maxWalkPageBytes: DEFAULT_LIMITS.maxWalkPageBytes,
  maxWalkPageEnvelopes: DEFAULT_LIMITS.maxWalkPageEnvelopes,
  uncommittedMaxAgeMs: DEFAULT_UNCOMMITTED_MAX_AGE_SECONDS * 1000,
  now: () => Date.now(),
  claimGraceMs: DEFAULT_CLAIM_GRACE_MS,
};

/** Creates the queue semantics over a storage driver. */
export function createQueueStore(
  driver: StorageDriver,
  options: Partial<QueueOptions> = {},
): QueueStore {
  return new DriverQueueStore(driver, { ...DEFAULT_QUEUE_OPTIONS, ...options });
}

/**
 * The queue semantics. An instance with a `node` acts for that pool node (see
 * QueueStore.withNode); without one (single-node mode) no call reads a lease or checks an owner.
 */
class DriverQueueStore implements QueueStore {
  readonly kind: string;

  constructor(
    readonly driver: StorageDriver,
    readonly options: QueueOptions,
    readonly node: NodeContext | null = null,
  ) {
    this.kind = driver.kind;
  }

  withNode(node: NodeContext): QueueStore {
    nodeContextCheck(node);
    return new DriverQueueStore(this.driver, this.options, node);
  }

  /** Throws lease-lost unless this store's node still holds its lease; no-op without a node. */
  private async fence(): Promise<void> {
    if (this.node !== null) await leaseCheck(this, this.node);
  }

  /** Throws not-owner when this store acts for a node that does not own the message. */
  private ownerCheck(msgid: Msgid, record: MessageRecord): void {
    if (this.node !== null && record.owner !== this.node.name) {
      throw notOwner(msgid, record.owner, this.node.name);
    }
  }

  /** Checks the owner of the message of an envelope; a missing message is left to the caller. */
  private async envelopeOwnerCheck(evpid: Evpid): Promise<void> {
    if (this.node === null) return;
    const msgid = evpidMsgid(evpid);
    const loaded = await this.messageLoad(msgid);
    if (loaded !== null) this.ownerCheck(msgid, loaded.record);
  }

  async messageCreate(options: WriteOptions & { msgid?: Msgid }): Promise<Msgid> {
    await this.fence();
    const token = options.token ?? null;

    if (options.msgid !== undefined) {
      const created = await this.messageCreateWithId(options.msgid, token);
      if (!created) throw messageExists(options.msgid);
      return options.msgid;
    }

    for (const msgid of msgidCandidates(options.token, ID_ATTEMPTS)) {
      if (await this.messageCreateWithId(msgid, token)) return msgid;
    }
    throw new QueueError('internal', `no free msgid after ${ID_ATTEMPTS} attempts`);
  }

  /** Creates the message, or finds it created by the same token. Returns false on a conflict. */
  private async messageCreateWithId(msgid: Msgid, token: string | null): Promise<boolean> {
    const record: MessageRecord = {
      state: 'open',
      createdAt: this.options.now(),
      token,
      generation: newGeneration(),
      body: null,
      owner: this.node?.name ?? null,
    };
    const version = await storageCall('message create', () =>
      this.driver.create(messageKey(msgid), encodeMessage(record)),
    );
    if (version !== null) return true;

    const existing = await this.messageLoad(msgid);
    return token !== null && existing?.record.token === token;
  }

  async messageInfo(msgid: Msgid): Promise<MessageInfo> {
    await this.fence();
    const loaded = await this.messageLoad(msgid);
    if (loaded === null) throw messageNotFound(msgid);
    this.ownerCheck(msgid, loaded.record);
    return messageInfoOf(msgid, loaded.record);
  }

  async messageDelete(msgid: Msgid): Promise<void> {
    await this.fence();
    const loaded = await this.messageLoad(msgid);
    if (this.node !== null && loaded !== null) return this.messageDeleteOwned(msgid, loaded);

    // The record goes first: once it is gone the walk ignores the envelopes, and whatever a
    // crash leaves behind is garbage that collectGarbage removes.
    await storageCall('message delete', () => this.driver.delete(messageKey(msgid)));
    await this.messageContentsDelete(msgid, loaded?.record ?? null);
  }

  /**
   * Deletes a message for a pool node: only while the record is still the version whose owner
   * was checked, so that a claim in between wins.
   */
  private async messageDeleteOwned(msgid: Msgid, loaded: LoadedMessage): Promise<void> {
    this.ownerCheck(msgid, loaded.record);
    const result = await storageCall('message delete', () =>
      this.driver.delete(messageKey(msgid), loaded.version),
    );
    if (result === 'mismatch') return this.messageDelete(msgid);
    await this.messageContentsDelete(msgid, loaded.record);
  }

  /** Deletes the envelopes and body blobs of a message whose record is already gone. */
  async messageContentsDelete(msgid: Msgid, record: MessageRecord | null): Promise<void> {
    for (;;) {
      const keys = await storageCall('envelope list', () =>
        this.driver.list(envelopePrefix(msgid), { limit: 1000 }),
      );
      // A few at a time: a thousand deletes at once queued behind the S3 driver's request
      // limit and kept FerretDB's SQLite database locked past the driver's retries.
      await forEachBounded(
        keys,
        async (key) => {
          await storageCall('envelope delete', () => this.driver.delete(key));
        },
        DELETE_CONCURRENCY,
      );
      if (keys.length < 1000) break;
    }

    const bodyKeys = await storageCall('body list', () =>
      this.driver.blobList(bodyPrefix(msgid), { limit: 1000 }),
    );
    if (record?.body && !bodyKeys.includes(record.body.key)) bodyKeys.push(record.body.key);
    await Promise.all(
      bodyKeys.map((key) => storageCall('body delete', () => this.driver.blobDelete(key))),
    );
  }

  async messageCommit(msgid: Msgid, _options: WriteOptions = {}): Promise<void> {
    await this.fence();
    for (;;) {
      const loaded = await this.messageLoad(msgid);
      if (loaded === null) throw await this.messageGone(msgid);
      this.ownerCheck(msgid, loaded.record);
      if (loaded.record.state === 'committed') return;

      // A commit after the uncommitted age gets message-expired at once, not only after the
      // next garbage pass: the message is removed here as that pass would remove it.
      const cutoff = this.options.now() - this.options.uncommittedMaxAgeMs;
      if (loaded.record.createdAt <= cutoff) {
        const outcome = await messageExpire(this, msgid, cutoff);
        if (outcome.kind === 'kept') continue;
        throw await this.messageGone(msgid);
      }

      if (loaded.record.body === null) {
        throw new QueueError(
          'body-missing',
          `message ${msgid} has no body; upload it with PUT /v1/messages/${msgid}/body before the commit`,
        );
      }

      const committed: MessageRecord = { ...loaded.record, state: 'committed' };
      const result = await storageCall('message commit', () =>
        this.driver.replace(messageKey(msgid), encodeMessage(committed), loaded.version),
      );
      if (result === 'missing') throw await this.messageGone(msgid);
      if (result !== 'mismatch') return;
    }
  }

  async messageList(
    options: MessageListOptions,
  ): Promise<{ messages: MessageInfo[]; next: string | null; end: boolean }> {
    await this.fence();
    return listMessages(this, options);
  }

  async bodyPut(
    msgid: Msgid,
    upload: BodyUpload,
    _options: WriteOptions = {},
  ): Promise<{ size: number; sha256: string }> {
    await this.fence();
    const before = await this.messageLoad(msgid);
    if (before === null) throw await this.messageGone(msgid);
    this.ownerCheck(msgid, before.record);
    if (before.record.state === 'committed') throw messageCommitted(msgid);

    const key = bodyKey(msgid, this.options.now(), randomBytes(8).toString('hex'));
    const result = { size: 0, sha256: '' };
    await storageCall('body upload', () =>
      this.driver.blobPut(key, checkedUpload(upload, this.options.maxMessageBytes, result)),
    );

    let previous: string | null;
    try {
      previous = await this.messageBodySet(msgid, { key, ...result });
    } catch (error) {
      // A replace whose response was lost may still have pointed the message at this upload, so
      // only an upload the record does not reference is deleted; collectGarbage takes the rest.
      const current = await this.messageLoad(msgid).catch(() => undefined);
      if (current !== undefined && current?.record.body?.key !== key) {
        await this.driver.blobDelete(key).catch(() => undefined);
      }
      throw error;
    }

    // The message points at the new body: the old one is garbage, which collectGarbage removes
    // if this delete fails.
    if (previous !== null) await this.driver.blobDelete(previous).catch(() => undefined);
    return result;
  }

  /** Points the open message at a new body. Returns the key of the body it replaced. */
  private async messageBodySet(
    msgid: Msgid,
    body: NonNullable<MessageRecord['body']>,
  ): Promise<string | null> {
    for (;;) {
      const loaded = await this.messageLoad(msgid);
      if (loaded === null) throw await this.messageGone(msgid);
      this.ownerCheck(msgid, loaded.record);
      if (loaded.record.state === 'committed') throw messageCommitted(msgid);

      const updated: MessageRecord = { ...loaded.record, body };
      const result = await storageCall('message update', () =>
        this.driver.replace(messageKey(msgid), encodeMessage(updated), loaded.version),
      );
      if (result === 'missing') throw await this.messageGone(msgid);
      if (result !== 'mismatch') return loaded.record.body?.key ?? null;
    }
  }

  async bodyGet(msgid: Msgid): Promise<{ size: number; sha256: string; stream: Readable }> {
    await this.fence();
    const loaded = await this.messageLoad(msgid);
    if (loaded === null) throw messageNotFound(msgid);
    this.ownerCheck(msgid, loaded.record);

    const body = loaded.record.body;
    const blob =
      body === null ? null : await storageCall('body read', () => this.driver.blobGet(body.key));
    if (body === null || blob === null) {
      throw new QueueError('body-not-found', `message ${msgid} has no body`);
    }
    return { size: blob.size, sha256: body.sha256, stream: blob.stream };
  }

  async envelopeCreate(
    msgid: Msgid,
    data: Buffer,
    options: WriteOptions & { evpid?: Evpid } = {},
  ): Promise<{ evpid: Evpid; etag: string }> {
    this.envelopeSizeCheck(data);
    if (options.evpid !== undefined && evpidMsgid(options.evpid) !== msgid) {
      throw new QueueError(
        'evpid-msgid-mismatch',
        `evpid ${options.evpid} does not belong to message ${msgid}`,
      );
    }

    await this.fence();
    const loaded = await this.messageLoad(msgid);
    if (loaded === null) throw messageNotFound(msgid);
    this.ownerCheck(msgid, loaded.record);

    const created = await this.envelopeCreateIn(msgid, loaded.record.generation, data, options);
    if (this.node !== null) await this.envelopeCreateRecheck(msgid, created);
    return created;
  }

  private async envelopeCreateIn(
    msgid: Msgid,
    generation: string | null,
    data: Buffer,
    options: WriteOptions & { evpid?: Evpid },
  ): Promise<{ evpid: Evpid; etag: string }> {
    const token = options.token ?? null;
    if (options.evpid !== undefined) {
      const result = await this.envelopeCreateWithId(options.evpid, data, token, generation);
      if (result === null) {
        throw new QueueError('envelope-exists', `envelope ${options.evpid} already exists`);
      }
      return { evpid: options.evpid, etag: etagOf(result.version) };
    }

    for (const evpid of evpidCandidates(msgid, options.token, ID_ATTEMPTS)) {
      const result = await this.envelopeCreateWithId(evpid, data, token, generation);
      if (result !== null) return { evpid, etag: etagOf(result.version) };
    }
    throw new QueueError('internal', `no free evpid in ${msgid} after ${ID_ATTEMPTS} attempts`);
  }

  /**
   * Removes an envelope that a pool node created while another node claimed its message, and
   * throws not-owner. A claim lists the envelopes after it wrote the record, so an envelope
   * created before this re-read is in that list, and one created later is removed here.
   */
  private async envelopeCreateRecheck(
    msgid: Msgid,
    created: { evpid: Evpid; etag: string },
  ): Promise<void> {
    const loaded = await this.messageLoad(msgid);
    if (loaded === null || this.node === null || loaded.record.owner === this.node.name) return;

    const key = envelopeKey(created.evpid);
    await storageCall('envelope delete', () => this.driver.delete(key, versionOf(created.etag)));
    throw notOwner(msgid, loaded.record.owner, this.node.name);
  }

  /**
   * Creates the envelope, or finds it created by the same token for the same message
   * generation. Returns its version and whether this call created it, or null on a conflict.
   */
  async envelopeCreateWithId(
    evpid: Evpid,
    data: Buffer,
    token: string | null,
    generation: string | null,
  ): Promise<{ version: string; created: boolean } | null> {
    const key = envelopeKey(evpid);
    const stored = encodeEnvelope({
      data,
      createToken: token,
      writeToken: token,
      createdAt: this.options.now(),
      generation,
    });
    const version = await storageCall('envelope create', () => this.driver.create(key, stored));
    if (version !== null) return { version, created: true };

    const existing = await storageCall('envelope read', () => this.driver.get(key));
    if (existing === null || token === null) return null;
    const decoded = decodeEnvelope(existing.data, key);
    if (decoded.createToken !== token || decoded.generation !== generation) return null;
    return { version: existing.version, created: false };
  }

  async envelopeGet(evpid: Evpid): Promise<EnvelopeRecord> {
    await this.fence();
    await this.envelopeOwnerCheck(evpid);
    const key = envelopeKey(evpid);
    const stored = await storageCall('envelope read', () => this.driver.get(key));
    if (stored === null) throw envelopeNotFound(evpid);
    return { evpid, data: decodeEnvelope(stored.data, key).data, etag: etagOf(stored.version) };
  }

  async envelopeUpdate(
    evpid: Evpid,
    data: Buffer,
    options: WriteOptions & { ifMatch?: string } = {},
  ): Promise<{ etag: string }> {
    this.envelopeSizeCheck(data);
    await this.fence();
    await this.envelopeOwnerCheck(evpid);
    const key = envelopeKey(evpid);
    const token = options.token ?? null;

    for (;;) {
      const current = await storageCall('envelope read', () => this.driver.get(key));
      if (current === null) throw envelopeNotFound(evpid);
      const decoded = decodeEnvelope(current.data, key);

      if (options.ifMatch !== undefined && options.ifMatch !== '*') {
        if (current.version !== versionOf(options.ifMatch)) {
          if (token !== null && decoded.writeToken === token) {
            return { etag: etagOf(current.version) };
          }
          throw preconditionFailed(evpid, options.ifMatch);
        }
      }

      const stored = encodeEnvelope({ ...decoded, data, writeToken: token });
      const result = await storageCall('envelope update', () =>
        this.driver.replace(key, stored, current.version),
      );
      if (result === 'missing') throw envelopeNotFound(evpid);
      if (result !== 'mismatch') return { etag: etagOf(result) };
      // Another write came between the read and the replace. With If-Match the next pass
      // throws precondition-failed (or replays this token's write); without it, it retries.
    }
  }

  async envelopeDelete(evpid: Evpid, options: { ifMatch?: string } = {}): Promise<void> {
    await this.fence();
    await this.envelopeOwnerCheck(evpid);
    const key = envelopeKey(evpid);
    let expectedVersion: string | undefined;
    if (options.ifMatch !== undefined && options.ifMatch !== '*') {
      expectedVersion = versionOf(options.ifMatch);
    }

    const result = await storageCall('envelope delete', () =>
      this.driver.delete(key, expectedVersion),
    );
    if (result === 'mismatch') throw preconditionFailed(evpid, options.ifMatch ?? '');

    await this.messageDeleteIfEmpty(evpid.slice(0, 8));
  }

  /**
   * Deletes a committed message whose last envelope is gone, as smtpd's own queue backends do:
   * after delivery smtpd deletes envelopes only, never the message.
   */
  private async messageDeleteIfEmpty(msgid: Msgid): Promise<void> {
    // Any envelope keeps the message here, also one of another generation: this path stays one
    // listing per delete, and garbage collection removes a message that holds only those.
    const remaining = await storageCall('envelope list', () =>
      this.driver.list(envelopePrefix(msgid), { limit: 1 }),
    );
    if (remaining.length > 0) return;

    const loaded = await this.messageLoad(msgid);
    if (loaded === null || loaded.record.state !== 'committed') return;

    const result = await storageCall('message delete', () =>
      this.driver.delete(messageKey(msgid), loaded.version),
    );
    if (result === 'deleted') await this.messageContentsDelete(msgid, loaded.record);
  }

  async messageBundle(
    msgid: Msgid,
    envelopes: Array<{ evpid: Evpid; data: Buffer }>,
    body: BodyUpload,
    options: WriteOptions = {},
  ): Promise<void> {
    await this.fence();
    await messageBundle(this, msgid, envelopes, body, {
      ...options,
      owner: this.node?.name ?? null,
    });
  }

  async walk(options: WalkOptions): Promise<WalkPage> {
    await this.fence();
    return walkPage(this, 'all', options, false, this.node?.name);
  }

  async messageWalk(
    msgid: Msgid,
    options: WalkOptions & { includeUncommitted?: boolean },
  ): Promise<WalkPage> {
    await this.fence();
    const loaded = await this.messageLoad(msgid);
    if (loaded === null) throw messageNotFound(msgid);
    this.ownerCheck(msgid, loaded.record);
    if (loaded.record.state !== 'committed' && options.includeUncommitted !== true) {
      throw new QueueError(
        'message-not-found',
        `message ${msgid} is not committed; add include=uncommitted to see its envelopes`,
      );
    }
    return walkPage(this, msgid, options, options.includeUncommitted === true);
  }

  async messageClaim(msgid: Msgid, options: { from: string | null }): Promise<MessageClaimed> {
    if (this.node === null) {
      throw new QueueError(
        'invalid-node-header',
        `a claim of message ${msgid} needs the node that claims it: send Smtpq-Node and ` +
          'Smtpq-Lease with the lease from PUT /v1/nodes/{node}/lease',
      );
    }
    await this.fence();
    return messageClaim(this, msgid, this.node.name, options.from);
  }

  nodeLeaseAcquire(name: string, options: { ttlMs: number; token?: string }): Promise<NodeLease> {
    return leaseAcquire(this, name, options);
  }

  nodeLeaseRenew(name: string, leaseId: string, options: { ttlMs: number }): Promise<NodeLease> {
    return leaseRenew(this, name, leaseId, options);
  }

  nodeLeaseRelease(name: string, options: { leaseId?: string } = {}): Promise<void> {
    return leaseRelease(this, name, options);
  }

  nodeList(options: { counts?: boolean } = {}): Promise<NodeList> {
    return nodeList(this, options);
  }

  async collectGarbage(): Promise<GarbageReport> {
    return collectGarbage(this);
  }

  async health(): Promise<void> {
    await storageCall('health check', () => this.driver.health());
  }

  driverCounters(): DriverCounter[] {
    return this.driver.counters?.() ?? [];
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  /** Reads a message record, or returns null when the message does not exist. */
  async messageLoad(msgid: Msgid): Promise<LoadedMessage | null> {
    const key = messageKey(msgid);
    const stored = await storageCall('message read', () => this.driver.get(key));
    if (stored === null) return null;
    return { record: decodeMessage(stored.data, key), version: stored.version };
  }

  /** Returns the error for a message that is gone: expired by age, or never there. */
  private async messageGone(msgid: Msgid): Promise<QueueError> {
    const tombstone = await storageCall('message read', () => this.driver.get(expiredKey(msgid)));
    if (tombstone === null) return messageNotFound(msgid);
    const maxAgeSeconds = Math.round(this.options.uncommittedMaxAgeMs / 1000);
    return new QueueError(
      'message-expired',
      `message ${msgid} was removed because it stayed uncommitted longer than ${maxAgeSeconds} s; create it again`,
      { details: { uncommittedMaxAgeSeconds: maxAgeSeconds } },
    );
  }

  envelopeSizeCheck(data: Buffer): void {
    const limit = this.options.maxEnvelopeBytes;
    if (data.length <= limit) return;
    throw new QueueError(
      'envelope-too-large',
      `envelope of ${data.length} bytes exceeds the limit of ${limit} bytes; nothing was stored`,
      { details: { limit, size: data.length } },
    );
  }
}

function messageNotFound(msgid: Msgid): QueueError {
  return new QueueError('message-not-found', `message ${msgid} does not exist`);
}

function messageCommitted(msgid: Msgid): QueueError {
  return new QueueError(
    'message-committed',
    `message ${msgid} is committed; its body can no longer change`,
  );
}

function envelopeNotFound(evpid: Evpid): QueueError {
  return new QueueError('envelope-not-found', `envelope ${evpid} does not exist`);
}

function preconditionFailed(evpid: Evpid, ifMatch: string): QueueError {
  return new QueueError(
    'precondition-failed',
    `envelope ${evpid} no longer has version ${ifMatch}; read it again and retry with its new ETag`,
  );
}
