import { fixed, type Row } from './format.js';
import type { FsResults } from './stores/fs.js';

const MiB = 1024 * 1024;

/** Returns the rows of the fs figures, one figure per row. */
export function fsRows(results: FsResults): Row[] {
  const { disk, latency, body, walk, serverAlone } = results;
  const rows: Row[] = [
    ['commit latency, 1 client, median', `${fixed(latency.medianMs, 2)} ms`],
    ['commit latency, 1 client, p99', `${fixed(latency.p99Ms, 2)} ms`],
  ];
  for (const run of results.throughput) {
    const label = run.clients === 1 ? '1 client' : `${run.clients} clients`;
    rows.push([`commits/s, ${label}`, fixed(run.commitsPerSecond, 0)]);
  }
  rows.push(['HTTP requests per commit', fixed(results.requestsPerCommit, 2)]);
  for (const [clients, value] of Object.entries(results.fsyncsPerCommit)) {
    rows.push([`fsyncs per commit, ${clients}`, fixed(value, 1)]);
  }
  rows.push(
    ['server over a memory store: commit median', `${fixed(serverAlone.commitMedianMs, 2)} ms`],
    ['server over a memory store: commit p99', `${fixed(serverAlone.commitP99Ms, 2)} ms`],
    ['server over a memory store: GET /v1 median', `${fixed(serverAlone.infoMedianMs, 2)} ms`],
    [`${body.bytes / MiB} MiB body upload`, `${fixed(body.uploadMiBPerSecond, 0)} MiB/s`],
    [`${body.bytes / MiB} MiB body download`, `${fixed(body.downloadMiBPerSecond, 0)} MiB/s`],
    [
      'server peak RSS: started, after the body',
      `${fixed(body.idlePeakBytes / MiB, 0)} MiB, ${fixed(body.peakBytes / MiB, 0)} MiB`,
    ],
    [
      `walk of ${walk.envelopes} envelopes`,
      `${fixed(walk.walkSeconds, 2)} s in ${walk.requests} requests`,
    ],
    [`fill of ${walk.envelopes} envelopes`, `${fixed(walk.fillSeconds, 1)} s`],
    ['disk: write+fsync+rename+dir fsync', `${fixed(disk.renamesPerSecond, 0)} /s`],
    ['disk: append+fdatasync', `${fixed(disk.appendsPerSecond, 0)} /s`],
  );
  for (const run of results.throughput) {
    const label = run.clients === 1 ? '1 client' : `${run.clients} clients`;
    rows.push([
      `commits/s, ${label} / disk durable renames/s`,
      fixed(run.commitsPerSecond / disk.renamesPerSecond, 2),
    ]);
    rows.push([
      `commits/s, ${label} / disk appends/s`,
      fixed(run.commitsPerSecond / disk.appendsPerSecond, 2),
    ]);
  }
  return rows;
}
