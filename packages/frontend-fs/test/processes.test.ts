import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FsDriver, openFsDriver } from '../src/index.js';
import { tempFolder } from './helpers.js';

/*
 * Two OS processes share one store folder, as two frontends behind a load balancer do. Each
 * round, both get the same command at once and run it several times concurrently; across both
 * processes exactly one create or replace may win.
 */

const WORKER = fileURLToPath(new URL('./fixtures/race-worker.mjs', import.meta.url));
const BUILT_DRIVER = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const ROUNDS = 30;
const ATTEMPTS_PER_PROCESS = 4;

interface RoundResult {
  round: number;
  results: Array<string | null>;
}

/** A worker process and the lines it prints. */
class Worker {
  private readonly lines: AsyncIterator<string>;
  private readonly output: Interface;

  constructor(
    readonly label: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    this.output = createInterface({ input: child.stdout });
    this.lines = this.output[Symbol.asyncIterator]();
  }

  static start(label: string, storeDir: string): Worker {
    const child = spawn(process.execPath, [WORKER, storeDir, label], { stdio: 'pipe' });
    child.stderr.on('data', (data) => process.stderr.write(`[${label}] ${data}`));
    // A worker that crashed closes its stdin; the crash fails the test through nextLine.
    child.stdin.on('error', () => undefined);
    return new Worker(label, child);
  }

  async nextLine(): Promise<string> {
    const next = await this.lines.next();
    if (next.done === true) {
      throw new Error(`worker ${this.label} exited (status ${this.child.exitCode})`);
    }
    return next.value;
  }

  send(command: object): void {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.send({ op: 'exit' });
    this.child.stdin.end();
    await exited;
    this.output.close();
  }
}

let workers: Worker[] = [];
let storeDir: string;
let driver: FsDriver;
let removeFolder: () => Promise<void>;

beforeAll(async () => {
  if (!existsSync(BUILT_DRIVER)) {
    throw new Error(`${BUILT_DRIVER} is missing: run \`pnpm build\` before this test`);
  }
  const folder = await tempFolder();
  removeFolder = folder.remove;
  storeDir = join(folder.path, 'store');
  driver = await openFsDriver(storeDir);

  workers = [Worker.start('first', storeDir), Worker.start('second', storeDir)];
  for (const worker of workers) expect(await worker.nextLine()).toBe('ready');
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await driver?.close();
  await removeFolder?.();
});

/** Sends one command to every worker at once; returns each worker's results. */
async function runRound(command: object): Promise<RoundResult[]> {
  for (const worker of workers) worker.send(command);
  return Promise.all(
    workers.map(async (worker) => JSON.parse(await worker.nextLine()) as RoundResult),
  );
}

/** Returns the data each winning call wrote: `<worker label> <attempt>`. */
function winners(rounds: RoundResult[], won: (result: string | null) => boolean) {
  return rounds.flatMap((round, index) =>
    round.results.flatMap((result, attempt) =>
      won(result) ? [{ data: `${workers[index]?.label} ${attempt}`, version: result }] : [],
    ),
  );
}

describe('two processes on one folder', () => {
  it('race creates: exactly one winner per round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `race/create/${round}`;

      const results = await runRound({ op: 'create', key, round, attempts: ATTEMPTS_PER_PROCESS });

      const won = winners(results, (result) => result !== null);
      expect(won, `round ${round}`).toHaveLength(1);
      const record = await driver.get(key);
      expect(record?.data.toString()).toBe(won[0]?.data);
      expect(record?.version).toBe(won[0]?.version);
    }
  });

  it('race replaces from one version: exactly one winner per round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = `race/replace/${round}`;
      const expected = await driver.create(key, Buffer.from('base'));

      const results = await runRound({
        op: 'replace',
        key,
        expected,
        round,
        attempts: ATTEMPTS_PER_PROCESS,
      });

      const won = winners(results, (result) => result !== 'mismatch' && result !== 'missing');
      expect(won, `round ${round}`).toHaveLength(1);
      const losers = results.flatMap((result) => result.results).filter((r) => r === 'mismatch');
      expect(losers).toHaveLength(2 * ATTEMPTS_PER_PROCESS - 1);
      const record = await driver.get(key);
      expect(record?.data.toString()).toBe(won[0]?.data);
      expect(record?.version).toBe(won[0]?.version);
    }
  });

  it('race replaces along a chain of versions', async () => {
    const key = 'race/chain';
    let expected = (await driver.create(key, Buffer.from('base'))) as string;

    for (let round = 0; round < ROUNDS; round++) {
      const results = await runRound({
        op: 'replace',
        key,
        expected,
        round,
        attempts: ATTEMPTS_PER_PROCESS,
      });

      const won = winners(results, (result) => result !== 'mismatch' && result !== 'missing');
      expect(won, `round ${round}`).toHaveLength(1);
      expected = won[0]?.version as string;
    }

    expect((await driver.get(key))?.version).toBe(expected);
  });

  it('churn of creates, replaces and deletes stays consistent', async () => {
    const key = 'race/churn/0000abcd';

    const results = await runRound({ op: 'churn', key, round: 0, iterations: 100, attempts: 3 });

    const won = results.flatMap((result) => result.results).map(Number);
    expect(won).toHaveLength(6);
    expect(won.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
    const record = await driver.get(key);
    const listed = await driver.list('race/churn/', { limit: 10 });
    expect(listed).toEqual(record === null ? [] : [key]);
    if (record !== null) expect(await driver.delete(key, record.version)).toBe('deleted');
    expect(await readdir(join(storeDir, 'tmp'))).toEqual([]);
    expect(await readdir(join(storeDir, 'records/race'))).not.toContain('churn');
  });
});
