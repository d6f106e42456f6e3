import { StorageFault } from '@smtpq/store';
import type { S3Objects } from './s3-objects.js';

export interface KeyListRequest {
  /** Full S3 key prefix. */
  prefix: string;
  /** Full S3 key that every listed key sorts after. */
  startAfter?: string;
  limit: number;
  /** Leave out empty objects (record tombstones). */
  skipEmpty: boolean;
}

// S3 returns at most 1000 keys per ListObjectsV2 page.
const MAX_PAGE_KEYS = 1000;

// Truncated pages in a row that hold no key, after which the listing counts as stuck.
const MAX_EMPTY_PAGES = 20;

/**
 * Lists full S3 keys in byte order, following continuation tokens until `limit` keys are found
 * or the listing ends. A server (or proxy) can mark a page truncated without a new token, or
 * with a token it returned before, or return keys that go backwards. Each would make the loop
 * run forever or return keys twice, so each ends the listing with StorageFault('unavailable').
 */
export async function listKeys(objects: S3Objects, request: KeyListRequest): Promise<string[]> {
  const keys: string[] = [];
  const tokens = new Set<string>();
  let token: string | undefined;
  let last = request.startAfter === undefined ? undefined : Buffer.from(request.startAfter);
  let emptyPages = 0;

  while (keys.length < request.limit) {
    const page = await objects.listPage(request.prefix, {
      startAfter: request.startAfter,
      token,
      maxKeys: Math.min(MAX_PAGE_KEYS, request.limit - keys.length),
    });

    for (const object of page.objects) {
      const key = Buffer.from(object.key);
      if (last !== undefined && Buffer.compare(key, last) <= 0) {
        throw stuck(request.prefix, `key ${JSON.stringify(object.key)} is out of order`);
      }
      last = key;
      if (!object.key.startsWith(request.prefix)) continue;
      if (request.skipEmpty && object.size === 0) continue;
      if (keys.length < request.limit) keys.push(object.key);
    }

    if (!page.truncated || keys.length >= request.limit) break;
    if (page.nextToken === undefined || page.nextToken === '') {
      throw stuck(request.prefix, 'a page is marked truncated but has no continuation token');
    }
    if (tokens.has(page.nextToken)) {
      throw stuck(request.prefix, 'a page repeats a continuation token of an earlier page');
    }
    emptyPages = page.objects.length === 0 ? emptyPages + 1 : 0;
    if (emptyPages >= MAX_EMPTY_PAGES) {
      throw stuck(request.prefix, `${MAX_EMPTY_PAGES} truncated pages in a row hold no key`);
    }
    tokens.add(page.nextToken);
    token = page.nextToken;
  }
  return keys;
}

function stuck(prefix: string, reason: string): StorageFault {
  return new StorageFault(
    'unavailable',
    `S3 ListObjectsV2 of ${prefix} makes no progress: ${reason}`,
  );
}
