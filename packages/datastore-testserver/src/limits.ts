/**
 * Limits of Firestore in Datastore mode as Google documents them ("Limits" and "Storage size
 * calculations" in the Datastore mode documentation), plus those of legacy Cloud Datastore
 * that this server also enforces because a store written for them works on both.
 */
export const LIMITS = {
  /** Maximum API request size: 10 MiB. */
  requestBytes: 10 * 1024 * 1024,
  /** Maximum entity size, computed as in "Storage size calculations": 1 MiB − 4 bytes. */
  entityBytes: 1_048_572,
  /** Maximum size of an unindexed property value: 1 MiB − 89 bytes. */
  unindexedValueBytes: 1_048_487,
  /** Maximum UTF-8 size of an indexed string (and of an indexed blob). */
  indexedValueBytes: 1500,
  /** Maximum key size, computed as in "Storage size calculations": 6 KiB. */
  keyBytes: 6 * 1024,
  /** Maximum size of a key name, a kind or a property name, in UTF-8 bytes. */
  nameBytes: 1500,
  /** Maximum number of keys in one Lookup. */
  lookupKeys: 1000,
  /** Maximum number of mutations in one Commit (the legacy Cloud Datastore limit). */
  mutationsPerCommit: 500,
  /** Maximum entity groups one transaction may touch (legacy Cloud Datastore). */
  groupsPerTransaction: 25,
  /** Maximum depth of nested entity values. */
  entityNesting: 20,
  /** Maximum path elements of a key. */
  keyPathElements: 100,
  /** A transaction unused this long expires, in ms (the service documents 60 s idle). */
  transactionIdleMs: 60_000,
} as const;
