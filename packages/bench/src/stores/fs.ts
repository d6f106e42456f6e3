import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type BodyResult, measureBody } from '../body.js';
import {
  type LatencyResult,
  measureInfoLatency,
  measureLatency,
  measureThroughput,
  type ThroughputResult,
  WARMUP_COMMITS,
} from '../commits.js';
import { type DiskLimit, measureDiskLimit } from '../disk-limit.js';
import { type BenchOptions, MEMORY_SERVER } from '../options.js';
import type { Progress } from '../progress.js';
import { serveArgs } from '../serve-command.js';
import { ServerProcess } from '../server-process.js';
import { fillStore, measureWalk, type WalkResult } from '../walk.js';

export interface FsResults {
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

/** Progress steps of runFsBench. */
export const FS_STEPS = 8;

const MiB = 1024 * 1024;

/** Metric names read from the server's `GET /metrics`. */
const REQUESTS_METRIC = 'smtpq_http_requests_total';
const FSYNCS_METRIC = 'smtpq_fs_fsyncs_total';

/** Returns the increase of a metric per commit between two scrapes, or null without metrics. */
function perCommit(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
  name: string,
  commits: number,
): number | null {
  const first = before?.get(name);
  const last = after?.get(name);
  if (first === undefined || last === undefined) return null;
  return (last - first) / commits;
}

async function withFsServer<T>(
  options: BenchOptions,
  dir: string,
  name: string,
  work: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const store = join(dir, name);
  const server = await ServerProcess.start({ args: serveArgs(options.cli, `fs://${store}`) });
  try {
    return await work(server);
  } finally {
    await server.stop();
    await rm(store, { recursive: true, force: true });
  }
}

/** Measures the fs store in folders under `dir`, and the disk under it on its own. */
export async function runFsBench(
  options: BenchOptions,
  dir: string,
  progress: Progress,
): Promise<FsResults> {
  progress.begin('fs: disk limit: durable renames and appends, one at a time', 0);
  const disk = measureDiskLimit(dir, options.diskSeconds);

  const commitFigures = await withFsServer(options, dir, 'commits', async (server) => {
    progress.begin(`fs: commit latency: ${options.commits} commits from 1 client`, options.commits);
    const before = await server.metrics();
    const latency = await measureLatency(server.url, options.commits, progress);
    const after = await server.metrics();
    // The warm-up commits are in the counts too.
    const counted = options.commits + WARMUP_COMMITS;
    const requestsPerCommit = perCommit(before, after, REQUESTS_METRIC, counted);
    const fsyncsPerCommit: Record<string, number | null> = {
      '1 client': perCommit(before, after, FSYNCS_METRIC, counted),
    };
    if (before === null) progress.note('the server has no GET /metrics: counts are n/a');

    const throughput = [];
    for (const clients of [1, options.clients]) {
      progress.begin(`fs: commits per second: ${clients} clients, ${options.seconds} s`, 0);
      const start = await server.metrics();
      const result = await measureThroughput(server.url, clients, options.seconds, progress);
      const end = await server.metrics();
      throughput.push(result);
      if (clients !== 1) {
        fsyncsPerCommit[`${clients} clients`] = perCommit(
          start,
          end,
          FSYNCS_METRIC,
          result.commits + clients,
        );
      }
    }
    return { latency, throughput, requestsPerCommit, fsyncsPerCommit };
  });

  progress.begin('fs: server over a memory store: commit latency', options.commits);
  const memoryServer = await ServerProcess.start({ args: [MEMORY_SERVER] });
  let serverAlone: FsResults['serverAlone'];
  try {
    const latency = await measureLatency(memoryServer.url, options.commits, progress);
    const infoMedianMs = await measureInfoLatency(memoryServer.url, options.commits);
    serverAlone = { commitMedianMs: latency.medianMs, commitP99Ms: latency.p99Ms, infoMedianMs };
  } finally {
    await memoryServer.stop();
  }

  progress.begin(`fs: body of ${options.bodyMiB} MiB: upload and download`, 2);
  const body = await withFsServer(options, dir, 'body', (server) =>
    measureBody(server, dir, options.bodyMiB * MiB, progress),
  );

  const envelopes = options.walkEnvelopes.fs;
  const walk = await withFsServer(options, dir, 'walk', async (server) => {
    progress.begin(`fs: fill: ${envelopes} envelopes`, envelopes);
    const fillSeconds = await fillStore(server.url, envelopes, progress);
    progress.begin(`fs: walk: ${envelopes} envelopes`, envelopes);
    const walked = await measureWalk(server.url, envelopes, progress);
    return { ...walked, fillSeconds };
  });

  return { disk, ...commitFigures, serverAlone, body, walk };
}
