import { groupOf, type Partition, partitionId, type StoredKey } from './keys.js';
import type { Timestamp, Value } from './wire-types.js';

/** An entity as stored, with the version and times of its last write. */
export interface StoredEntity {
  key: StoredKey;
  properties: Record<string, Value>;
  version: bigint;
  createTime: Timestamp;
  updateTime: Timestamp;
}

/** One write of a commit: the new state of a key, or null to delete it. */
export interface Write {
  key: StoredKey;
  properties: Record<string, Value> | null;
}

/** A state of a key kept for eventually consistent reads. */
interface Revision {
  at: number;
  entity: StoredEntity | null;
}

class PartitionData {
  /** Orders (see encodePath) of every key with a current state or a kept revision, sorted. */
  readonly orders: string[] = [];
  readonly current = new Map<string, StoredEntity>();
  readonly revisions = new Map<string, Revision[]>();
}

/**
 * The entities of every partition, kept in memory in key order, with the commit counter that
 * versions entities and entity groups. With `lagMs` above zero it also keeps recent revisions,
 * so that eventually consistent reads can see the store as it was `lagMs` earlier.
 */
export class EntityStore {
  /** Version of the last commit; every commit gets the next one. */
  sequence = 0n;

  private readonly partitions = new Map<string, PartitionData>();
  private readonly groupVersions = new Map<string, bigint>();
  private nextId = 1n << 40n;

  constructor(readonly lagMs = 0) {}

  get(key: StoredKey): StoredEntity | undefined {
    return this.partitions.get(partitionId(key.partition))?.current.get(key.order);
  }

  /** Returns the state of a key as an eventually consistent read at time `at` sees it. */
  getAt(key: StoredKey, at: number | undefined): StoredEntity | undefined {
    if (at === undefined || this.lagMs === 0) return this.get(key);
    const data = this.partitions.get(partitionId(key.partition));
    return data === undefined ? undefined : this.stateAt(data, key.order, at);
  }

  /** Version of the last commit that wrote to an entity group (0 when none did). */
  groupVersion(group: string): bigint {
    return this.groupVersions.get(group) ?? 0n;
  }

  /** Allocates a new integer id, never given before by this store. */
  allocateId(): string {
    this.nextId += 1n;
    return this.nextId.toString();
  }

  /** Makes sure no later allocation returns `id` or anything below it. */
  reserveId(id: bigint): void {
    if (id > this.nextId) this.nextId = id;
  }

  /** Applies the writes of one commit at once and returns the commit's version. */
  apply(writes: Write[], now: number): bigint {
    this.sequence += 1n;
    const version = this.sequence;
    const time = timestampOf(now);

    for (const write of writes) {
      const data = this.partition(write.key.partition);
      const previous = data.current.get(write.key.order);
      let entity: StoredEntity | null = null;
      if (write.properties === null) {
        data.current.delete(write.key.order);
      } else {
        entity = {
          key: write.key,
          properties: write.properties,
          version,
          createTime: previous?.createTime ?? time,
          updateTime: time,
        };
        data.current.set(write.key.order, entity);
      }
      this.groupVersions.set(groupOf(write.key), version);
      this.remember(data, write.key.order, previous, entity, now);
    }
    return version;
  }

  /**
   * Returns the entities of a partition in key order, those under `ancestorOrder` only when it
   * is given. `at` asks for the state an eventually consistent read at that time sees.
   */
  *scan(
    partition: Partition,
    ancestorOrder: string | undefined,
    at: number | undefined,
  ): Generator<StoredEntity> {
    const data = this.partitions.get(partitionId(partition));
    if (data === undefined) return;
    const prefix = ancestorOrder ?? '';
    for (let index = lowerBound(data.orders, prefix); index < data.orders.length; index++) {
      const order = data.orders[index] as string;
      if (!order.startsWith(prefix)) return;
      const entity =
        at === undefined || this.lagMs === 0
          ? data.current.get(order)
          : this.stateAt(data, order, at);
      if (entity !== undefined) yield entity;
    }
  }

  private partition(partition: Partition): PartitionData {
    const id = partitionId(partition);
    let data = this.partitions.get(id);
    if (data === undefined) {
      data = new PartitionData();
      this.partitions.set(id, data);
    }
    return data;
  }

  private remember(
    data: PartitionData,
    order: string,
    previous: StoredEntity | undefined,
    entity: StoredEntity | null,
    now: number,
  ): void {
    if (this.lagMs === 0) {
      if (entity === null) removeSorted(data.orders, order);
      else if (previous === undefined) insertSorted(data.orders, order);
      return;
    }

    let revisions = data.revisions.get(order);
    if (revisions === undefined) {
      // The key was absent until now; a read before `now` sees nothing.
      revisions = [{ at: Number.NEGATIVE_INFINITY, entity: previous ?? null }];
      data.revisions.set(order, revisions);
      insertSorted(data.orders, order);
    }
    revisions.push({ at: now, entity });

    // Keep the newest revision that every lagged read still sees, and all after it.
    const cutoff = now - this.lagMs;
    while (revisions.length > 1 && (revisions[1] as Revision).at <= cutoff) revisions.shift();
    if (revisions.length === 1 && revisions[0]?.entity === null) {
      data.revisions.delete(order);
      removeSorted(data.orders, order);
    }
  }

  private stateAt(data: PartitionData, order: string, at: number): StoredEntity | undefined {
    const revisions = data.revisions.get(order);
    if (revisions === undefined) return data.current.get(order);
    let state: StoredEntity | null = null;
    for (const revision of revisions) {
      if (revision.at <= at) state = revision.entity;
    }
    return state ?? undefined;
  }
}

export function timestampOf(ms: number): Timestamp {
  return { seconds: Math.floor(ms / 1000).toString(), nanos: (ms % 1000) * 1_000_000 };
}

function lowerBound(sorted: string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as string) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function insertSorted(sorted: string[], value: string): void {
  const index = lowerBound(sorted, value);
  if (sorted[index] !== value) sorted.splice(index, 0, value);
}

function removeSorted(sorted: string[], value: string): void {
  const index = lowerBound(sorted, value);
  if (sorted[index] === value) sorted.splice(index, 1);
}
