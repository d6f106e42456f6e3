import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { smtpqCliPath } from './paths.js';
import { freePort } from './ports.js';
import { type Stoppable, terminateProcess, track } from './processes.js';
import { waitFor } from './wait.js';

/** A frontend served by `smtpq serve` in a child process, on a fixed port of 127.0.0.1. */
export interface Frontend extends Stoppable {
  /** Base URL without /v1, the same across restarts. */
  readonly url: string;
  readonly port: number;
  readonly storeUrl: string;
  /** PID of the running server, or null while it is stopped. */
  readonly pid: number | null;
  /** Starts the server again on the same port and store, and waits until it serves. */
  start(): Promise<void>;
  /** Stops the server with SIGTERM and waits for its end; it can be started again. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and waits for its end; it can be started again. */
  kill(): Promise<void>;
  /** The server's output so far, over all its starts. */
  log(): string;
}

export interface FrontendOptions {
  /** Port on 127.0.0.1; a free one when absent. */
  port?: number;
  /** Extra arguments of `smtpq serve`. */
  extraArgs?: string[];
  /**
   * Another program with the options of `smtpq serve`, run with Node: the script and the
   * arguments before the options. Default: the built `smtpq` with `serve`.
   */
  program?: string[];
  /** Variables added to the environment of the server. */
  env?: Record<string, string>;
}

/**
 * Runs `smtpq serve --store STORE --listen 127.0.0.1:PORT` in a child process and waits until
 * `GET /v1/health` returns 200. The store URL is a parameter, so the same cases run against
 * every kind of frontend.
 */
export async function startFrontend(
  storeUrl: string,
  options: FrontendOptions = {},
): Promise<Frontend> {
  const program = options.program ?? [smtpqCliPath, 'serve'];
  if (!existsSync(program[0]!)) {
    throw new Error(`${program[0]} is missing: run \`pnpm build\` first`);
  }

  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const logDir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-frontend-'));
  const logPath = path.join(logDir, 'frontend.log');
  let child: ChildProcess | null = null;
  let childExit: Promise<void> = Promise.resolve();

  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');

  const start = async () => {
    if (child !== null) {
      throw new Error(`the frontend on ${url} is already running`);
    }
    const logFd = openSync(logPath, 'a');
    try {
      const args = [
        ...program,
        '--store',
        storeUrl,
        '--listen',
        `127.0.0.1:${port}`,
        ...(options.extraArgs ?? []),
      ];
      child = spawn(process.execPath, args, {
        stdio: ['ignore', logFd, logFd],
        env: { ...process.env, ...options.env },
      });
    } finally {
      closeSync(logFd);
    }
    const started = child;
    childExit = new Promise((resolve) => started.on('exit', () => resolve()));
    let exited = false;
    void childExit.then(() => {
      exited = true;
    });

    try {
      await waitFor(`the frontend to serve ${url}/v1/health`, async () => {
        if (exited) {
          throw new Error(`the frontend exited at start; its log ends with:\n${tail(log())}`);
        }
        const response = await fetch(`${url}/v1/health`).catch(() => null);
        return response?.status === 200;
      });
    } catch (error) {
      await halt('SIGKILL');
      throw error;
    }
  };

  const halt = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const running = child;
    if (running?.pid === undefined) {
      child = null;
      return;
    }
    if (signal === 'SIGKILL') {
      running.kill('SIGKILL');
    } else {
      await terminateProcess(running.pid, 10_000);
    }
    await childExit;
    child = null;
  };

  const frontend: Frontend = {
    name: `frontend ${url} on ${storeUrl}`,
    url,
    port,
    storeUrl,
    get pid() {
      return child?.pid ?? null;
    },
    start,
    stop: async () => {
      await halt('SIGTERM');
    },
    kill: () => halt('SIGKILL'),
    log,
  };

  await start();
  // Stopping between cases keeps the log for a restart, so the final stop also removes it.
  track({
    name: frontend.name,
    stop: async () => {
      await halt('SIGTERM');
      if (process.env.SMTPQ_E2E_KEEP === undefined) {
        rmSync(logDir, { recursive: true, force: true });
      }
    },
  });
  return frontend;
}

function tail(text: string): string {
  return text.split('\n').slice(-40).join('\n');
}
