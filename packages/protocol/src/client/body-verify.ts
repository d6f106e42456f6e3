import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { QueueError } from '../errors.js';

/**
 * Returns a pass-through stream that fails at its end unless the bytes that went through it
 * have the size and the SHA-256 (lower-case hex, or null to skip) that the server declared.
 * A body cut short or changed on the way then reaches the reader as an error, not as mail.
 */
export function verifyBody(requestLine: string, size: number, sha256: string | null): Transform {
  const hash = createHash('sha256');
  let received = 0;

  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      received += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const receivedSha256 = hash.digest('hex');
      if (received === size && (sha256 === null || receivedSha256 === sha256)) {
        callback();
        return;
      }
      callback(
        new QueueError(
          'internal',
          `${requestLine}: received ${received} bytes with SHA-256 ${receivedSha256}, but the server declared ${size} bytes with SHA-256 ${sha256 ?? '(none)'}`,
          { details: { size, sha256, receivedSize: received, receivedSha256 } },
        ),
      );
    },
  });
}
