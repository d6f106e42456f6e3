import { randomBytes } from 'node:crypto';

/**
 * Every record object starts with `smtpq1 <16 hex digits>\n`, random on every write. S3 ETags
 * of single-part objects are digests of the content, so without it writing the same bytes twice
 * would give the same version, and a compare-and-swap could succeed against a state that came
 * back (the ABA problem). The header also makes every record at least 24 bytes long, so an
 * empty object is never a record: it is a tombstone (see conditional-records.ts).
 */
const MAGIC = Buffer.from('smtpq1 ');
const HEADER_BYTES = MAGIC.length + 16 + 1;

export function recordEncode(data: Buffer): Buffer {
  const header = Buffer.concat([
    MAGIC,
    Buffer.from(randomBytes(8).toString('hex')),
    Buffer.from('\n'),
  ]);
  return Buffer.concat([header, data]);
}

/**
 * Returns the record data of a stored object. An object without the header (written by
 * something else than this driver) is returned whole, so that the store reports it as an
 * unreadable record instead of this driver guessing.
 */
export function recordDecode(stored: Buffer): Buffer {
  const framed =
    stored.length >= HEADER_BYTES &&
    stored.subarray(0, MAGIC.length).equals(MAGIC) &&
    stored[HEADER_BYTES - 1] === 0x0a;
  return framed ? stored.subarray(HEADER_BYTES) : stored;
}
