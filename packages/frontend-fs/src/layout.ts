import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/*
 * On-disk layout of an fs store (README.md has the full picture):
 *
 *   FORMAT                        "smtpq-fs 1"
 *   records/msg/0000abcd@/        the record `msg/0000abcd`
 *       v.<version>               empty marker: its name is the current version
 *       d.<version>               the record's bytes for that version
 *   records/env/0000abcd/         the folder of keys `env/0000abcd/...`
 *   blobs/body/0000abcd/<name>@   the blob `body/0000abcd/<name>`
 *   tmp/                          files and folders being written
 *
 * A key segment never contains `@`, so `<segment>@` (the key itself) and `<segment>` (the
 * folder of keys below it) never collide, and a key may also be a prefix of other keys.
 */

/** Suffix of the entry that stores a key, next to the folder of the keys below it. */
export const ENTRY_SUFFIX = '@';
export const MARKER_PREFIX = 'v.';
export const DATA_PREFIX = 'd.';

const SEGMENT = /^[a-z0-9._-]+$/;
const PREFIX_CHARACTERS = /^[a-z0-9._/-]*$/;
const VERSION = /^[0-9a-f]{24}$/;

/** Maximum key length in characters. */
export const MAX_KEY_LENGTH = 1024;
/** Maximum segment length: NAME_MAX (255 bytes) less the suffix and room for the file system. */
export const MAX_SEGMENT_LENGTH = 200;

/** Returns a new record version: 96 random bits, so versions never repeat for a key. */
export function newVersion(): string {
  return randomBytes(12).toString('hex');
}

export function isVersion(value: string): boolean {
  return VERSION.test(value);
}

export function isSegment(value: string): boolean {
  return (
    SEGMENT.test(value) && value !== '.' && value !== '..' && value.length <= MAX_SEGMENT_LENGTH
  );
}

/** Splits a key into its segments, or throws an Error naming the key and the expected form. */
export function keySegments(key: string): string[] {
  const segments = key.split('/');
  if (key.length > MAX_KEY_LENGTH || !segments.every(isSegment)) {
    throw new Error(
      `invalid store key ${JSON.stringify(key)}: expected segments of a-z, 0-9, '.', '_' and ` +
        `'-' separated by '/', other than '.' and '..', at most ${MAX_SEGMENT_LENGTH} ` +
        `characters each and ${MAX_KEY_LENGTH} in all`,
    );
  }
  return segments;
}

/**
 * Splits a list prefix into the folder segments it names in full and the start of the names
 * to select in that folder: `env/0000abcd/` is folder [env, 0000abcd] and start '', `msg/00`
 * is folder [msg] and start '00'.
 */
export function prefixParts(prefix: string): { folder: string[]; start: string } {
  const slash = prefix.lastIndexOf('/');
  const folder = slash < 0 ? [] : prefix.slice(0, slash).split('/');
  const start = prefix.slice(slash + 1);
  if (
    !PREFIX_CHARACTERS.test(prefix) ||
    prefix.length > MAX_KEY_LENGTH ||
    !folder.every(isSegment)
  ) {
    throw new Error(
      `invalid store key prefix ${JSON.stringify(prefix)}: expected the start of a key, such ` +
        `as 'env/' or 'msg/00'`,
    );
  }
  return { folder, start };
}

/** Paths of the parts of an fs store under its root folder. */
export class StoreLayout {
  readonly formatFile: string;
  readonly records: string;
  readonly blobs: string;
  readonly tmp: string;

  constructor(readonly root: string) {
    this.formatFile = join(root, 'FORMAT');
    this.records = join(root, 'records');
    this.blobs = join(root, 'blobs');
    this.tmp = join(root, 'tmp');
  }

  /** Returns the folder of a record's entry, and the entry: the record's own folder. */
  recordPath(key: string): { folder: string; entry: string } {
    return entryPath(this.records, keySegments(key));
  }

  /** Returns the folder of a blob's file, and the file. */
  blobPath(key: string): { folder: string; entry: string } {
    return entryPath(this.blobs, keySegments(key));
  }
}

function entryPath(tree: string, segments: string[]): { folder: string; entry: string } {
  const folder = join(tree, ...segments.slice(0, -1));
  const entry = join(folder, `${segments[segments.length - 1]}${ENTRY_SUFFIX}`);
  return { folder, entry };
}
