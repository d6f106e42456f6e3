import type { Dispatcher } from 'undici';
import { type ErrorCode, isErrorCode, QueueError } from '../errors.js';

export type ResponseData = Dispatcher.ResponseData;

/** Bytes of an error response read at most; a proxy's error page can be large. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Characters of a response quoted in an error message. */
const SNIPPET_CHARS = 200;

export function headerValue(response: ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads at most `maxBytes` of `body`, then drops the rest of it. */
async function readLimited(body: ResponseData['body'], maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= maxBytes) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes);
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}...` : flat;
}

function errorFields(parsed: unknown): { code: string; message: string; details?: unknown } | null {
  if (typeof parsed !== 'object' || parsed === null) return null;
  const error = (parsed as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;

  const { code, message, details } = error as Record<string, unknown>;
  if (typeof code !== 'string' || typeof message !== 'string') return null;
  return { code, message, details };
}

function detailsRecord(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return undefined;
  return details as Record<string, unknown>;
}

/**
 * Decodes an error response (status 400 and above) into a QueueError. A JSON error body of the
 * protocol gives its code, message and details. Anything else (a proxy's HTML page, or a code
 * this client does not know) becomes `internal`. Its `details` keep the HTTP status and a
 * snippet of the body or the unknown code, so that no part of the server's response is lost.
 */
export async function decodeErrorResponse(response: ResponseData, requestLine: string) {
  const status = response.statusCode;
  const text = (await readLimited(response.body, MAX_ERROR_BODY_BYTES)).toString('utf8');

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }

  const fields = errorFields(parsed);
  if (fields !== null && isErrorCode(fields.code)) {
    const details = detailsRecord(fields.details);
    return new QueueError(fields.code as ErrorCode, fields.message, details ? { details } : {});
  }

  if (fields !== null) {
    return new QueueError(
      'internal',
      `${requestLine}: HTTP ${status} ${fields.code}: ${fields.message}`,
      {
        details: { status, code: fields.code, ...detailsRecord(fields.details) },
      },
    );
  }

  const body = snippet(text);
  return new QueueError(
    'internal',
    `${requestLine}: HTTP ${status} without a JSON error: ${body}`,
    {
      details: { status, body },
    },
  );
}

/** Reads a JSON response of a successful request. */
export async function readJson<T>(response: ResponseData, requestLine: string): Promise<T> {
  const text = await response.body.text();
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new QueueError('internal', `${requestLine}: response is not JSON: ${snippet(text)}`, {
      details: { status: response.statusCode },
      cause: err,
    });
  }
}

export async function readBuffer(response: ResponseData): Promise<Buffer> {
  return Buffer.from(await response.body.arrayBuffer());
}

/** Throws when a successful request got a status other than the one its route returns. */
export async function expectStatus(
  response: ResponseData,
  expected: number[],
  requestLine: string,
) {
  if (expected.includes(response.statusCode)) return;
  await response.body.dump();
  throw new QueueError(
    'internal',
    `${requestLine}: unexpected HTTP ${response.statusCode}, expected ${expected.join(' or ')}`,
    { details: { status: response.statusCode } },
  );
}
