import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { StorageFault } from '@smtpq/store';
import type { Collection } from 'mongodb';
import { isDuplicateKey } from './faults.js';
import { type RetryPolicy, withRetry } from './retry.js';

/**
 * How conditional writes (an update or delete filtered on `_id` and a version) are kept
 * atomic:
 *
 * - `native`: the server applies the filter and the write as one step, as MongoDB does for
 *   every single-document operation on a standalone server, a replica set and a sharded
 *   cluster.
 * - `locked`: the server does not, so each conditional write runs under a lock document per
 *   key. FerretDB 1.x is such a server: its update and delete commands query the matching
 *   documents first and then write them by `_id` (internal/handler/msg_update.go and
 *   msg_delete.go in v1.24.2), so two updates filtered on the same version can both match.
 *   Inserts stay atomic there, because SQLite enforces the unique `_id`.
 */
export type ConditionalWrites = 'native' | 'locked';

/** Runs the read-compare-write steps of one document so that no other one interleaves. */
export interface WriteGuard {
  readonly mode: ConditionalWrites;
  run<T>(scope: string, id: string, work: () => Promise<T>): Promise<T>;
}

export const NATIVE_WRITES: WriteGuard = {
  mode: 'native',
  run: (_scope, _id, work) => work(),
};

export interface LockDocument {
  _id: string;
  owner: string;
  expiresAt: Date;
}

// Pause between two tries of a held lock: the holder needs two round trips to finish.
const LOCK_WAIT_MS = { min: 2, max: 20 };

/**
 * Per-key locks in the `locks` collection: inserting `{_id: scope/id}` takes the lock, since an
 * insert of an existing `_id` fails atomically on every server, and deleting it releases it.
 *
 * Limit: a lock whose holder died stays until `leaseMs` passes, which delays writes of that
 * key as long. A holder that stalls past its lease can lose the lock while it still writes,
 * and on FerretDB 1.x two processes breaking one expired lock at the same moment can both end
 * up holding it, because the delete of the expired lock is not atomic there either.
 */
export class LockedWrites implements WriteGuard {
  readonly mode = 'locked';

  constructor(
    private readonly locks: Collection<LockDocument>,
    private readonly retry: RetryPolicy,
    private readonly leaseMs: number,
  ) {}

  async run<T>(scope: string, id: string, work: () => Promise<T>): Promise<T> {
    const lockId = `${scope}/${id}`;
    const owner = await this.acquire(lockId);
    try {
      return await work();
    } finally {
      await withRetry('lock release', this.retry, () =>
        this.locks.deleteOne({ _id: lockId, owner }),
      ).catch(() => undefined);
    }
  }

  private async acquire(lockId: string): Promise<string> {
    const owner = randomBytes(12).toString('base64url');
    const started = Date.now();

    for (;;) {
      const taken = await withRetry('lock acquire', this.retry, async () => {
        try {
          await this.locks.insertOne({
            _id: lockId,
            owner,
            expiresAt: new Date(Date.now() + this.leaseMs),
          });
          return true;
        } catch (error) {
          if (isDuplicateKey(error)) return false;
          throw error;
        }
      });
      if (taken) return owner;

      const held = await withRetry('lock read', this.retry, () =>
        this.locks.findOne({ _id: lockId }),
      );
      if (held !== null && held.owner === owner) return owner;
      if (held !== null && held.expiresAt.getTime() < Date.now()) {
        await withRetry('lock break', this.retry, () =>
          this.locks.deleteOne({ _id: lockId, owner: held.owner }),
        );
        continue;
      }

      if (Date.now() - started > this.retry.budgetMs) {
        throw new StorageFault(
          'timeout',
          `MongoDB lock ${lockId} stayed held for ${Date.now() - started} ms`,
        );
      }
      await sleep(LOCK_WAIT_MS.min + Math.random() * (LOCK_WAIT_MS.max - LOCK_WAIT_MS.min));
    }
  }
}
