#!/usr/bin/env node
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { machineFacts } from './machine.js';
import { type BenchOptions, parseOptions, type StoreName } from './options.js';
import { Progress } from './progress.js';
import { type BenchResults, formatReport } from './report.js';
import { datastoreTargetStart } from './stores/datastore.js';
import { FS_STEPS, runFsBench } from './stores/fs.js';
import { mongodbTargetStart } from './stores/mongodb.js';
import { runTarget, type TargetResults, targetSteps } from './stores/run-target.js';
import { s3TargetStart } from './stores/s3.js';
import type { BenchTarget } from './stores/target.js';

type TargetName = Exclude<StoreName, 'fs'>;

const TARGET_STARTS: Record<TargetName, () => Promise<BenchTarget>> = {
  s3: s3TargetStart,
  mongodb: mongodbTargetStart,
  datastore: datastoreTargetStart,
};

/** Progress steps of each store: for the others, the start of the test server and the runs. */
const STEPS: Record<StoreName, number> = {
  fs: FS_STEPS,
  s3: 1 + targetSteps({ countingRoute: true }),
  mongodb: 1 + targetSteps({}),
  datastore: 1 + targetSteps({}),
};

/**
 * Runs each selected store other than fs on its own test server. A store that fails is
 * reported with its error, and the next store still runs.
 */
async function runTargets(
  options: BenchOptions,
  dir: string,
  progress: Progress,
): Promise<Pick<BenchResults, 'targets' | 'failures'>> {
  const targets: TargetResults[] = [];
  const failures: BenchResults['failures'] = [];
  for (const name of options.stores) {
    if (name === 'fs') continue;
    progress.begin(`${name}: start the test server`, 0);
    try {
      const target = await TARGET_STARTS[name]();
      try {
        targets.push(await runTarget(options, target, dir, progress));
      } finally {
        await target.stop();
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      progress.note(`${name} failed: ${message}`);
      failures.push({ store: name, error: message });
    }
  }
  return { targets, failures };
}

async function run(options: BenchOptions): Promise<BenchResults> {
  const dir = await mkdtemp(join(options.dir, 'smtpq-bench-'));
  const steps = options.stores.reduce((sum, name) => sum + STEPS[name], 0);
  const progress = new Progress(steps);
  const startedAt = new Date().toISOString();
  const start = performance.now();
  const machine = machineFacts(dir);

  try {
    const fs = options.stores.includes('fs') ? await runFsBench(options, dir, progress) : null;
    const { targets, failures } = await runTargets(options, dir, progress);
    progress.end();

    return {
      command: ['pnpm bench', ...process.argv.slice(2)].join(' '),
      startedAt,
      runSeconds: (performance.now() - start) / 1000,
      machine,
      loadAtEnd: loadavg()[0] ?? 0,
      fs,
      targets,
      failures,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const options = parseOptions(process.argv);
try {
  const results = await run(options);
  process.stdout.write(formatReport(results));
  if (results.failures.length > 0) process.exitCode = 1;
  if (options.json !== undefined) {
    await writeFile(options.json, `${JSON.stringify(results, null, 2)}\n`);
  }
} catch (error) {
  process.stderr.write(`smtpq-bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
}
