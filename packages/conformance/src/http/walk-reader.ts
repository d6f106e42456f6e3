import { isEvpid } from '@smtpq/protocol';
import { check, fail, show } from '../failure.js';
import type { HttpClient } from './http-client.js';

export interface WalkedEntry {
  evpid: string;
  etag: string;
  data: Buffer;
}

/** Page sizes and entries of a whole walk, as the frontend returned them. */
export interface WalkResult {
  entries: WalkedEntry[];
  /** Envelope bytes (before base64) of each page, in order. */
  pageBytes: number[];
  pageCount: number;
}

/** Stops a walk that never ends: no test store has this many pages. */
const MAX_PAGES = 100_000;

function withQuery(path: string, query: Record<string, string | undefined>): string {
  const [base, search = ''] = path.split('?');
  const params = new URLSearchParams(search);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, value);
  }
  const text = params.toString();
  return text === '' ? (base ?? '') : `${base}?${text}`;
}

/**
 * Reads a walk (`/v1/walk` or a message walk) from its first page to `end: true`, checking
 * each page's shape, that evpids ascend across the whole walk with none twice, and that only
 * the last page ends it. `clientFor(page)` picks the frontend of each page (0-based), so that
 * a walk can continue on another frontend.
 */
export async function readWalk(
  clientFor: (page: number) => HttpClient,
  path: string,
  options: {
    limit?: number;
    /** Headers of every page request, such as a pool node's Smtpq-Node and Smtpq-Lease. */
    headers?: Record<string, string>;
    /** Runs before each page after the first, with the entries read so far. */
    between?: (page: number, entries: readonly WalkedEntry[]) => Promise<void>;
  } = {},
): Promise<WalkResult> {
  const entries: WalkedEntry[] = [];
  const pageBytes: number[] = [];
  let cursor: string | undefined;
  let previous = '';

  for (let page = 0; page < MAX_PAGES; page++) {
    if (page > 0) await options.between?.(page, entries);
    const pagePath = withQuery(path, { limit: options.limit?.toString(), cursor });
    const body = await clientFor(page).json<{ envelopes?: unknown; next?: unknown; end?: unknown }>(
      'GET',
      pagePath,
      200,
      { headers: options.headers },
    );
    const where = `walk page ${page + 1} (GET ${pagePath.slice(0, 120)})`;

    check(Array.isArray(body.envelopes), `${where}: "envelopes" is not an array`);
    check(
      typeof body.end === 'boolean',
      `${where}: "end" is ${show(body.end)}, expected true or false`,
    );
    if (body.end)
      check(
        body.next === null,
        `${where}: end is true but next is ${show(body.next)}, expected null`,
      );
    else
      check(
        typeof body.next === 'string' && body.next.length > 0,
        `${where}: end is false but next is ${show(body.next)}`,
      );

    let bytes = 0;
    for (const raw of body.envelopes as Array<Record<string, unknown>>) {
      const evpid = String(raw.evpid);
      check(isEvpid(evpid), `${where}: entry evpid ${show(raw.evpid)} is not an evpid`);
      check(typeof raw.etag === 'string', `${where}: entry ${evpid} has no etag`);
      check(typeof raw.data === 'string', `${where}: entry ${evpid} has no base64 data`);
      check(evpid !== previous, `${where}: ${evpid} returned twice`);
      check(
        evpid > previous,
        `${where}: ${evpid} comes after ${previous}: out of evpid order or returned twice`,
      );
      previous = evpid;
      const data = Buffer.from(raw.data as string, 'base64');
      bytes += data.length;
      entries.push({ evpid, etag: raw.etag as string, data });
    }
    pageBytes.push(bytes);

    if (body.end) return { entries, pageBytes, pageCount: page + 1 };
    check(
      body.next !== cursor || (body.envelopes as unknown[]).length > 0,
      `${where}: the page is empty and next is the cursor it was given, so the walk cannot advance`,
    );
    cursor = body.next as string;
  }
  return fail(`${path}: walk did not end after ${MAX_PAGES} pages`);
}
