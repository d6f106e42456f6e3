import type { Readable } from 'node:stream';
import type {
  Evpid,
  MessageClaimed,
  MessageInfo,
  MessageState,
  Msgid,
  NodeContext,
  NodeLease,
  NodeList,
  WalkPage,
} from '@smtpq/protocol';
import type { DriverCounter } from './driver.js';

/** Settings of the queue semantics; every field has a default. */
export interface QueueOptions {
  /** Maximum body bytes; larger bodies fail with body-too-large. */
  maxMessageBytes: number;
  /** Maximum envelope bytes; larger envelopes fail with envelope-too-large before any write. */
  maxEnvelopeBytes: number;
  /** Maximum envelope bytes in one walk page, before base64. */
  maxWalkPageBytes: number;
  /** Maximum envelopes in one walk page. */
  maxWalkPageEnvelopes: number;
  /** Age in ms after which an uncommitted message and its envelopes are removed. */
  uncommittedMaxAgeMs: number;
  /** Clock, in ms since the epoch; tests replace it. Pool leases are timed by it too. */
  now: () => number;
  /**
   * Ms after the expiry of a pool node's lease before its messages can be claimed, so that a
   * request the node started just before its expiry has ended by then.
   */
  claimGraceMs: number;
}

/**
 * A body upload. The store checks size, length and digest inside the iteration of `source`,
 * after its last chunk, so that a driver never makes a body durable whose check failed.
 */
export interface BodyUpload {
  source: AsyncIterable<Uint8Array>;
  /** SHA-256 the client declared for the body bytes. */
  sha256?: Buffer;
  /** Declared length (Content-Length), checked against the bytes received when given. */
  length?: number;
  /**
   * Extra check run after the last chunk and before the body becomes durable; it throws a
   * QueueError to reject the upload. A bundle uses it for the digest of the whole request.
   */
  check?: () => void;
}

export interface EnvelopeRecord {
  evpid: Evpid;
  data: Buffer;
  etag: string;
}

export interface WriteOptions {
  /** The client's request token (Idempotency-Key); a repeat of the same write replays its result. */
  token?: string;
}

export interface WalkOptions {
  cursor?: string;
  limit?: number;
}

export interface MessageListOptions extends WalkOptions {
  /** Only messages in this state; both when absent. */
  state?: MessageState;
  /** Only messages of this pool node, or with null the unowned ones; all when absent. */
  owner?: string | null;
}

export interface GarbageReport {
  expiredMessages: number;
  orphanEnvelopes: number;
  orphanBodies: number;
  /** What the pass found in the queue, after its removals. */
  census: QueueCensus;
}

/**
 * Counts of a garbage-collection pass, which reads every message record and lists every
 * envelope key anyway. Writes during the pass may or may not be counted.
 */
export interface QueueCensus {
  openMessages: number;
  committedMessages: number;
  /** Envelope records, of open and committed messages. */
  envelopes: number;
  /** Creation time (ms since the epoch) of the oldest committed message, or null for none. */
  oldestCommittedAt: number | null;
  /** When the pass started, ms since the epoch. */
  takenAt: number;
}

/**
 * The queue semantics, written once over a StorageDriver. Every method throws QueueError
 * (from @smtpq/protocol) for request faults and for storage faults (the storage-* codes).
 */
export interface QueueStore {
  readonly kind: string;
  readonly options: QueueOptions;

  messageCreate(options: WriteOptions & { msgid?: Msgid }): Promise<Msgid>;
  messageInfo(msgid: Msgid): Promise<MessageInfo>;
  messageDelete(msgid: Msgid): Promise<void>;
  messageCommit(msgid: Msgid, options?: WriteOptions): Promise<void>;
  messageList(
    options: MessageListOptions,
  ): Promise<{ messages: MessageInfo[]; next: string | null; end: boolean }>;

  bodyPut(
    msgid: Msgid,
    upload: BodyUpload,
    options?: WriteOptions,
  ): Promise<{ size: number; sha256: string }>;
  bodyGet(msgid: Msgid): Promise<{ size: number; sha256: string; stream: Readable }>;

  envelopeCreate(
    msgid: Msgid,
    data: Buffer,
    options?: WriteOptions & { evpid?: Evpid },
  ): Promise<{ evpid: Evpid; etag: string }>;
  envelopeGet(evpid: Evpid): Promise<EnvelopeRecord>;
  envelopeUpdate(
    evpid: Evpid,
    data: Buffer,
    options?: WriteOptions & { ifMatch?: string },
  ): Promise<{ etag: string }>;
  envelopeDelete(evpid: Evpid, options?: { ifMatch?: string }): Promise<void>;

  /**
   * Creates the message with all its envelopes and its body, and commits it: the whole
   * transaction of one accepted mail in one call.
   */
  messageBundle(
    msgid: Msgid,
    envelopes: Array<{ evpid: Evpid; data: Buffer }>,
    body: BodyUpload,
    options?: WriteOptions,
  ): Promise<void>;

  walk(options: WalkOptions): Promise<WalkPage>;
  messageWalk(
    msgid: Msgid,
    options: WalkOptions & { includeUncommitted?: boolean },
  ): Promise<WalkPage>;

  /**
   * Returns this store acting for pool node `node`. Every call on it first checks that
   * `node.leaseId` is the node's live lease, else it fails with lease-lost. New messages are
   * owned by the node and the walk shows only its messages. A call on a message the node does
   * not own fails with not-owner and changes nothing. The store it is called on stays
   * single-node.
   */
  withNode(node: NodeContext): QueueStore;
  /** Moves a committed message from `from` (null: unowned) to the node of withNode. */
  messageClaim(msgid: Msgid, options: { from: string | null }): Promise<MessageClaimed>;
  nodeLeaseAcquire(node: string, options: { ttlMs: number; token?: string }): Promise<NodeLease>;
  nodeLeaseRenew(node: string, leaseId: string, options: { ttlMs: number }): Promise<NodeLease>;
  nodeLeaseRelease(node: string, options?: { leaseId?: string }): Promise<void>;
  nodeList(options?: { counts?: boolean }): Promise<NodeList>;

  collectGarbage(): Promise<GarbageReport>;
  health(): Promise<void>;
  /** Counters of the storage driver's own work (see StorageDriver.counters); may be empty. */
  driverCounters?(): DriverCounter[];
  close(): Promise<void>;
}
