import { LIMITS } from './limits.js';
import { invalidArgument } from './rpc-error.js';
import type { Key, PathElement } from './wire-types.js';

/** The partition a request works in: project, database and namespace. */
export interface Partition {
  projectId: string;
  databaseId: string;
  namespaceId: string;
}

/** A validated key: its partition and path, with its byte encoding for ordering. */
export interface StoredKey {
  partition: Partition;
  path: PathElement[];
  /** Hex of a byte encoding whose string order is Datastore's key order. */
  order: string;
}

const RESERVED = /^__.*__$/;
const NAMESPACE = /^[0-9A-Za-z._-]{0,100}$/;

export function partitionId(partition: Partition): string {
  return `${partition.projectId}\u0000${partition.databaseId}\u0000${partition.namespaceId}`;
}

/**
 * Returns the partition of a key or of a query: the request's project and database, and the
 * namespace given. A partition naming another project or database is an INVALID_ARGUMENT.
 */
export function partitionOf(
  request: { projectId: string; databaseId: string },
  given: Key['partitionId'],
): Partition {
  const projectId = given?.projectId ?? '';
  if (projectId !== '' && projectId !== request.projectId) {
    throw invalidArgument(
      `mismatched project: the key names project "${projectId}", the request "${request.projectId}"`,
    );
  }
  const databaseId = given?.databaseId ?? '';
  if (databaseId !== request.databaseId) {
    throw invalidArgument(
      `mismatched database: the key names database "${databaseId}", the request "${request.databaseId}"`,
    );
  }
  const namespaceId = given?.namespaceId ?? '';
  if (!NAMESPACE.test(namespaceId) || RESERVED.test(namespaceId)) {
    throw invalidArgument(`invalid namespace "${namespaceId}"`);
  }
  return { projectId: request.projectId, databaseId: request.databaseId, namespaceId };
}

/**
 * Validates a key. `incompleteAllowed` lets the last element lack an id and a name (an insert
 * or upsert asks the server to allocate one). Throws INVALID_ARGUMENT for any other fault.
 */
export function validateKey(
  request: { projectId: string; databaseId: string },
  key: Key | null | undefined,
  incompleteAllowed: boolean,
): { partition: Partition; path: PathElement[]; complete: boolean } {
  if (key === null || key === undefined) throw invalidArgument('a key is required');
  const partition = partitionOf(request, key.partitionId);
  const path = key.path ?? [];
  if (path.length === 0) throw invalidArgument('a key must have at least one path element');
  if (path.length > LIMITS.keyPathElements) {
    throw invalidArgument(`a key path has more than ${LIMITS.keyPathElements} elements`);
  }

  let complete = true;
  path.forEach((element, index) => {
    const kind = element.kind ?? '';
    if (kind === '') throw invalidArgument('a key path element must name a kind');
    checkName(kind, 'kind');

    const hasId = element.id !== undefined && element.idType !== 'name';
    const hasName = element.name !== undefined && element.idType !== 'id';
    if (hasId) {
      if (BigInt(element.id as string) === 0n) {
        throw invalidArgument('a key path element has id 0; ids are never 0');
      }
    } else if (hasName) {
      if (element.name === '') throw invalidArgument('a key path element has an empty name');
      checkName(element.name as string, 'key name');
    } else if (index < path.length - 1 || !incompleteAllowed) {
      throw invalidArgument(
        `the key of kind "${kind}" is incomplete: every path element needs an id or a name here`,
      );
    } else {
      complete = false;
    }
  });

  if (keySize(partition, path) > LIMITS.keyBytes) {
    throw invalidArgument(`the key is larger than ${LIMITS.keyBytes} bytes`);
  }
  return { partition, path: path.map(normalElement), complete };
}

function checkName(value: string, what: string): void {
  if (RESERVED.test(value)) throw invalidArgument(`the ${what} "${value}" is reserved`);
  if (Buffer.byteLength(value) > LIMITS.nameBytes) {
    throw invalidArgument(
      `the ${what} "${value.slice(0, 40)}..." is longer than ${LIMITS.nameBytes} bytes`,
    );
  }
}

function normalElement(element: PathElement): PathElement {
  if (element.id !== undefined && element.idType !== 'name') {
    return { kind: element.kind, id: BigInt(element.id).toString() };
  }
  if (element.name !== undefined && element.idType !== 'id') {
    return { kind: element.kind, name: element.name };
  }
  return { kind: element.kind };
}

/** Builds the stored form of a complete, validated key. */
export function storedKey(partition: Partition, path: PathElement[]): StoredKey {
  return { partition, path, order: encodePath(path) };
}

/** Returns the wire form of a stored key. */
export function wireKey(key: { partition: Partition; path: PathElement[] }): Key {
  return {
    partitionId: {
      projectId: key.partition.projectId,
      databaseId: key.partition.databaseId,
      namespaceId: key.partition.namespaceId,
    },
    path: key.path.map((element) => ({ ...element })),
  };
}

/**
 * Encodes a key path so that the order of the hex strings is Datastore's key order: element by
 * element, kind first, then ids before names, ids by value, names by UTF-8 bytes. A parent's
 * encoding is a prefix of its children's, so the descendants of a key form one range.
 */
export function encodePath(path: PathElement[]): string {
  const parts: Buffer[] = [];
  for (const element of path) {
    parts.push(escapeText(element.kind ?? ''));
    if (element.id !== undefined) {
      const id = Buffer.alloc(9);
      id[0] = 0x01;
      id.writeBigUInt64BE(BigInt(element.id) + (1n << 63n), 1);
      parts.push(id);
    } else {
      parts.push(Buffer.from([0x02]), escapeText(element.name ?? ''));
    }
  }
  return Buffer.concat(parts).toString('hex');
}

/** UTF-8 bytes with 0x00 escaped as 0x00 0xff, ended by 0x00 0x01 (below any content byte). */
function escapeText(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (const byte of bytes) {
    if (byte === 0) out.push(0x00, 0xff);
    else out.push(byte);
  }
  out.push(0x00, 0x01);
  return Buffer.from(out);
}

/** Returns the entity group of a key: its partition and its root path element. */
export function groupOf(key: { partition: Partition; path: PathElement[] }): string {
  return `${partitionId(key.partition)}\u0000${encodePath(key.path.slice(0, 1))}`;
}

function stringSize(text: string): number {
  return Buffer.byteLength(text, 'utf8') + 1;
}

/**
 * Returns the storage size of a key: the namespace string (outside the default namespace),
 * each kind and name as a string, 8 bytes per integer id, and 16 bytes.
 */
export function keySize(partition: Partition, path: PathElement[]): number {
  let size = 16;
  if (partition.namespaceId !== '') size += stringSize(partition.namespaceId);
  for (const element of path) {
    size += stringSize(element.kind ?? '');
    if (element.id !== undefined && element.idType !== 'name') size += 8;
    else if (element.name !== undefined) size += stringSize(element.name);
  }
  return size;
}
