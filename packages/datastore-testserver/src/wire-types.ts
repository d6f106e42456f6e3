/**
 * The Datastore v1 messages as the proto loader decodes them (see LOADER_OPTIONS): camelCase
 * fields, int64 as decimal strings, bytes as Buffers, and `*Type` naming the oneof member set.
 * Only the fields this server reads or writes are listed.
 */

export interface PartitionId {
  projectId?: string;
  databaseId?: string;
  namespaceId?: string;
}

export interface PathElement {
  kind?: string;
  id?: string;
  name?: string;
  idType?: 'id' | 'name';
}

export interface Key {
  partitionId?: PartitionId | null;
  path?: PathElement[];
}

export interface Timestamp {
  seconds?: string;
  nanos?: number;
}

export interface LatLng {
  latitude?: number;
  longitude?: number;
}

export interface Value {
  valueType?: string;
  nullValue?: string;
  booleanValue?: boolean;
  integerValue?: string;
  doubleValue?: number;
  timestampValue?: Timestamp;
  keyValue?: Key;
  stringValue?: string;
  blobValue?: Buffer;
  geoPointValue?: LatLng;
  entityValue?: Entity;
  arrayValue?: { values?: Value[] };
  meaning?: number;
  excludeFromIndexes?: boolean;
}

export interface Entity {
  key?: Key | null;
  properties?: Record<string, Value>;
}

export interface TransactionOptions {
  mode?: 'readWrite' | 'readOnly';
  readWrite?: { previousTransaction?: Buffer };
  readOnly?: { readTime?: Timestamp };
}

export interface ReadOptions {
  consistencyType?: 'readConsistency' | 'transaction' | 'newTransaction' | 'readTime';
  readConsistency?: 'READ_CONSISTENCY_UNSPECIFIED' | 'STRONG' | 'EVENTUAL';
  transaction?: Buffer;
  newTransaction?: TransactionOptions;
  readTime?: Timestamp;
}

export interface RequestBase {
  projectId?: string;
  databaseId?: string;
}

export interface LookupRequest extends RequestBase {
  readOptions?: ReadOptions | null;
  keys?: Key[];
  propertyMask?: { paths?: string[] } | null;
}

export interface PropertyReference {
  name?: string;
}

export interface PropertyFilter {
  property?: PropertyReference;
  op?: string;
  value?: Value;
}

export interface Filter {
  filterType?: 'compositeFilter' | 'propertyFilter';
  compositeFilter?: { op?: string; filters?: Filter[] };
  propertyFilter?: PropertyFilter;
}

export interface PropertyOrder {
  property?: PropertyReference;
  direction?: string;
}

export interface Query {
  projection?: Array<{ property?: PropertyReference }>;
  kind?: Array<{ name?: string }>;
  filter?: Filter | null;
  order?: PropertyOrder[];
  distinctOn?: PropertyReference[];
  startCursor?: Buffer;
  endCursor?: Buffer;
  offset?: number;
  limit?: { value?: number } | null;
  findNearest?: unknown;
}

export interface RunQueryRequest extends RequestBase {
  partitionId?: PartitionId | null;
  readOptions?: ReadOptions | null;
  queryType?: 'query' | 'gqlQuery';
  query?: Query;
  gqlQuery?: unknown;
  propertyMask?: { paths?: string[] } | null;
  explainOptions?: unknown;
}

export interface Mutation {
  operation?: 'insert' | 'update' | 'upsert' | 'delete';
  insert?: Entity;
  update?: Entity;
  upsert?: Entity;
  delete?: Key;
  conflictDetectionStrategy?: 'baseVersion' | 'updateTime';
  baseVersion?: string;
  updateTime?: Timestamp;
  conflictResolutionStrategy?: string;
  propertyMask?: { paths?: string[] } | null;
  propertyTransforms?: unknown[];
}

export interface CommitRequest extends RequestBase {
  mode?: 'MODE_UNSPECIFIED' | 'TRANSACTIONAL' | 'NON_TRANSACTIONAL';
  transactionSelector?: 'transaction' | 'singleUseTransaction';
  transaction?: Buffer;
  singleUseTransaction?: TransactionOptions;
  mutations?: Mutation[];
}

export interface BeginTransactionRequest extends RequestBase {
  transactionOptions?: TransactionOptions | null;
}

export interface RollbackRequest extends RequestBase {
  transaction?: Buffer;
}

export interface AllocateIdsRequest extends RequestBase {
  keys?: Key[];
}

export interface EntityResult {
  entity: Entity;
  version: string;
  createTime?: Timestamp;
  updateTime?: Timestamp;
  cursor?: Buffer;
}
