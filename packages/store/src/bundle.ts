import { randomBytes } from 'node:crypto';
import { type Evpid, evpidMsgid, type Msgid, QueueError } from '@smtpq/protocol';
import type { PreparedCreate, StorageDriver } from './driver.js';
import { newGeneration } from './ids-from-token.js';
import { bodyKey, envelopeKey, messageKey } from './keys.js';
import type { BodyUpload, QueueOptions, WriteOptions } from './queue-types.js';
import { decodeEnvelope, encodeMessage, type MessageRecord } from './records.js';
import { storageCall } from './storage-errors.js';
import { checkedUpload } from './upload-check.js';

/** Envelope creates of one bundle in flight at once. */
const ENVELOPE_CONCURRENCY = 16;

/** A message record with the version it was read or written at. */
export interface LoadedMessage {
  record: MessageRecord;
  version: string;
}

/** The parts of the queue store that a bundle uses. */
export interface BundleSource {
  readonly driver: StorageDriver;
  readonly options: QueueOptions;
  messageLoad(msgid: Msgid): Promise<LoadedMessage | null>;
  /** Creates an envelope; null when the evpid exists (and is not this token's replay). */
  envelopeCreateWithId(
    evpid: Evpid,
    data: Buffer,
    token: string | null,
    generation: string | null,
  ): Promise<{ version: string; created: boolean } | null>;
  envelopeSizeCheck(data: Buffer): void;
}

/** The writes of one bundle attempt, so that a failure removes exactly those. */
interface BundleWrites {
  /** Envelopes this attempt created, with their versions. */
  envelopes: Array<{ key: string; version: string }>;
  bodyKey: string;
}

/**
 * Creates a message with its envelopes and body, committed, in two steps of storage writes.
 * First the envelopes, the body and the message record (staged, when the driver can) are
 * written at once. Then one create makes the committed message record visible. Until that
 * create the envelopes have no message, so the walk does not show them. They carry this
 * attempt's generation, so they never show under another message of the same msgid either.
 * Garbage collection leaves such envelopes alone while they are younger than the uncommitted
 * age.
 *
 * A repeat with the same token returns at once when the first attempt committed. A repeat
 * that finds envelopes of an attempt still running (or failed without removing them) fails
 * with a 503, so that the client tries again once that attempt has ended.
 */
export async function messageBundle(
  source: BundleSource,
  msgid: Msgid,
  envelopes: Array<{ evpid: Evpid; data: Buffer }>,
  body: BodyUpload,
  options: WriteOptions & { owner: string | null },
): Promise<void> {
  bundleCheck(source, msgid, envelopes);
  const { driver } = source;
  const token = options.token ?? null;
  const generation = newGeneration();
  const now = source.options.now();
  const writes: BundleWrites = {
    envelopes: [],
    bodyKey: bodyKey(msgid, now, randomBytes(8).toString('hex')),
  };
  const bodyStored = { size: 0, sha256: '' };

  const existing = await source.messageLoad(msgid);
  if (existing !== null) {
    const repeat = token !== null && existing.record.token === token;
    if (!repeat || existing.record.state !== 'committed') throw messageExists(msgid);
    // A repeat of a bundle that succeeded writes nothing: an envelope delivered and deleted
    // since then must not come back. The bytes are still checked.
    for await (const _chunk of checkedUpload(body, source.options.maxMessageBytes, bodyStored)) {
      // The first attempt stored them.
    }
    return;
  }

  const committed = (): Buffer =>
    encodeMessage({
      state: 'committed',
      createdAt: now,
      token,
      generation,
      body: { key: writes.bodyKey, ...bodyStored },
      owner: options.owner,
    });
  const bodyChecked = deferred();
  let staged: PreparedCreate | null = null;

  const upload = storageCall('body upload', () =>
    driver.blobPut(
      writes.bodyKey,
      signalEnd(checkedUpload(body, source.options.maxMessageBytes, bodyStored), bodyChecked),
    ),
  );
  // A driver that fails before it reads the body never starts the check; this ends the wait.
  upload.then(
    () => bodyChecked.reject(new Error('the body upload ended before its last chunk')),
    (error: unknown) => bodyChecked.reject(error),
  );

  const results = await Promise.allSettled([
    envelopesCreate(source, envelopes, token, generation, writes),
    upload,
    // The committed record needs the body's digest, known once its last chunk has arrived.
    bodyChecked.promise.then(async () => {
      if (driver.prepareCreate === undefined) return;
      staged = await storageCall('message commit', () =>
        (driver.prepareCreate as NonNullable<StorageDriver['prepareCreate']>)(
          messageKey(msgid),
          committed(),
        ),
      );
    }),
  ]);

  try {
    for (const result of results) if (result.status === 'rejected') throw result.reason;
  } catch (error) {
    await (staged as PreparedCreate | null)?.discard().catch(() => undefined);
    await bundleAbandon(driver, writes);
    throw error;
  }

  const prepared = staged as PreparedCreate | null;
  let version: string | null;
  try {
    version = await storageCall('message commit', () =>
      prepared !== null ? prepared.publish() : driver.create(messageKey(msgid), committed()),
    );
  } catch (error) {
    // The response may have been lost after the create happened, so nothing that the commit
    // may use is removed.
    const current = await source.messageLoad(msgid).catch(() => undefined);
    if (current === null || (current !== undefined && current.record.generation !== generation)) {
      await bundleAbandon(driver, writes);
    }
    throw error;
  }
  if (version !== null) return;

  // The msgid was taken since the first read: by a repeat of this bundle that committed first
  // (a bundle without envelopes, or its envelope creates would have clashed), or by another
  // message. What this attempt wrote is garbage either way.
  await bundleAbandon(driver, writes);
  const current = await source.messageLoad(msgid);
  if (current?.record.state === 'committed' && token !== null && current.record.token === token) {
    return;
  }
  throw messageExists(msgid);
}

