import { encodeBundle } from '@smtpq/protocol';
import type { CaseContext } from '../case-types.js';
import type { HttpClient } from '../http-client.js';

export interface EnvelopeData {
  evpid: string;
  data: Buffer;
}

/** Returns the evpid of `msgid` whose low half is `index`. */
export function evpidOf(msgid: string, index: number): string {
  return msgid + index.toString(16).padStart(8, '0');
}

/** Runs `work` for 0..count-1, at most `concurrency` at a time, and returns the results in order. */
export async function forEachIndex<T>(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await work(index);
    }
  });
  await Promise.all(workers);
  return results;
}

/**
 * Creates a committed message: in one bundle when the frontend has the feature and the
 * envelopes fit its limit, otherwise with single requests.
 */
export async function commitMessage(
  context: CaseContext,
  msgid: string,
  envelopes: EnvelopeData[],
  body: Buffer,
  http: HttpClient = context.http,
): Promise<void> {
  const { info } = context;
  if (info.features.includes('bundle') && envelopes.length <= info.limits.maxBundleEnvelopes) {
    await http.expect('PUT', `/v1/messages/${msgid}/bundle`, 204, {
      body: encodeBundle(envelopes, body),
      digest: 'auto',
    });
    return;
  }

  await http.expect('PUT', `/v1/messages/${msgid}`, 201);
  await forEachIndex(envelopes.length, 16, async (index) => {
    const envelope = envelopes[index] as EnvelopeData;
    await http.expect('PUT', `/v1/envelopes/${envelope.evpid}`, 201, {
      headers: { 'if-none-match': '*' },
      body: envelope.data,
    });
  });
  await http.expect('PUT', `/v1/messages/${msgid}/body`, 204, { body, digest: 'auto' });
  await http.expect('POST', `/v1/messages/${msgid}/commit`, 204);
}

/** Counts the items of `values` by value, for failure messages such as `{"201":1,"409":19}`. */
export function tally(values: Array<string | number>): string {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return JSON.stringify(counts);
}
