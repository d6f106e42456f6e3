import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueClient } from '@smtpq/protocol';
import { SMTPQ } from './cli-helpers.js';

/** A frontend (`smtpq serve` on a new fs store) and a client to fill it. */
export interface TestFrontend {
  url: string;
  client: QueueClient;
  close(): Promise<void>;
}

/** Starts `smtpq serve` on a new fs store in a temporary folder, with a token if given. */
export async function startTestFrontend(options: { token?: string } = {}): Promise<TestFrontend> {
  const folder = await mkdtemp(path.join(tmpdir(), 'smtpq-queue-cli-'));
  const args = ['serve', '--store', `fs://${folder}/store`, '--listen', '127.0.0.1:0'];
  if (options.token !== undefined) {
    await writeFile(path.join(folder, 'token'), `${options.token}\n`);
    args.push('--token-file', path.join(folder, 'token'));
  }

  // Started here rather than with cli-helpers, whose afterEach hook would stop it after the
  // first test of a file.
  const serve = spawn(process.execPath, [SMTPQ, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => serve.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    serve.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (https?:\/\/\S+?),/.exec(stderr);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`smtpq serve exited at start: ${stderr}`)));
  });

  const client = new QueueClient({ url, token: options.token, retryBudgetMs: 0 });
  return {
    url,
    client,
    close: async () => {
      await client.close();
      serve.kill('SIGTERM');
      await exited;
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** What a run of `smtpq` wrote, stdout as bytes. */
export interface SmtpqRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the built `smtpq` to its end, keeping stdout as bytes (envelopes can be binary). */
export function runSmtpq(args: string[], env: Record<string, string> = {}): Promise<SmtpqRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SMTPQ, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
      }),
    );
  });
}

export function envelopeText(recipient: string): Buffer {
  return Buffer.from(`version: 3\ntype: mta\nrcpt: ${recipient}\ndest: ${recipient}\n`);
}
