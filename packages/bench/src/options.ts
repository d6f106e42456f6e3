import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';

/** Names of the stores the bench can measure, in the order it runs them. */
export const STORE_NAMES = ['fs', 's3', 'mongodb', 'datastore'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  /** Stores to measure, in the order of STORE_NAMES. */
  stores: StoreName[];
  /** Folder under which each run makes its temporary stores. */
  dir: string;
  /** The smtpq command line whose `serve` is measured. */
  cli: string;
  /** Sequential commits of the latency figure. */
  commits: number;
  /** Seconds of each commits-per-second figure. */
  seconds: number;
  /** Concurrent clients of the second commits-per-second figure. */
  clients: number;
  /** Envelopes in the store of the walk figure, by store. */
  walkEnvelopes: Record<StoreName, number>;
  /** Sequential commits through the counting proxy in front of the S3 server. */
  countedCommits: number;
  /** Body size of the body figure, in MiB. */
  bodyMiB: number;
  /** Seconds of the disk's own limit. */
  diskSeconds: number;
  /** File that receives the results as JSON. */
  json?: string;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/*
 * FerretDB, the MongoDB test server, uses no index: each range query decodes every document of
 * the collection. The walk reads a page with two such queries (the envelopes, then their
 * message records), so its time grows with the square of the store size. With 100,000
 * envelopes the fill took 262 s and the walk 676 s (one `pnpm bench` run on 2 CPUs), so the
 * MongoDB walk takes 10,000 envelopes, as the S3 and Datastore walks do.
 */
const FULL = {
  commits: 2000,
  seconds: 10,
  walkEnvelopes: { fs: 100_000, s3: 10_000, mongodb: 10_000, datastore: 10_000 },
  countedCommits: 100,
  bodyMiB: 64,
  diskSeconds: 4,
};
const QUICK = {
  commits: 300,
  seconds: 3,
  walkEnvelopes: { fs: 10_000, s3: 1_000, mongodb: 1_000, datastore: 1_000 },
  countedCommits: 20,
  bodyMiB: 16,
  diskSeconds: 2,
};

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

function storeList(value: string): StoreName[] {
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(STORE_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `invalid store ${JSON.stringify(name)}: expected a comma-separated list of ${STORE_NAMES.join(', ')}`,
      );
    }
  }
  return STORE_NAMES.filter((name) => names.includes(name));
}

/**
 * Returns the system temp folder when it is on the disk of the repository, else a folder in
 * the repository: the figures are for the disk the operator runs the store on.
 */
function defaultDir(): string {
  const temp = tmpdir();
  if (statSync(temp).dev === statSync(REPO_ROOT).dev) return temp;
  return join(REPO_ROOT, '.bench');
}

export function parseOptions(argv: string[]): BenchOptions {
  const command = new Command('smtpq-bench')
    .description(
      'Measure smtpq serve through the typed client on an fs store (and the disk it runs on), ' +
        'and on S3, MongoDB and Datastore stores on local test servers.',
    )
    .addOption(
      new Option('--stores <list>', `comma-separated stores to measure: ${STORE_NAMES.join(', ')}`)
        .argParser(storeList)
        .default([...STORE_NAMES], 'all'),
    )
    .option('--quick', 'smaller counts and shorter runs, for a figure in a few minutes', false)
    .option('--dir <folder>', 'folder for the temporary stores (default: on the repository disk)')
    .option(
      '--cli <file>',
      'smtpq command line to measure',
      join(REPO_ROOT, 'apps/smtpq/dist/cli.js'),
    )
    .option('--commits <count>', 'sequential commits of the fs latency figure', positiveInteger)
    .option('--seconds <seconds>', 'duration of each commits-per-second run', positiveInteger)
    .option(
      '--clients <count>',
      'concurrent clients of the second throughput run',
      positiveInteger,
      16,
    )
    .option(
      '--walk-envelopes <count>',
      'envelopes in the store that is walked, for every store (default: per store)',
      positiveInteger,
    )
    .option(
      '--body-mib <MiB>',
      'size of the large body, in MiB (default: 64, --quick 16)',
      positiveInteger,
    )
    .option('--json <file>', 'also write the results to this file as JSON')
    .parse(argv);

  const flags = command.opts();
  const scale = flags.quick === true ? QUICK : FULL;
  return {
    quick: flags.quick === true,
    stores: flags.stores,
    dir: resolve(flags.dir ?? defaultDir()),
    cli: resolve(flags.cli),
    commits: flags.commits ?? scale.commits,
    seconds: flags.seconds ?? scale.seconds,
    clients: flags.clients,
    walkEnvelopes: walkEnvelopesOf(flags.walkEnvelopes, scale.walkEnvelopes),
    countedCommits: scale.countedCommits,
    bodyMiB: flags.bodyMib ?? scale.bodyMiB,
    diskSeconds: scale.diskSeconds,
    json: flags.json,
  };
}

function walkEnvelopesOf(
  count: number | undefined,
  defaults: Record<StoreName, number>,
): Record<StoreName, number> {
  if (count === undefined) return { ...defaults };
  return { fs: count, s3: count, mongodb: count, datastore: count };
}

/** Path of the memory-store server next to this file. */
export const MEMORY_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'memory-server.js');
