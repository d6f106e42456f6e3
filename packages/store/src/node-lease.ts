import { randomBytes } from 'node:crypto';
import { type NodeContext, type NodeInfo, type NodeLease, QueueError } from '@smtpq/protocol';
import type { StorageDriver } from './driver.js';
import { nodeKey } from './keys.js';
import { leaseHeld, leaseLost, leaseTtlCheck, nodeNameCheck } from './pool-errors.js';
import type { QueueOptions } from './queue-types.js';
import { storageCall } from './storage-errors.js';

/**
 * The lease record of a pool node, at key `node/<name>`. Times are ms since the epoch by the
 * frontend's clock (`QueueOptions.now`), so nodes need no synchronised clocks. Every write is
 * a create or a compare-and-swap on the record version: of two racing writers, one wins.
 */
export interface LeaseRecord {
  leaseId: string;
  state: 'live' | 'released';
  acquiredAt: number;
  expiresAt: number;
  ttlMs: number;
  /** Idempotency-Key of the acquire, so that its retry gets the same lease back. */
  token: string | null;
}

export interface LoadedLease {
  record: LeaseRecord;
  version: string;
}

/** The parts of the queue store that the lease operations use. */
export interface LeaseSource {
  readonly driver: StorageDriver;
  readonly options: QueueOptions;
}

export function encodeLease(record: LeaseRecord): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...record }));
}

export function decodeLease(data: Buffer, key: string): LeaseRecord {
  try {
    const value = JSON.parse(data.toString('utf8')) as Partial<LeaseRecord> & { v?: number };
    if (value.v !== 1 || (value.state !== 'live' && value.state !== 'released')) {
      throw new Error('unknown record version or state');
    }
    return {
      leaseId: String(value.leaseId),
      state: value.state,
      acquiredAt: Number(value.acquiredAt),
      expiresAt: Number(value.expiresAt),
      ttlMs: Number(value.ttlMs),
      token: value.token ?? null,
    };
  } catch (error) {
    throw new QueueError('internal', `stored lease record ${key} is unreadable`, { cause: error });
  }
}

/** Reads the lease record of node `name`, or returns null when the node never had one. */
export async function leaseLoad(source: LeaseSource, name: string): Promise<LoadedLease | null> {
  const key = nodeKey(name);
  const stored = await storageCall('lease read', () => source.driver.get(key));
  if (stored === null) return null;
  return { record: decodeLease(stored.data, key), version: stored.version };
}

/** Returns whether the lease is live and unexpired at `now`. */
export function leaseIsLive(record: LeaseRecord, now: number): boolean {
  return record.state === 'live' && now < record.expiresAt;
}

/**
 * Returns the ms until the messages of a lease's node can be claimed, 0 when they can be now.
 * A released lease is claimable at once. An expired one is claimable after the claim grace, so
 * that a request the fenced node started just before its expiry has ended by then.
 */
export function leaseClaimableInMs(record: LeaseRecord, now: number, claimGraceMs: number) {
  if (record.state === 'released') return 0;
  return Math.max(0, record.expiresAt + claimGraceMs - now);
}

function nodeLeaseOf(name: string, record: LeaseRecord, now: number): NodeLease {
  return {
    node: name,
    leaseId: record.leaseId,
    ttlMs: record.ttlMs,
    remainingMs: Math.max(0, record.expiresAt - now),
    expiresAt: new Date(record.expiresAt).toISOString(),
  };
}

export function nodeInfoOf(
  name: string,
  record: LeaseRecord,
  now: number,
  claimGraceMs: number,
): NodeInfo {
  const live = leaseIsLive(record, now);
  let state: NodeInfo['state'] = 'expired';
  if (live) state = 'live';
  if (record.state === 'released') state = 'released';
  return {
    node: name,
    state,
    remainingMs: live ? record.expiresAt - now : 0,
    expiresAt: new Date(record.expiresAt).toISOString(),
    claimable: leaseClaimableInMs(record, now, claimGraceMs) === 0,
  };
}

