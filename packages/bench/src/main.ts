#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { measureBody } from './body.js';
import { measureInfoLatency, measureLatency, measureThroughput } from './commits.js';
import { measureDiskLimit } from './disk-limit.js';
import { machineFacts } from './machine.js';
import { type BenchOptions, MEMORY_SERVER, parseOptions } from './options.js';
import { Progress } from './progress.js';
import { type BenchResults, formatReport } from './report.js';
import { ServerProcess } from './server-process.js';
import { fillStore, measureWalk } from './walk.js';

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

/**
 * Returns `--gc-interval 0` when the measured command line has that option. A run of a few
 * minutes would otherwise include the first garbage collection pass, 10 s after the start,
 * which a long-running frontend makes once every 5 minutes.
 */
function garbageCollectionOff(cli: string): string[] {
  const help = execFileSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });
  return help.includes('--gc-interval') ? ['--gc-interval', '0'] : [];
}

async function withFsServer<T>(
  options: BenchOptions,
  dir: string,
  name: string,
  work: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const store = join(dir, name);
  const server = await ServerProcess.start({
    args: [options.cli, 'serve', '--store', `fs://${store}`, ...garbageCollectionOff(options.cli)],
  });
  try {
    return await work(server);
  } finally {
    await server.stop();
    await rm(store, { recursive: true, force: true });
  }
}

async function run(options: BenchOptions): Promise<BenchResults> {
  const dir = await mkdtemp(join(options.dir, 'smtpq-bench-'));
  const progress = new Progress(8);
  const startedAt = new Date().toISOString();
  const machine = machineFacts(dir);

  try {
    progress.begin('disk limit: durable renames and appends, one at a time', 0);
    const disk = measureDiskLimit(dir, options.diskSeconds);

    const commitFigures = await withFsServer(options, dir, 'commits', async (server) => {
      progress.begin(`commit latency: ${options.commits} commits from 1 client`, options.commits);
      const before = await server.metrics();
      const latency = await measureLatency(server.url, options.commits, progress);
      const after = await server.metrics();
      // The warm-up commits are in the counts too.
      const counted = options.commits + 20;
      const requestsPerCommit = perCommit(before, after, REQUESTS_METRIC, counted);
      const fsyncsPerCommit: Record<string, number | null> = {
        '1 client': perCommit(before, after, FSYNCS_METRIC, counted),
      };
      if (before === null) progress.note('the server has no GET /metrics: counts are n/a');

      const throughput = [];
      for (const clients of [1, options.clients]) {
        progress.begin(`commits per second: ${clients} clients, ${options.seconds} s`, 0);
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

    progress.begin('server over a memory store: commit latency', options.commits);
    const memoryServer = await ServerProcess.start({ args: [MEMORY_SERVER] });
    let serverAlone: BenchResults['serverAlone'];
    try {
      const latency = await measureLatency(memoryServer.url, options.commits, progress);
      const infoMedianMs = await measureInfoLatency(memoryServer.url, options.commits);
      serverAlone = { commitMedianMs: latency.medianMs, commitP99Ms: latency.p99Ms, infoMedianMs };
    } finally {
      await memoryServer.stop();
    }

    progress.begin(`body of ${options.bodyMiB} MiB: upload and download`, 2);
    const body = await withFsServer(options, dir, 'body', (server) =>
      measureBody(server, dir, options.bodyMiB * MiB, progress),
    );

    const walk = await withFsServer(options, dir, 'walk', async (server) => {
      progress.begin(`fill: ${options.walkEnvelopes} envelopes`, options.walkEnvelopes);
      const fillSeconds = await fillStore(server.url, options.walkEnvelopes, progress);
      progress.begin(`walk: ${options.walkEnvelopes} envelopes`, options.walkEnvelopes);
      const walked = await measureWalk(server.url, options.walkEnvelopes, progress);
      return { ...walked, fillSeconds };
    });
    progress.end();

    return {
      command: `pnpm bench${options.quick ? ' --quick' : ''}`,
      startedAt,
      machine,
      loadAtEnd: loadavg()[0] ?? 0,
      disk,
      ...commitFigures,
      serverAlone,
      body,
      walk,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const options = parseOptions(process.argv);
try {
  const results = await run(options);
  process.stdout.write(formatReport(results));
  if (options.json !== undefined) {
    await writeFile(options.json, `${JSON.stringify(results, null, 2)}\n`);
  }
} catch (error) {
  process.stderr.write(`smtpq-bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
}
