import { QueueClient } from '@smtpq/protocol';
import type { Progress } from './progress.js';
import { median, percentile } from './stats.js';
import { bundleOf, mailBody } from './workload.js';

/** The message of the commit figures: 4 KiB of body and two recipients. */
const BODY = mailBody(4096);
const ENVELOPES = 2;
/** Commits before each measurement, so that connections and caches are warm. */
export const WARMUP_COMMITS = 20;

export interface LatencyResult {
  commits: number;
  medianMs: number;
  p99Ms: number;
}

export interface ThroughputResult {
  clients: number;
  commits: number;
  commitsPerSecond: number;
}

async function commitOne(client: QueueClient): Promise<void> {
  const bundle = bundleOf(ENVELOPES, BODY);
  await client.messageBundle(bundle.msgid, bundle.envelopes, bundle.body);
}

/** Commits `count` messages one after the other from one client; returns the latencies. */
export async function measureLatency(
  url: string,
  count: number,
  progress: Progress,
): Promise<LatencyResult> {
  const client = new QueueClient({ url, connections: 1 });
  try {
    for (let i = 0; i < WARMUP_COMMITS; i++) await commitOne(client);

    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await commitOne(client);
      samples.push(performance.now() - start);
      progress.update(i + 1);
    }
    return { commits: count, medianMs: median(samples), p99Ms: percentile(samples, 0.99) };
  } finally {
    await client.close();
  }
}

/**
 * Runs `clients` clients that each commit one message after the other for `seconds`, and
 * returns the commits per second of all of them together.
 */
export async function measureThroughput(
  url: string,
  clients: number,
  seconds: number,
  progress: Progress,
): Promise<ThroughputResult> {
  const pool = Array.from({ length: clients }, () => new QueueClient({ url, connections: 1 }));
  try {
    await Promise.all(pool.map(async (client) => commitOne(client)));

    let commits = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    const ticker = setInterval(() => progress.update(commits), 250);
    await Promise.all(
      pool.map(async (client) => {
        while (performance.now() < deadline) {
          await commitOne(client);
          commits += 1;
        }
      }),
    );
    clearInterval(ticker);
    const elapsedSeconds = (performance.now() - start) / 1000;
    return { clients, commits, commitsPerSecond: commits / elapsedSeconds };
  } finally {
    await Promise.all(pool.map((client) => client.close()));
  }
}

/** Returns the median latency of `GET /v1`, the cheapest request: HTTP and routing alone. */
export async function measureInfoLatency(url: string, count: number): Promise<number> {
  const client = new QueueClient({ url, connections: 1 });
  try {
    for (let i = 0; i < WARMUP_COMMITS; i++) await client.info();
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await client.info();
      samples.push(performance.now() - start);
    }
    return median(samples);
  } finally {
    await client.close();
  }
}
