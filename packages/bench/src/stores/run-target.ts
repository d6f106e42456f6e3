import { type BodyResult, measureBody } from '../body.js';
import {
  measureLatency,
  measureThroughput,
  type ThroughputResult,
  WARMUP_COMMITS,
} from '../commits.js';
import type { BenchOptions, StoreName } from '../options.js';
import type { Progress } from '../progress.js';
import { serveArgs } from '../serve-command.js';
import { ServerProcess } from '../server-process.js';
import { fillStore, measureWalk, type WalkResult } from '../walk.js';
import { type BenchTarget, type CallCounts, type CallsPerUnit, callsPerUnit } from './target.js';

export interface TargetResults {
  store: StoreName;
  server: string;
  caveat: string;
  throughput: ThroughputResult[];
  body: BodyResult;
  /** The walk by a frontend started after the fill, so that it has nothing cached. */
  walk: WalkResult;
  /** Storage calls per accepted message, by client count, and how they were counted. */
  callsPerCommit: { method: string; byClients: Record<string, CallsPerUnit> } | null;
  /** Storage calls per envelope of the cold walk, counted at the server. */
  callsPerWalkedEnvelope: CallsPerUnit | null;
}

/** Returns the progress steps of runTarget on a target with or without a counting route. */
export function targetSteps(target: { countingRoute?: unknown }): number {
  return target.countingRoute === undefined ? 5 : 6;
}

const MiB = 1024 * 1024;

/**
 * Envelopes per bundle of the fill. moto serves one request at a time: a bundle of 1,000
 * envelopes took 22 s there alone, and four at once would pass the 60 s after which the server
 * cuts a connection without traffic.
 */
const FILL_BUNDLE_ENVELOPES = 100;

async function withFrontend<T>(
  options: BenchOptions,
  target: BenchTarget,
  storeUrl: string,
  work: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await ServerProcess.start({
    args: serveArgs(options.cli, storeUrl),
    env: target.env,
  });
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

async function readCounts(target: BenchTarget): Promise<CallCounts | null> {
  return target.serverCounts === undefined ? null : target.serverCounts();
}

/** Measures commits per second from 1 and from `options.clients` clients on one frontend. */
async function measureCommits(options: BenchOptions, target: BenchTarget, progress: Progress) {
  const throughput: ThroughputResult[] = [];
  const callsByClients: Record<string, CallsPerUnit> = {};

  await withFrontend(options, target, target.storeUrl('commits'), async (server) => {
    for (const clients of [1, options.clients]) {
      const label = clients === 1 ? '1 client' : `${clients} clients`;
      progress.begin(`${target.name}: commits per second: ${label}, ${options.seconds} s`, 0);
      const before = await readCounts(target);
      const result = await measureThroughput(server.url, clients, options.seconds, progress);
      const after = await readCounts(target);
      throughput.push(result);

      // Each client commits one message before the measured seconds; the counts include it.
      if (before !== null && after !== null) {
        callsByClients[label] = callsPerUnit(before, after, result.commits + clients);
      }
    }
  });

  const callsPerCommit =
    target.serverCounts === undefined
      ? null
      : { method: 'counted by the server', byClients: callsByClients };
  return { throughput, callsPerCommit };
}

/** Fills a store through one frontend, then walks it through a new one. */
async function measureColdWalk(options: BenchOptions, target: BenchTarget, progress: Progress) {
  const envelopes = options.walkEnvelopes[target.name];
  const storeUrl = target.storeUrl('walk');

  progress.begin(`${target.name}: fill: ${envelopes} envelopes`, envelopes);
  const fillSeconds = await withFrontend(options, target, storeUrl, (server) =>
    fillStore(server.url, envelopes, progress, FILL_BUNDLE_ENVELOPES),
  );

  progress.begin(`${target.name}: cold walk: ${envelopes} envelopes, new frontend`, envelopes);
  return withFrontend(options, target, storeUrl, async (server) => {
    const before = await readCounts(target);
    const walked = await measureWalk(server.url, envelopes, progress);
    const after = await readCounts(target);
    return {
      walk: { ...walked, fillSeconds },
      callsPerWalkedEnvelope:
        before === null || after === null ? null : callsPerUnit(before, after, envelopes),
    };
  });
}

/** Commits messages one after the other through the target's counting route. */
async function measureCountedCommits(
  options: BenchOptions,
  target: BenchTarget,
  route: NonNullable<BenchTarget['countingRoute']>,
  progress: Progress,
): Promise<NonNullable<TargetResults['callsPerCommit']>> {
  const commits = options.countedCommits;
  progress.begin(`${target.name}: ${commits} commits from 1 client, requests counted`, commits);

  const perCommit = await withFrontend(
    options,
    target,
    route.storeUrl('counted'),
    async (server) => {
      const before = route.counts();
      await measureLatency(server.url, commits, progress);
      return callsPerUnit(before, route.counts(), commits + WARMUP_COMMITS);
    },
  );
  return { method: route.method, byClients: { '1 client': perCommit } };
}

/**
 * Measures `smtpq serve` on new stores of a started target: commits per second, one large
 * body, and the walk of a filled store by a frontend that did not fill it.
 */
export async function runTarget(
  options: BenchOptions,
  target: BenchTarget,
  dir: string,
  progress: Progress,
): Promise<TargetResults> {
  const commits = await measureCommits(options, target, progress);

  progress.begin(`${target.name}: body of ${options.bodyMiB} MiB: upload and download`, 2);
  const body = await withFrontend(options, target, target.storeUrl('body'), (server) =>
    measureBody(server, dir, options.bodyMiB * MiB, progress),
  );

  const { walk, callsPerWalkedEnvelope } = await measureColdWalk(options, target, progress);

  const route = target.countingRoute;
  const callsPerCommit =
    route === undefined
      ? commits.callsPerCommit
      : await measureCountedCommits(options, target, route, progress);

  return {
    store: target.name,
    server: target.server,
    caveat: target.caveat,
    throughput: commits.throughput,
    body,
    walk,
    callsPerCommit,
    callsPerWalkedEnvelope,
  };
}
