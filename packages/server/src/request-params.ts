import {
  type Evpid,
  HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  isEvpid,
  isMsgid,
  type Msgid,
  parseContentDigest,
  QueueError,
} from '@smtpq/protocol';
import type { Request, Response } from 'express';
import { requestFacts } from './context.js';

/** Returns the `{msgid}` path parameter, or throws invalid-msgid. */
export function msgidParam(req: Request, res: Response): Msgid {
  const msgid = pathParam(req, 'msgid');
  if (!isMsgid(msgid)) {
    throw new QueueError(
      'invalid-msgid',
      `invalid msgid "${msgid}": expected 8 lower-case hex digits, not all zero`,
      { details: { msgid } },
    );
  }
  requestFacts(res).msgid = msgid;
  return msgid;
}

/** Returns the `{evpid}` path parameter, or throws invalid-evpid. */
export function evpidParam(req: Request, res: Response): Evpid {
  const evpid = pathParam(req, 'evpid');
  if (!isEvpid(evpid)) {
    throw new QueueError(
      'invalid-evpid',
      `invalid evpid "${evpid}": expected 16 lower-case hex digits whose halves are not zero`,
      { details: { evpid } },
    );
  }
  requestFacts(res).evpid = evpid;
  return evpid;
}

function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

/** Returns a query parameter given at most once, or undefined when it is absent. */
export function queryString(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new QueueError('invalid-request', `query parameter "${name}" must be given once`);
  }
  return value;
}

/** Returns the `limit` query parameter, an integer from 1 to `max`, or undefined. */
export function limitQuery(req: Request, max: number): number | undefined {
  const text = queryString(req, 'limit');
  if (text === undefined) return undefined;

  const limit = /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit <= max)) {
    throw new QueueError(
      'invalid-limit',
      `invalid limit "${text}": expected an integer from 1 to ${max}`,
      { details: { max } },
    );
  }
  return limit;
}

/** Returns the `cursor` query parameter; the store checks it and throws invalid-cursor. */
export function cursorQuery(req: Request): string | undefined {
  const cursor = queryString(req, 'cursor');
  if (cursor === '') {
    throw new QueueError(
      'invalid-cursor',
      'cursor is empty: omit it for the first page, then pass the "next" of the previous page',
    );
  }
  return cursor;
}

/** Returns the Idempotency-Key of a write, or undefined when the client sent none. */
export function idempotencyKey(req: Request): string | undefined {
  const key = req.headers[HEADER.idempotencyKey];
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 40)) : 'sent twice';
    throw new QueueError(
      'invalid-idempotency-key',
      `invalid Idempotency-Key ${shown}: expected 1 to 128 characters of letters, digits and -._~`,
    );
  }
  return key;
}

// A strong entity tag (RFC 9110 8.8.3): etagc characters between double quotes.
const STRONG_ETAG_PATTERN = /^"[\x21\x23-\x7e\x80-\xff]*"$/;

/** Returns the If-Match of a request: `*`, one strong entity tag, or undefined when absent. */
export function ifMatchHeader(req: Request): string | undefined {
  const value = req.headers[HEADER.ifMatch];
  if (value === undefined) return undefined;

  const trimmed = value.trim();
  if (trimmed === '*' || STRONG_ETAG_PATTERN.test(trimmed)) return trimmed;
  throw new QueueError(
    'invalid-precondition',
    `invalid If-Match ${JSON.stringify(value)}: expected * or one strong entity tag such as ` +
      '"abc" (as sent in ETag)',
  );
}

/** Returns whether the request carries `If-None-Match: *`, the only form the protocol uses. */
export function ifNoneMatchAny(req: Request): boolean {
  const value = req.headers[HEADER.ifNoneMatch];
  if (value === undefined) return false;
  if (value.trim() === '*') return true;
  throw new QueueError(
    'invalid-precondition',
    `invalid If-None-Match ${JSON.stringify(value)}: only * (create if absent) is supported`,
  );
}

/** Returns the SHA-256 of the Content-Digest field, or throws missing-digest or invalid-digest. */
export function contentDigest(req: Request): Buffer {
  const value = req.headers[HEADER.contentDigest];
  const expected = 'send Content-Digest: sha-256=:BASE64: with the SHA-256 of the request content';
  if (value === undefined || Array.isArray(value)) {
    throw new QueueError('missing-digest', `Content-Digest is missing; ${expected}`);
  }

  let digest: Buffer | null;
  try {
    digest = parseContentDigest(value);
  } catch (error) {
    throw new QueueError('invalid-digest', `invalid Content-Digest: ${(error as Error).message}`);
  }
  if (digest === null) {
    throw new QueueError('missing-digest', `Content-Digest has no sha-256 member; ${expected}`);
  }
  return digest;
}
