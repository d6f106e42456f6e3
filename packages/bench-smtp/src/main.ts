#!/usr/bin/env node
import { rmSync, writeFileSync } from 'node:fs';
import { ensureQueueRestInstalled, ensureSystemPackages, stopAllStarted } from '@smtpq/e2e-smtpd';
import { readMachineFacts } from './machine.js';
import { type BenchOptions, parseOptions, USAGE, UsageError } from './options.js';
import {
  formatBudget,
  formatHeader,
  formatProgress,
  formatRatios,
  formatRunTable,
} from './report.js';
import { insideResolverNamespace, rerunInResolverNamespace } from './resolver-namespace.js';
import { foldersToRemove, type RunResult, runOnce } from './run.js';

let stopping = false;

/** Stops every process and server the benchmark started, by PID, and removes its folders. */
async function cleanUp(): Promise<void> {
  try {
    await stopAllStarted();
  } finally {
    for (const folder of foldersToRemove) rmSync(folder, { recursive: true, force: true });
    foldersToRemove.clear();
  }
}

function stopOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${signal} received: stopping smtpd, frontend and sink`);
      cleanUp().then(
        () => process.exit(130),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
}

function readOptions(): BenchOptions | null {
  // `pnpm bench:smtp -- --messages 500` passes the separator on.
  const argv = process.argv.slice(2);
  try {
    return parseOptions(argv[0] === '--' ? argv.slice(1) : argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  if (options === null) {
    console.log(USAGE);
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error('error: the benchmark must run as root: it runs smtpd in mount namespaces');
    process.exit(1);
  }

  // Installs need the real resolver, so they run before the namespace that replaces it.
  if (!insideResolverNamespace()) {
    await ensureSystemPackages();
    if (options.queues.includes('rest')) await ensureQueueRestInstalled();
    process.exit(await rerunInResolverNamespace());
  }

  stopOnSignals();
  // The harness keeps each smtpd's folder, so that queue-rest's counters can be read from
  // smtpd's log after the stop; the benchmark removes the folders itself.
  process.env.SMTPQ_E2E_KEEP = '1';

  const machine = await readMachineFacts();
  console.log(`${formatHeader(options, machine)}\n`);

  const results: RunResult[] = [];
  try {
    for (let round = 1; round <= options.runs; round++) {
      for (const queue of options.queues) {
        const result = await runOnce(queue, round, options);
        results.push(result);
        console.log(formatProgress(result));
      }
    }
  } finally {
    if (!stopping) await cleanUp();
  }

  console.log(`\n${formatRunTable(results)}\n`);
  if (options.queues.length === 2) console.log(`${formatRatios(results)}\n`);
  for (const result of results.filter((run) => run.queue === 'rest')) {
    console.log(`${formatBudget(result)}\n`);
  }

  if (options.jsonPath !== null) {
    writeFileSync(options.jsonPath, `${JSON.stringify({ options, machine, results }, null, 2)}\n`);
    console.log(`figures written to ${options.jsonPath}`);
  }
}

main().catch((error: unknown) => {
  if (stopping) return;
  console.error(error);
  process.exitCode = 1;
});
