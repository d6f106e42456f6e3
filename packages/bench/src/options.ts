import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

export interface BenchOptions {
  quick: boolean;
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
  /** Envelopes in the store of the walk figure. */
  walkEnvelopes: number;
  /** Body size of the body figure, in MiB. */
  bodyMiB: number;
  /** Seconds of the disk's own limit. */
  diskSeconds: number;
  /** File that receives the results as JSON. */
  json?: string;
}

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const FULL = { commits: 2000, seconds: 10, walkEnvelopes: 100_000, diskSeconds: 4 };
const QUICK = { commits: 300, seconds: 3, walkEnvelopes: 10_000, diskSeconds: 2 };

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  }
  return parsed;
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
      'Measure smtpq serve on an fs store through the typed client, and the disk it runs on.',
    )
    .option('--quick', 'smaller counts and shorter runs, for a figure in a few minutes', false)
    .option('--dir <folder>', 'folder for the temporary stores (default: on the repository disk)')
    .option(
      '--cli <file>',
      'smtpq command line to measure',
      join(REPO_ROOT, 'apps/smtpq/dist/cli.js'),
    )
    .option('--commits <count>', 'sequential commits of the latency figure', positiveInteger)
    .option('--seconds <seconds>', 'duration of each commits-per-second run', positiveInteger)
    .option(
      '--clients <count>',
      'concurrent clients of the second throughput run',
      positiveInteger,
      16,
    )
    .option('--walk-envelopes <count>', 'envelopes in the store that is walked', positiveInteger)
    .option('--body-mib <MiB>', 'size of the large body, in MiB', positiveInteger, 64)
    .option('--json <file>', 'also write the results to this file as JSON')
    .parse(argv);

  const flags = command.opts();
  const scale = flags.quick === true ? QUICK : FULL;
  return {
    quick: flags.quick === true,
    dir: resolve(flags.dir ?? defaultDir()),
    cli: resolve(flags.cli),
    commits: flags.commits ?? scale.commits,
    seconds: flags.seconds ?? scale.seconds,
    clients: flags.clients,
    walkEnvelopes: flags.walkEnvelopes ?? scale.walkEnvelopes,
    bodyMiB: flags.bodyMib,
    diskSeconds: scale.diskSeconds,
    json: flags.json,
  };
}

/** Path of the memory-store server next to this file. */
export const MEMORY_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'memory-server.js');
