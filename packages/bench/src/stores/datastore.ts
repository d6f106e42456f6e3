import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { BenchTarget, CallCounts } from './target.js';

const SERVER_SCRIPT = fileURLToPath(new URL('../datastore-server.js', import.meta.url));

/** Milliseconds the test server may take to listen. */
const START_TIMEOUT_MS = 30_000;
/** Milliseconds between SIGTERM and SIGKILL when the test server does not stop. */
const STOP_TIMEOUT_MS = 10_000;

type ServerMessage =
  | { type: 'listening'; address: string }
  | { type: 'counts'; counts: CallCounts };

/** The Datastore test server in a child process, and its RPC counters over IPC. */
class DatastoreServerProcess {
  private readonly waiting: Array<(counts: CallCounts) => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly address: string,
  ) {
    child.on('message', (message: ServerMessage) => {
      if (message.type === 'counts') this.waiting.shift()?.(message.counts);
    });
  }

  static async start(): Promise<DatastoreServerProcess> {
    const child = fork(SERVER_SCRIPT, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });

    const listening = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the Datastore test server did not listen in ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      child.on('message', (message: ServerMessage) => {
        if (message.type !== 'listening') return;
        clearTimeout(timer);
        resolve(message.address);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the Datastore test server exited with status ${code}: ${stderr}`));
      });
    });

    try {
      return new DatastoreServerProcess(child, await listening);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** Returns the RPCs the server received since its start, by method. */
  counts(): Promise<CallCounts> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send({ type: 'counts' });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts the project's Datastore test server on 127.0.0.1 in a child process. */
export async function datastoreTargetStart(): Promise<BenchTarget> {
  const server = await DatastoreServerProcess.start();

  return {
    name: 'datastore',
    server: "the project's Datastore v1 test server (in memory, one Node process) on 127.0.0.1",
    caveat:
      'latency and throughput are NOT representative of Cloud Datastore: the test server ' +
      'keeps everything in memory and answers at once. The RPC counts are representative, ' +
      'because the frontend runs its production code against it',
    storeUrl: (label) => `datastore://smtpq-bench/${label}`,
    env: { DATASTORE_EMULATOR_HOST: server.address, METADATA_SERVER_DETECTION: 'none' },
    serverCounts: () => server.counts(),
    stop: () => server.stop(),
  };
}
