import type { Entity } from '@google-cloud/datastore';
import type { StoredRecord } from '@smtpq/store';
import { asBuffer, type DatastoreAccess, newVersion, recordData } from './access.js';
import { checkStoreKey, groupOf } from './layout.js';
import { clientCall, GRPC, grpcCode, withRetries } from './retry.js';

/**
 * Largest record the driver stores: a record is one entity, and this leaves room under the
 * 1,048,572-byte entity limit for the key and the version. Queue records (envelopes, message
 * records) are far smaller.
 */
export const MAX_RECORD_BYTES = 1_040_384;

function checkRecordSize(key: string, data: Buffer): void {
  if (data.length > MAX_RECORD_BYTES) {
    throw new Error(
      `record ${key} of ${data.length} bytes is larger than the Datastore driver's limit of ${MAX_RECORD_BYTES} bytes`,
    );
  }
}

function storedRecord(entity: Entity | undefined): StoredRecord | null {
  if (entity === undefined) return null;
  return { data: asBuffer(entity.data), version: String(entity.version) };
}

/** Reads a record by key: a lookup, strongly consistent. */
export async function recordGet(
  access: DatastoreAccess,
  key: string,
): Promise<StoredRecord | null> {
  access.checkOpen();
  checkStoreKey(key);
  const entityKey = access.recordKey(key);

  return withRetries(`read ${key}`, access.policy, async () => {
    const [entity] = await clientCall(`read ${key}`, () =>
      access.client.get(entityKey, { gaxOptions: access.callOptions() }),
    );
    return storedRecord(entity);
  });
}

/** Creates a record with one insert; ALREADY_EXISTS means the key is taken. */
export async function recordCreate(
  access: DatastoreAccess,
  key: string,
  data: Buffer,
): Promise<string | null> {
  access.checkOpen();
  checkStoreKey(key);
  checkRecordSize(key, data);
  const entityKey = access.recordKey(key);
  const version = newVersion();
  await access.directory.ensure(groupOf(key));

  return withRetries(`create ${key}`, access.policy, async ({ uncertain }) => {
    try {
      await clientCall(`create ${key}`, () =>
        access.client.save(
          { key: entityKey, method: 'insert', data: recordData(data, version) },
          access.callOptions(),
        ),
      );
      return version;
    } catch (error) {
      if (grpcCode(error) !== GRPC.ALREADY_EXISTS) throw error;
      if (!uncertain) return null;

      // An earlier attempt may have inserted the record before its response was lost.
      const [entity] = await clientCall(`create ${key}`, () =>
        access.client.get(entityKey, { gaxOptions: access.callOptions() }),
      );
      return entity?.version === version ? version : null;
    }
  });
}

/**
 * Replaces a record whose version is `expectedVersion`: a transaction that reads the entity,
 * compares its version and writes the new one. Another commit to the entity group between the
 * read and the commit aborts it, and it runs again.
 */
export async function recordReplace(
  access: DatastoreAccess,
  key: string,
  data: Buffer,
  expectedVersion: string,
): Promise<string | 'mismatch' | 'missing'> {
  access.checkOpen();
  checkStoreKey(key);
  checkRecordSize(key, data);
  const entityKey = access.recordKey(key);
  const version = newVersion();

  return withRetries(`replace ${key}`, access.policy, ({ uncertain }) =>
    access.gate.run(groupOf(key), access.policy.contentionBudgetMs, async () => {
      const transaction = access.client.transaction();
      const [current] = await clientCall(`replace ${key}`, () =>
        transaction.get(entityKey, { gaxOptions: access.callOptions() }),
      );
      if (current === undefined || current.version !== expectedVersion) {
        void transaction.rollback().catch(() => undefined);
        // A commit of an earlier attempt whose response was lost shows as our own version.
        if (uncertain && current?.version === version) return version;
        return current === undefined ? 'missing' : 'mismatch';
      }

      transaction.update({ key: entityKey, data: recordData(data, version) });
      await clientCall(`replace ${key}`, () => transaction.commit(access.callOptions()));
      return version;
    }),
  );
}

/**
 * Deletes a record. With an expected version it is a transaction like recordReplace; without
 * one, a lookup separates `missing` from `deleted` and a plain delete follows.
 */
export async function recordDelete(
  access: DatastoreAccess,
  key: string,
  expectedVersion?: string,
): Promise<'deleted' | 'missing' | 'mismatch'> {
  access.checkOpen();
  checkStoreKey(key);
  const entityKey = access.recordKey(key);

  if (expectedVersion === undefined) {
    return withRetries(`delete ${key}`, access.policy, async ({ uncertain }) => {
      const [current] = await clientCall(`delete ${key}`, () =>
        access.client.get(entityKey, { gaxOptions: access.callOptions() }),
      );
      // After a lost response the record may be gone through our own delete.
      if (current === undefined) return uncertain ? 'deleted' : 'missing';
      await clientCall(`delete ${key}`, () =>
        access.client.delete(entityKey, access.callOptions()),
      );
      return 'deleted';
    });
  }

  return withRetries(`delete ${key}`, access.policy, ({ uncertain }) =>
    access.gate.run(groupOf(key), access.policy.contentionBudgetMs, async () => {
      const transaction = access.client.transaction();
      const [current] = await clientCall(`delete ${key}`, () =>
        transaction.get(entityKey, { gaxOptions: access.callOptions() }),
      );
      if (current === undefined || current.version !== expectedVersion) {
        void transaction.rollback().catch(() => undefined);
        if (current === undefined) return uncertain ? 'deleted' : 'missing';
        return 'mismatch';
      }

      transaction.delete(entityKey);
      await clientCall(`delete ${key}`, () => transaction.commit(access.callOptions()));
      return 'deleted';
    }),
  );
}
