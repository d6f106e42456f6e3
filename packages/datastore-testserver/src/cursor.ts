import { createHash } from 'node:crypto';
import { invalidArgument } from './rpc-error.js';
import type { Value } from './wire-types.js';

/**
 * A query position: the sort values and the key order of the entity it follows. `start` marks
 * the position before the first result.
 */
export interface Position {
  values: Value[];
  order: string;
  start?: boolean;
}

const CHECK_BYTES = 8;

/**
 * Encodes a position for one query shape (`shape` names its kind, filters and orders), with a
 * checksum so that a changed cursor or one of another query fails as INVALID_ARGUMENT.
 */
export function encodeCursor(position: Position, shape: string): Buffer {
  const payload = Buffer.from(JSON.stringify({ p: position, s: shape }), 'utf8');
  return Buffer.concat([checksum(payload), payload]);
}

export function decodeCursor(cursor: Buffer, shape: string): Position {
  const payload = cursor.subarray(CHECK_BYTES);
  if (cursor.length <= CHECK_BYTES || !checksum(payload).equals(cursor.subarray(0, CHECK_BYTES))) {
    throw invalidArgument('Invalid query cursor: it was changed or does not come from this server');
  }
  const decoded = JSON.parse(payload.toString('utf8'), reviveBuffers) as { p: Position; s: string };
  if (decoded.s !== shape) {
    throw invalidArgument('Invalid query cursor: it belongs to a query of another shape');
  }
  return decoded.p;
}

function checksum(payload: Buffer): Buffer {
  return createHash('sha256')
    .update('smtpq-datastore-testserver-cursor:')
    .update(payload)
    .digest()
    .subarray(0, CHECK_BYTES);
}

function reviveBuffers(_key: string, value: unknown): unknown {
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data);
  }
  return value;
}
