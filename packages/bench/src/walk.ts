import { QueueClient } from '@smtpq/protocol';
import type { Progress } from './progress.js';
import { bundleOf, mailBody } from './workload.js';

export interface WalkResult {
  envelopes: number;
  fillSeconds: number;
  walkSeconds: number;
  requests: number;
}

/** Envelopes per bundle while the store is filled, unless the caller sets another size. */
const FILL_BUNDLE_ENVELOPES = 1000;
/** Bundles in flight at once while the store is filled. */
const FILL_CONCURRENCY = 4;
const FILL_BODY = mailBody(1024);

/** Fills an empty store with `total` envelopes in bundles and returns the seconds it took. */
export async function fillStore(
  url: string,
  total: number,
  progress: Progress,
  bundleEnvelopes = FILL_BUNDLE_ENVELOPES,
): Promise<number> {
  const client = new QueueClient({ url, connections: FILL_CONCURRENCY, timeoutMs: 120_000 });
  const start = performance.now();
  let created = 0;
  let planned = 0;
  try {
    await Promise.all(
      Array.from({ length: FILL_CONCURRENCY }, async () => {
        while (planned < total) {
          const count = Math.min(bundleEnvelopes, total - planned);
          planned += count;
          const bundle = bundleOf(count, FILL_BODY);
          await client.messageBundle(bundle.msgid, bundle.envelopes, bundle.body);
          created += count;
          progress.update(created);
        }
      }),
    );
  } finally {
    await client.close();
  }
  return (performance.now() - start) / 1000;
}

/**
 * Walks the whole queue as queue-rest does at smtpd's start, with the server's default page
 * size, and checks that every envelope came exactly once.
 */
export async function measureWalk(
  url: string,
  expected: number,
  progress: Progress,
): Promise<Omit<WalkResult, 'fillSeconds'>> {
  const client = new QueueClient({ url, connections: 1, timeoutMs: 120_000 });
  const seen = new Set<string>();
  let returned = 0;
  let requests = 0;
  try {
    const start = performance.now();
    let cursor: string | undefined;
    for (;;) {
      const page = await client.walk({ cursor });
      requests += 1;
      for (const entry of page.envelopes) seen.add(entry.evpid);
      returned += page.envelopes.length;
      progress.update(seen.size);
      if (page.end) break;
      cursor = page.next ?? undefined;
    }
    const walkSeconds = (performance.now() - start) / 1000;

    if (returned !== seen.size) {
      throw new Error(`the walk returned ${returned - seen.size} envelopes twice`);
    }
    if (seen.size !== expected) {
      throw new Error(
        `the walk returned ${seen.size} envelopes, expected the ${expected} in the store`,
      );
    }
    return { envelopes: seen.size, walkSeconds, requests };
  } finally {
    await client.close();
  }
}