/**
 * Acquires the lease of node `name` with a new random lease id. Fails with lease-held while
 * another lease of that name is live, unless it was acquired with the same `token`: then this
 * is a retry of that acquire, and the same lease is returned.
 */
export async function leaseAcquire(
  source: LeaseSource,
  name: string,
  options: { ttlMs: number; token?: string },
): Promise<NodeLease> {
  nodeNameCheck(name);
  leaseTtlCheck(options.ttlMs);
  const key = nodeKey(name);
  const token = options.token ?? null;

  for (;;) {
    const current = await leaseLoad(source, name);
    const now = source.options.now();
    if (current !== null && leaseIsLive(current.record, now)) {
      if (token !== null && current.record.token === token) {
        return nodeLeaseOf(name, current.record, now);
      }
      throw leaseHeld(name, current.record.expiresAt - now);
    }

    const record: LeaseRecord = {
      leaseId: randomBytes(16).toString('hex'),
      state: 'live',
      acquiredAt: now,
      expiresAt: now + options.ttlMs,
      ttlMs: options.ttlMs,
      token,
    };
    const data = encodeLease(record);
    const written =
      current === null
        ? await storageCall('lease create', () => source.driver.create(key, data))
        : await storageCall('lease acquire', () =>
            source.driver.replace(key, data, current.version),
          );
    // Another acquire wrote first, so the next pass reads its lease.
    if (written === null || written === 'mismatch' || written === 'missing') continue;
    return nodeLeaseOf(name, record, now);
  }
}

/** Extends the live lease `leaseId` of node `name` to `ttlMs` from now. */
export async function leaseRenew(
  source: LeaseSource,
  name: string,
  leaseId: string,
  options: { ttlMs: number },
): Promise<NodeLease> {
  nodeNameCheck(name);
  leaseTtlCheck(options.ttlMs);

  for (;;) {
    const current = await leaseLoad(source, name);
    const now = source.options.now();
    if (current === null || current.record.leaseId !== leaseId) throw leaseLost(name);
    if (!leaseIsLive(current.record, now)) throw leaseLost(name);

    const record: LeaseRecord = {
      ...current.record,
      expiresAt: now + options.ttlMs,
      ttlMs: options.ttlMs,
    };
    const written = await storageCall('lease renew', () =>
      source.driver.replace(nodeKey(name), encodeLease(record), current.version),
    );
    if (written === 'missing') throw leaseLost(name);
    if (written !== 'mismatch') return nodeLeaseOf(name, record, now);
  }
}

/**
 * Marks the lease of node `name` released, so that live nodes can claim its messages at once.
 * A node without a lease, or with a released one, is left as it is. With `leaseId`, only that
 * lease is released: another one fails with lease-lost.
 */
export async function leaseRelease(
  source: LeaseSource,
  name: string,
  options: { leaseId?: string } = {},
): Promise<void> {
  nodeNameCheck(name);

  for (;;) {
    const current = await leaseLoad(source, name);
    if (current === null) return;
    if (options.leaseId !== undefined && current.record.leaseId !== options.leaseId) {
      throw leaseLost(name);
    }
    if (current.record.state === 'released') return;

    const record: LeaseRecord = { ...current.record, state: 'released' };
    const written = await storageCall('lease release', () =>
      source.driver.replace(nodeKey(name), encodeLease(record), current.version),
    );
    if (written !== 'mismatch') return;
  }
}

/** Throws lease-lost unless `node.leaseId` is the live, unexpired lease of its node. */
export async function leaseCheck(source: LeaseSource, node: NodeContext): Promise<void> {
  const current = await leaseLoad(source, node.name);
  const now = source.options.now();
  if (current === null || current.record.leaseId !== node.leaseId) throw leaseLost(node.name);
  if (!leaseIsLive(current.record, now)) throw leaseLost(node.name);
}
