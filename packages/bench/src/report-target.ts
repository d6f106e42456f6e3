import { fixed, type Row } from './format.js';
import type { StoreName } from './options.js';
import type { TargetResults } from './stores/run-target.js';
import type { CallsPerUnit } from './stores/target.js';

const MiB = 1024 * 1024;

/** Name of the counted calls of each store, for the row labels. */
export const CALL_NOUNS: Record<StoreName, string> = {
  fs: 'fsyncs',
  s3: 'S3 requests',
  mongodb: 'MongoDB commands',
  datastore: 'Datastore RPCs',
};

/** Stores whose test server is so unlike the service that its timings must not be quoted. */
const TIMINGS_NOT_REPRESENTATIVE: ReadonlySet<StoreName> = new Set(['datastore']);

/** Returns `2.00 (Commit 1.00, Lookup 1.00)`: the total and each kind, largest first. */
function callsText(calls: CallsPerUnit): string {
  const kinds = Object.entries(calls.byKind)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, count]) => `${kind} ${fixed(count, 2)}`);
  return `${fixed(calls.total, 2)} (${kinds.join(', ')})`;
}

/** Returns the rows of one store's figures, one figure per row. */
export function targetRows(results: TargetResults): Row[] {
  const { body, walk } = results;
  const timing = TIMINGS_NOT_REPRESENTATIVE.has(results.store) ? ' (NOT representative)' : '';
  const noun = CALL_NOUNS[results.store];
  const rows: Row[] = [];

  for (const run of results.throughput) {
    const label = run.clients === 1 ? '1 client' : `${run.clients} clients`;
    rows.push([`commits/s, ${label}`, `${fixed(run.commitsPerSecond, 0)}${timing}`]);
  }
  for (const [clients, calls] of Object.entries(results.callsPerCommit?.byClients ?? {})) {
    rows.push([`${noun} per accepted message, ${clients}`, callsText(calls)]);
  }
  rows.push(
    [`${body.bytes / MiB} MiB body upload`, `${fixed(body.uploadMiBPerSecond, 1)} MiB/s${timing}`],
    [
      `${body.bytes / MiB} MiB body download`,
      `${fixed(body.downloadMiBPerSecond, 1)} MiB/s${timing}`,
    ],
    [
      'frontend peak RSS: started, after the body',
      `${fixed(body.idlePeakBytes / MiB, 0)} MiB, ${fixed(body.peakBytes / MiB, 0)} MiB`,
    ],
    [`fill of ${walk.envelopes} envelopes`, `${fixed(walk.fillSeconds, 1)} s${timing}`],
    [
      `cold walk of ${walk.envelopes} envelopes`,
      `${fixed(walk.walkSeconds, 2)} s in ${walk.requests} requests${timing}`,
    ],
  );
  if (results.callsPerWalkedEnvelope !== null) {
    rows.push([`${noun} per walked envelope`, callsText(results.callsPerWalkedEnvelope)]);
  }
  return rows;
}
