import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export interface FrontendProcess {
  url: string;
  child: ChildProcess;
  /** Lines the process wrote to stderr so far. */
  stderr: () => string;
  stop(): Promise<void>;
}

/**
 * Starts `smtpq-frontend-datastore` on a free loopback port against the test server at
 * `emulatorHost`, with an environment that contains nothing but what it needs.
 */
export async function frontendStart(
  storeUrl: string,
  emulatorHost: string,
  args: string[] = [],
): Promise<FrontendProcess> {
  const child = spawn(
    process.execPath,
    [
      // As the bin's own #! line runs it: a small young generation and a bounded old one make
      // V8 collect the chunk buffers of a large body early, which keeps RSS down.
      '--max-semi-space-size=1',
      '--max-old-space-size=128',
      BIN,
      '--store',
      storeUrl,
      '--listen',
      '127.0.0.1:0',
      '--log-level',
      'warn',
      ...args,
    ],
    {
      env: {
        PATH: process.env.PATH,
        DATASTORE_EMULATOR_HOST: emulatorHost,
        METADATA_SERVER_DETECTION: 'none',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );

  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });

  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(stderr);
      if (match !== null) {
        child.stderr?.off('data', onData);
        resolve(match[1] as string);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`frontend exited with ${code}: ${stderr}`)));
  });

  return {
    url,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Peak resident memory of a live process, in bytes (VmHWM of /proc/PID/status). */
export async function peakRss(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+([0-9]+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}
