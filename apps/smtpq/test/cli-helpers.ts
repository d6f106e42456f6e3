import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

export const SMTPQ = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
export const FRONTEND_FS = fileURLToPath(
  new URL('../../../packages/frontend-fs/dist/bin.js', import.meta.url),
);

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
});

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command line program to its end. */
export function runProgram(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  const child = start(program, args, env);
  return finished(child.process, child.output);
}

export interface Started {
  process: ChildProcess;
  output: { stdout: string; stderr: string };
  /** Base URL from the startup line on stderr. */
  url: string;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Finished>;
}

/** Starts `serve` and waits for its startup line. */
export async function startServe(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Started> {
  const child = start(program, args, env);

  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const match = /listening on (https?:\/\/\S+?),/.exec(child.output.stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    child.process.stderr?.on('data', check);
    child.process.on('exit', (code) => {
      reject(new Error(`serve exited with ${code} before listening: ${child.output.stderr}`));
    });
  });

  return {
    process: child.process,
    output: child.output,
    url,
    stop(signal = 'SIGTERM') {
      const done = finished(child.process, child.output);
      child.process.kill(signal);
      return done;
    },
  };
}

function start(program: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [program, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);

  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  return { process: child, output };
}

function finished(child: ChildProcess, output: { stdout: string; stderr: string }) {
  return new Promise<Finished>((resolve) => {
    const done = (): void => resolve({ code: child.exitCode, ...output });
    if (child.exitCode !== null) done();
    else child.on('close', done);
  });
}
