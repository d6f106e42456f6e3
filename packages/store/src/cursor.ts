import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';

/**
 * Walk cursors carry the last key a page covered and the walk they belong to, so any frontend
 * process of the store can continue a walk without server-side state. The checksum makes a
 * changed or cut cursor fail loudly instead of restarting or ending the walk. It is not a
 * secret: a client that forges a valid cursor only skips part of its own walk.
 */
interface CursorState {
  /** Scope: `all` for the queue walk, a msgid, or `messages` for the message list. */
  scope: string;
  after: string;
}

const CHECKSUM_BYTES = 8;

export function encodeCursor(state: CursorState): string {
  const payload = Buffer.from(JSON.stringify({ v: 1, s: state.scope, a: state.after }));
  return `${payload.toString('base64url')}.${checksum(payload).toString('base64url')}`;
}

export function decodeCursor(cursor: string, scope: string): CursorState {
  const invalid = (reason: string) =>
    new QueueError('invalid-cursor', `cursor ${JSON.stringify(cursor.slice(0, 64))} ${reason}`, {
      details: { reason },
    });

  const [payloadText, checksumText, extra] = cursor.split('.');
  if (payloadText === undefined || checksumText === undefined || extra !== undefined) {
    throw invalid('is malformed; pass the `next` value of the previous page unchanged');
  }

  const payload = Buffer.from(payloadText, 'base64url');
  if (!checksum(payload).equals(Buffer.from(checksumText, 'base64url'))) {
    throw invalid('fails its checksum; pass the `next` value of the previous page unchanged');
  }

  let value: { v?: number; s?: string; a?: string };
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw invalid('is malformed; pass the `next` value of the previous page unchanged');
  }
  if (value.v !== 1 || typeof value.a !== 'string' || value.s !== scope) {
    throw invalid(`does not belong to this walk (${scope}); start it without a cursor`);
  }
  return { scope, after: value.a };
}

function checksum(payload: Buffer): Buffer {
  return createHash('sha256')
    .update('smtpq-cursor-v1:')
    .update(payload)
    .digest()
    .subarray(0, CHECKSUM_BYTES);
}
