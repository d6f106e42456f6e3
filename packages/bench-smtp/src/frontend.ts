import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, type Stoppable, smtpqCliPath, track, waitFor } from '@smtpq/e2e-smtpd';

/** Time in ms a frontend has to exit after SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** `smtpq serve` on an fs store, in a child process of the benchmark. */
export interface BenchFrontend extends Stoppable {
  /** Base URL without /v1, the ARG of `-B queue=rest:ARG`. */
  readonly url: string;
  readonly pid: number;
  /** The frontend's stdout and stderr: pino JSON lines, one `request` line per request. */
  readonly logPath: string;
}

export interface FrontendStart {
  /** Folder of the fs store; it must exist. */
  storeDir: string;
  /** Folder for the frontend's log. */
  workDir: string;
  /** Arguments for Node before the program, such as `--import` of a probe. */
  nodeArgs: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * Starts `smtpq serve --store fs://DIR --listen 127.0.0.1:PORT` with its default log level
 * (info, a line per request with its duration) and waits until `GET /v1/health` returns 200.
 */
export async function startBenchFrontend(start: FrontendStart): Promise<BenchFrontend> {
  if (!existsSync(smtpqCliPath)) {
    throw new Error(`${smtpqCliPath} is missing: run \`pnpm build\` first`);
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logPath = path.join(start.workDir, 'frontend.log');
  const args = [
    ...start.nodeArgs,
    smtpqCliPath,
    'serve',
    '--store',
    `fs://${start.storeDir}`,
    '--listen',
    `127.0.0.1:${port}`,
  ];

  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, args, { env: start.env, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`the frontend did not start: ${process.execPath}`);

  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.on('exit', () => {
      exited = true;
      resolve();
    });
  });

  const frontend: BenchFrontend = {
    name: `frontend ${url} (PID ${pid})`,
    url,
    pid,
    logPath,
    // Node signals the child by its PID and never after its exit, so a reused PID is safe.
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exit;
      clearTimeout(killTimer);
    },
  };
  track(frontend);

  await waitFor(`the frontend to serve ${url}/v1/health`, async () => {
    if (exited) {
      const log = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`the frontend exited at start; its log ends with:\n${log}`);
    }
    const response = await fetch(`${url}/v1/health`).catch(() => null);
    return response?.status === 200;
  });
  return frontend;
}
