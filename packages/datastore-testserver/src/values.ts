import { encodePath, keySize, type Partition, partitionId, validateKey } from './keys.js';
import { LIMITS } from './limits.js';
import { invalidArgument } from './rpc-error.js';
import type { Entity, Value } from './wire-types.js';

type ValueKind =
  | 'nullValue'
  | 'booleanValue'
  | 'integerValue'
  | 'doubleValue'
  | 'timestampValue'
  | 'keyValue'
  | 'stringValue'
  | 'blobValue'
  | 'geoPointValue'
  | 'entityValue'
  | 'arrayValue';

const KINDS: ValueKind[] = [
  'nullValue',
  'booleanValue',
  'integerValue',
  'doubleValue',
  'timestampValue',
  'keyValue',
  'stringValue',
  'blobValue',
  'geoPointValue',
  'entityValue',
  'arrayValue',
];

/** Returns which member of a Value is set; a Value with none is a null. */
export function valueKind(value: Value): ValueKind {
  if (value.valueType !== undefined) return value.valueType as ValueKind;
  return KINDS.find((kind) => value[kind] !== undefined) ?? 'nullValue';
}

const RESERVED = /^__.*__$/;

interface RequestScope {
  projectId: string;
  databaseId: string;
}

/**
 * Validates an entity's properties and returns its storage size: the key size, each property
 * name as a string plus its value, and 32 bytes. Throws INVALID_ARGUMENT when a value breaks
 * an index or size rule, naming the property.
 */
export function entitySize(
  request: RequestScope,
  entity: Entity,
  keyBytes: number,
  depth = 0,
): number {
  if (depth > LIMITS.entityNesting) {
    throw invalidArgument(`entity values are nested deeper than ${LIMITS.entityNesting} levels`);
  }
  let size = keyBytes + 32;
  for (const [name, value] of Object.entries(entity.properties ?? {})) {
    if (name === '' || RESERVED.test(name)) {
      throw invalidArgument(`the property name "${name}" is empty or reserved`);
    }
    if (Buffer.byteLength(name) > LIMITS.nameBytes) {
      throw invalidArgument(`a property name is longer than ${LIMITS.nameBytes} bytes`);
    }
    size += Buffer.byteLength(name) + 1 + valueSize(request, name, value, false, depth);
  }
  return size;
}

function valueSize(
  request: RequestScope,
  name: string,
  value: Value,
  inArray: boolean,
  depth: number,
): number {
  const kind = valueKind(value);
  const indexed = value.excludeFromIndexes !== true;
  switch (kind) {
    case 'nullValue':
    case 'booleanValue':
      return 1;
    case 'integerValue':
    case 'doubleValue':
    case 'timestampValue':
      return 8;
    case 'geoPointValue':
      return 16;
    case 'stringValue':
      return textOrBytesSize(name, Buffer.byteLength(value.stringValue ?? ''), indexed) + 1;
    case 'blobValue':
      return textOrBytesSize(name, value.blobValue?.length ?? 0, indexed);
    case 'keyValue': {
      const key = validateKey(request, value.keyValue, false);
      return keySize(key.partition, key.path);
    }
    case 'entityValue': {
      const inner = value.entityValue ?? {};
      const innerKey =
        inner.key === undefined || inner.key === null
          ? 0
          : keySize(validateKey(request, inner.key, true).partition, inner.key.path ?? []);
      return entitySize(request, inner, innerKey, depth + 1);
    }
    case 'arrayValue': {
      if (inArray) throw invalidArgument(`property "${name}": an array cannot contain an array`);
      if (value.excludeFromIndexes === true) {
        throw invalidArgument(
          `property "${name}": exclude_from_indexes must be set on the array's values, not on the array`,
        );
      }
      let total = 0;
      for (const element of value.arrayValue?.values ?? []) {
        total += valueSize(request, name, element, true, depth);
      }
      return total;
    }
  }
}