/** Checks every envelope before anything is written. */
function bundleCheck(
  source: BundleSource,
  msgid: Msgid,
  envelopes: Array<{ evpid: Evpid; data: Buffer }>,
): void {
  const seen = new Set<Evpid>();
  for (const envelope of envelopes) {
    source.envelopeSizeCheck(envelope.data);
    if (evpidMsgid(envelope.evpid) !== msgid) {
      throw new QueueError(
        'evpid-msgid-mismatch',
        `evpid ${envelope.evpid} does not belong to message ${msgid}`,
      );
    }
    if (seen.has(envelope.evpid)) {
      throw new QueueError('invalid-bundle', `evpid ${envelope.evpid} appears twice in the bundle`);
    }
    seen.add(envelope.evpid);
  }
}

/** Creates the envelopes, at most ENVELOPE_CONCURRENCY at once; stops at the first error. */
async function envelopesCreate(
  source: BundleSource,
  envelopes: Array<{ evpid: Evpid; data: Buffer }>,
  token: string | null,
  generation: string,
  writes: BundleWrites,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;

  const worker = async (): Promise<void> => {
    while (failure === null && next < envelopes.length) {
      const envelope = envelopes[next++] as { evpid: Evpid; data: Buffer };
      try {
        const result = await source.envelopeCreateWithId(
          envelope.evpid,
          envelope.data,
          token,
          generation,
        );
        if (result === null) throw await envelopeClash(source, envelope.evpid, token);
        writes.envelopes.push({ key: envelopeKey(envelope.evpid), version: result.version });
      } catch (error) {
        failure ??= { error };
      }
    }
  };

  // Every worker ends before this returns, so that a failed bundle removes all it created.
  const workers = Math.min(ENVELOPE_CONCURRENCY, envelopes.length);
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/**
 * Returns the error for an envelope that exists already: another attempt of the same request
 * (same token) is still writing it or failed and left it, which a later repeat can get past,
 * or it belongs to another message.
 */
async function envelopeClash(
  source: BundleSource,
  evpid: Evpid,
  token: string | null,
): Promise<QueueError> {
  const key = envelopeKey(evpid);
  const stored = await storageCall('envelope read', () => source.driver.get(key));
  if (token !== null && stored !== null && decodeEnvelope(stored.data, key).createToken === token) {
    return new QueueError(
      'storage-unavailable',
      `envelope ${evpid} is being written by an earlier attempt of this request ` +
        '(same Idempotency-Key), or was left by one that failed; retry the bundle shortly',
    );
  }
  return new QueueError('envelope-exists', `envelope ${evpid} already exists`);
}

/**
 * Removes the envelopes and the body that a failed attempt wrote, each only if it is still
 * the version written. No other attempt uses them: a repeat clashes with them instead. When
 * the storage fails here too, garbage collection removes them once they are older than the
 * uncommitted age.
 */
async function bundleAbandon(driver: StorageDriver, writes: BundleWrites): Promise<void> {
  const envelopes = writes.envelopes.splice(0);
  await Promise.all(
    envelopes.map(({ key, version }) => driver.delete(key, version).catch(() => undefined)),
  );
  await driver.blobDelete(writes.bodyKey).catch(() => undefined);
}

/** Returns a promise with its resolve and reject functions. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve = (): void => undefined;
  let reject = (_error: unknown): void => undefined;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  // A rejection is also seen through the upload that caused it; this copy must not go unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Passes `source` through and settles `end` when it is done: resolved after the last chunk. */
async function* signalEnd<T>(
  source: AsyncIterable<T>,
  end: ReturnType<typeof deferred>,
): AsyncGenerator<T> {
  let finished = false;
  try {
    yield* source;
    finished = true;
    end.resolve();
  } catch (error) {
    end.reject(error);
    throw error;
  } finally {
    // A consumer that stopped early never lets the body be checked.
    if (!finished) end.reject(new Error('the body upload stopped before its end'));
  }
}

export function messageExists(msgid: Msgid): QueueError {
  return new QueueError(
    'message-exists',
    `message ${msgid} already exists; choose another msgid, or repeat the request with its original Idempotency-Key`,
  );
}
