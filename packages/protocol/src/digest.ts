import { createHash } from 'node:crypto';

/**
 * Content-Digest (RFC 9530) with the `sha-256` algorithm: `sha-256=:BASE64:`. Other
 * algorithms may be listed beside it and are ignored.
 */
export function formatContentDigest(sha256: Buffer): string {
  return `sha-256=:${sha256.toString('base64')}:`;
}

/**
 * Returns the SHA-256 from a Content-Digest field value, null when the field has no
 * `sha-256` member, and throws a TypeError when that member is malformed.
 */
export function parseContentDigest(value: string): Buffer | null {
  for (const member of value.split(',')) {
    const match = /^\s*sha-256\s*=\s*:([A-Za-z0-9+/=]*):\s*$/i.exec(member);
    if (member.trim().toLowerCase().startsWith('sha-256') && match === null) {
      throw new TypeError('sha-256 member of Content-Digest is not a byte sequence (:BASE64:)');
    }
    if (match === null) continue;

    const digest = Buffer.from(match[1] ?? '', 'base64');
    if (digest.length !== 32) {
      throw new TypeError(`sha-256 digest has ${digest.length} bytes, expected 32`);
    }
    return digest;
  }
  return null;
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}
