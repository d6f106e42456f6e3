import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running `smtpq-frontend-mongodb` process, started from the built package. */
export interface FrontendProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT`, as the binary printed it. */
  readonly url: string;
  /** Stops the process with SIGTERM and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts the built binary on a free loopback port, as an operator would run it. */
export async function frontendStart(
  storeUrl: string,
  extraArgs: string[] = [],
): Promise<FrontendProcess> {
  const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [bin, '--store', storeUrl, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on (http:\/\/[^,\s]+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`frontend exited (${code}):\n${output}`)));
  });

  return {
    child,
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
