import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import type { BodyUpload } from './queue-types.js';

/**
 * Wraps an upload's source so that size, declared length and digest are checked while the
 * driver reads it. A failed check throws inside the iteration, after the last chunk at the
 * latest, so the driver discards the upload instead of making it durable.
 */
export async function* checkedUpload(
  upload: BodyUpload,
  maxBytes: number,
  result: { size: number; sha256: string },
): AsyncGenerator<Uint8Array> {
  if (upload.length !== undefined && upload.length > maxBytes) {
    throw tooLarge(upload.length, maxBytes);
  }

  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of upload.source) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(size, maxBytes);
    if (upload.length !== undefined && size > upload.length) {
      throw new QueueError(
        'invalid-request',
        `body is longer than its declared length of ${upload.length} bytes`,
      );
    }
    hash.update(chunk);
    yield chunk;
  }

  if (upload.length !== undefined && size !== upload.length) {
    throw new QueueError(
      'incomplete-body',
      `body ended after ${size} of its declared ${upload.length} bytes; nothing was stored, send it again`,
      { details: { received: size, declared: upload.length } },
    );
  }

  const digest = hash.digest();
  if (upload.sha256 !== undefined && !digest.equals(upload.sha256)) {
    throw new QueueError(
      'digest-mismatch',
      `body SHA-256 is ${digest.toString('base64')} but Content-Digest declared ${upload.sha256.toString('base64')}; nothing was stored, send it again`,
    );
  }
  upload.check?.();

  result.size = size;
  result.sha256 = digest.toString('hex');
}

function tooLarge(size: number, maxBytes: number): QueueError {
  return new QueueError(
    'body-too-large',
    `body of ${size} bytes or more exceeds the limit of ${maxBytes} bytes; nothing was stored`,
    { details: { limit: maxBytes } },
  );
}
