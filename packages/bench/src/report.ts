import type { BodyResult } from './body.js';
import type { LatencyResult, ThroughputResult } from './commits.js';
import type { DiskLimit } from './disk-limit.js';
import type { MachineFacts } from './machine.js';
import type { WalkResult } from './walk.js';

export interface BenchResults {
  command: string;
  startedAt: string;
  machine: MachineFacts;
  /** One-minute load average at the end of the run. */
  loadAtEnd: number;
  disk: DiskLimit;
  latency: LatencyResult;
  throughput: ThroughputResult[];
  /** HTTP requests the server counted per commit in the latency run, or null without metrics. */
  requestsPerCommit: number | null;
  /** fsyncs the fs store counted per commit, by client count, or null without metrics. */
  fsyncsPerCommit: Record<string, number | null>;
  /** Commit latency and GET /v1 latency of the same server over a store in memory. */
  serverAlone: { commitMedianMs: number; commitP99Ms: number; infoMedianMs: number };
  body: BodyResult;
  walk: WalkResult;
}

const MiB = 1024 * 1024;

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

/** Returns the results as a two-column text table, one figure per line. */
export function formatReport(results: BenchResults): string {
  const { machine, disk, latency, body, walk, serverAlone } = results;
  const rows: Array<[string, string]> = [
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

  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `command: ${results.command}`,
    `started: ${results.startedAt}`,
    `machine: ${machine.cpus} CPUs, ${fixed(machine.memoryBytes / 1024 / MiB, 1)} GiB memory, ` +
      `disk ${machine.disk}, kernel ${machine.kernel}, Node ${machine.node}`,
    `load average (1 min): ${fixed(machine.load, 2)} at the start, ` +
      `${fixed(results.loadAtEnd, 2)} at the end`,
    '',
    ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
  ];
  return `${lines.join('\n')}\n`;
}