function textOrBytesSize(name: string, bytes: number, indexed: boolean): number {
  if (indexed && bytes > LIMITS.indexedValueBytes) {
    throw invalidArgument(
      `The value of property "${name}" is longer than ${LIMITS.indexedValueBytes} bytes; ` +
        'exclude it from indexes to store more',
    );
  }
  if (!indexed && bytes > LIMITS.unindexedValueBytes) {
    throw invalidArgument(
      `The value of property "${name}" is longer than ${LIMITS.unindexedValueBytes} bytes`,
    );
  }
  return bytes;
}

/**
 * Rank of each comparable type in the order this server sorts mixed types: null, booleans,
 * numbers (integers and doubles together), timestamps, strings, blobs, keys, geo points.
 */
const RANK: Partial<Record<ValueKind, number>> = {
  nullValue: 0,
  booleanValue: 1,
  integerValue: 2,
  doubleValue: 2,
  timestampValue: 3,
  stringValue: 4,
  blobValue: 5,
  keyValue: 6,
  geoPointValue: 7,
};

/** Returns whether a value can appear in an index and be compared (arrays and entities cannot). */
export function isComparable(value: Value): boolean {
  return RANK[valueKind(value)] !== undefined;
}

/** Returns the rank of a comparable value's type in the order of mixed types. */
export function valueRank(value: Value): number {
  return RANK[valueKind(value)] ?? 99;
}

/** Compares two comparable values: negative, zero or positive. */
export function compareValues(a: Value, b: Value): number {
  const kindA = valueKind(a);
  const kindB = valueKind(b);
  const rank = valueRank(a) - valueRank(b);
  if (rank !== 0) return rank;

  switch (kindA) {
    case 'nullValue':
      return 0;
    case 'booleanValue':
      return Number(a.booleanValue ?? false) - Number(b.booleanValue ?? false);
    case 'integerValue':
    case 'doubleValue':
      return compareNumbers(a, kindA, b, kindB);
    case 'timestampValue': {
      const seconds =
        BigInt(a.timestampValue?.seconds ?? '0') - BigInt(b.timestampValue?.seconds ?? '0');
      if (seconds !== 0n) return seconds < 0n ? -1 : 1;
      return (a.timestampValue?.nanos ?? 0) - (b.timestampValue?.nanos ?? 0);
    }
    case 'stringValue':
      return Buffer.compare(Buffer.from(a.stringValue ?? ''), Buffer.from(b.stringValue ?? ''));
    case 'blobValue':
      return Buffer.compare(a.blobValue ?? Buffer.alloc(0), b.blobValue ?? Buffer.alloc(0));
    case 'keyValue':
      return compareWireKeys(a, b);
    case 'geoPointValue': {
      const latitude = (a.geoPointValue?.latitude ?? 0) - (b.geoPointValue?.latitude ?? 0);
      if (latitude !== 0) return latitude;
      return (a.geoPointValue?.longitude ?? 0) - (b.geoPointValue?.longitude ?? 0);
    }
    default:
      return 0;
  }
}

function compareNumbers(a: Value, kindA: ValueKind, b: Value, kindB: ValueKind): number {
  if (kindA === 'integerValue' && kindB === 'integerValue') {
    const difference = BigInt(a.integerValue ?? '0') - BigInt(b.integerValue ?? '0');
    return Number(difference > 0n) - Number(difference < 0n);
  }
  const x = kindA === 'integerValue' ? Number(a.integerValue ?? '0') : (a.doubleValue ?? 0);
  const y = kindB === 'integerValue' ? Number(b.integerValue ?? '0') : (b.doubleValue ?? 0);
  return Number(x > y) - Number(x < y);
}

function compareWireKeys(a: Value, b: Value): number {
  const partitionA = wirePartition(a);
  const partitionB = wirePartition(b);
  if (partitionA !== partitionB) return partitionA < partitionB ? -1 : 1;
  const orderA = encodePath(a.keyValue?.path ?? []);
  const orderB = encodePath(b.keyValue?.path ?? []);
  return Number(orderA > orderB) - Number(orderA < orderB);
}

function wirePartition(value: Value): string {
  const given = value.keyValue?.partitionId;
  const partition: Partition = {
    projectId: given?.projectId ?? '',
    databaseId: given?.databaseId ?? '',
    namespaceId: given?.namespaceId ?? '',
  };
  return partitionId(partition);
}
