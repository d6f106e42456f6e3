import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { LIMITS } from './limits.js';
import { invalidArgument, RpcError, unimplemented } from './rpc-error.js';
import type { RequestBase, TransactionOptions } from './wire-types.js';

/**
 * An open transaction. Concurrency is optimistic per entity group, as in legacy Cloud
 * Datastore: the commit fails with ABORTED when another commit wrote to an entity group after
 * this transaction read from it, or (for a group it only writes) after it began.
 */
export interface Transaction {
  id: string;
  readOnly: boolean;
  projectId: string;
  databaseId: string;
  /** Commit version when the transaction began. */
  beginSequence: bigint;
  /** Entity groups read, each with the commit version at its first read. */
  reads: Map<string, bigint>;
  lastUsedAt: number;
  /** Set once a commit was tried: the transaction can then only be rolled back. */
  finished: boolean;
}

export class TransactionTable {
  private readonly open = new Map<string, Transaction>();

  begin(
    request: Required<RequestBase>,
    options: TransactionOptions | null | undefined,
    sequence: bigint,
    now: number,
  ): Transaction {
    this.expire(now);
    if (options?.readOnly?.readTime !== undefined) throw unimplemented('a read-only read_time');

    const transaction: Transaction = {
      id: randomBytes(16).toString('hex'),
      readOnly: options?.mode === 'readOnly',
      projectId: request.projectId,
      databaseId: request.databaseId,
      beginSequence: sequence,
      reads: new Map(),
      lastUsedAt: now,
      finished: false,
    };
    this.open.set(transaction.id, transaction);
    return transaction;
  }

  /**
   * Returns the transaction `id` for a read or a commit, or throws INVALID_ARGUMENT as the
   * service does. `forRollback` also accepts a transaction whose commit failed.
   */
  find(
    request: Required<RequestBase>,
    id: Buffer | undefined,
    now: number,
    forRollback = false,
  ): Transaction {
    this.expire(now);
    const transaction = id === undefined ? undefined : this.open.get(id.toString('hex'));
    if (
      transaction === undefined ||
      (transaction.finished && !forRollback) ||
      transaction.projectId !== request.projectId ||
      transaction.databaseId !== request.databaseId
    ) {
      throw invalidArgument('The referenced transaction has expired or is no longer valid.');
    }
    transaction.lastUsedAt = now;
    return transaction;
  }

  /** Records that `transaction` read from `groups` at commit version `sequence`. */
  noteRead(transaction: Transaction, groups: Iterable<string>, sequence: bigint): void {
    if (transaction.readOnly) return;
    for (const group of groups) {
      if (!transaction.reads.has(group)) transaction.reads.set(group, sequence);
    }
    checkGroupCount(transaction.reads.size);
  }

  /** Ends a committed or rolled-back transaction. */
  end(transaction: Transaction): void {
    this.open.delete(transaction.id);
  }

  /** Marks a transaction whose commit failed: only a rollback may still name it. */
  finish(transaction: Transaction): void {
    transaction.finished = true;
  }

  /**
   * Throws ABORTED when a commit wrote to one of the groups the transaction reads or writes
   * after it read them (or began); `groupVersion` returns a group's last commit version.
   */
  checkConflicts(
    transaction: Transaction,
    writtenGroups: Iterable<string>,
    groupVersion: (group: string) => bigint,
  ): void {
    const seen = new Map(transaction.reads);
    for (const group of writtenGroups) {
      if (!seen.has(group)) seen.set(group, transaction.beginSequence);
    }
    checkGroupCount(seen.size);

    for (const [group, sequence] of seen) {
      if (groupVersion(group) > sequence) {
        throw new RpcError(
          status.ABORTED,
          'too much contention on these datastore entities. please try again.',
        );
      }
    }
  }

  private expire(now: number): void {
    for (const [id, transaction] of this.open) {
      if (now - transaction.lastUsedAt > LIMITS.transactionIdleMs) this.open.delete(id);
    }
  }
}

function checkGroupCount(count: number): void {
  if (count > LIMITS.groupsPerTransaction) {
    throw invalidArgument(
      `operating on too many entity groups in a single transaction (${count}, at most ${LIMITS.groupsPerTransaction})`,
    );
  }
}
