import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Milliseconds the server may take to pass its first health check. */
const START_TIMEOUT_MS = 30_000;
/** Milliseconds between SIGTERM and SIGKILL when the server does not stop. */
const STOP_TIMEOUT_MS = 15_000;

export interface ServerCommand {
  /** Program arguments after `node`, without `--listen`. */
  args: string[];
  /** Extra environment variables of the server. */
  env?: Record<string, string>;
}

/**
 * A frontend server in a child process on a free loopback port. Its log goes to /dev/null, as
 * a log written elsewhere would cost the same per request; stderr is kept for start failures.
 */
export class ServerProcess {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
  }

  static async start(command: ServerCommand): Promise<ServerProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...command.args, '--listen', `127.0.0.1:${port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...command.env },
    });
    const server = new ServerProcess(child, `http://127.0.0.1:${port}`);
    await server.waitUntilHealthy();
    return server;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Returns the peak resident memory of the server so far (VmHWM), in bytes. */
  async peakResidentBytes(): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (match === null) throw new Error(`no VmHWM line in /proc/${this.pid}/status`);
    return Number(match[1]) * 1024;
  }

  /**
   * Returns the sum over all label sets of each sample in `GET /metrics`, by metric name, or
   * null when the server has no metrics route.
   */
  async metrics(): Promise<Map<string, number> | null> {
    const response = await fetch(`${this.url}/metrics`);
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) throw new Error(`GET /metrics returned ${response.status}`);
    return parseMetrics(await response.text());
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private async waitUntilHealthy(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (this.child.exitCode !== null) {
        throw new Error(`the server exited with status ${this.child.exitCode}: ${this.stderr}`);
      }
      try {
        const response = await fetch(`${this.url}/v1/health`);
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `the server did not become healthy in ${START_TIMEOUT_MS} ms: ${this.stderr}`,
        );
      }
      await sleep(50);
    }
  }
}

/** Sums the samples of each metric over its label sets; comments and histograms' parts kept apart. */
export function parseMetrics(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const name = match[1] as string;
    sums.set(name, (sums.get(name) ?? 0) + Number(match[2]));
  }
  return sums;
}

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === 'string') throw new Error('no port for the server');
  return address.port;
}
