import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerConformance } from '../src/commands/conformance.js';
import { type ServeProcess, startServe } from './conformance-support.js';

async function runCommand(args: string[]): Promise<{ lines: string[]; exitCode: number }> {
  const lines: string[] = [];
  const program = new Command('smtpq').exitOverride().configureOutput({ writeErr: () => {} });
  registerConformance(program, { line: (text) => lines.push(text) });
  process.exitCode = 0;
  await program.parseAsync(['conformance', ...args], { from: 'user' });
  const exitCode = Number(process.exitCode ?? 0);
  return { lines, exitCode };
}

/** Returns a loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('smtpq conformance', () => {
  let serve: ServeProcess;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smtpq-conformance-command-'));
    serve = await startServe(['--store', `fs://${join(dir, 'store')}`]);
  }, 60_000);

  afterAll(async () => {
    await serve.stop();
    await rm(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    process.exitCode = 0;
  });

  it('prints one line per case and the counts last', async () => {
    const { lines, exitCode } = await runCommand(['--url', serve.url, '--only', 'walk*order']);

    expect(lines.slice(0, -1)).toEqual([
      'ok   walk order ignores commit order',
      'ok   walk pages in evpid order to an explicit end',
    ]);
    expect(lines.at(-1)).toBe('2 passed, 0 failed');
    expect(exitCode).toBe(0);
  }, 60_000);

  it('reports skipped cases with their reason', async () => {
    const { lines, exitCode } = await runCommand(['--url', serve.url, '--only', 'fc-0']);

    expect(lines).toContain(
      'skip fc-03 if-match race across two frontends: needs a second frontend process of the same store (give --url2)',
    );
    expect(lines.filter((line) => line.startsWith('ok   fc-0'))).toHaveLength(2);
    expect(lines.at(-1)).toBe('2 passed, 0 failed, 2 skipped');
    expect(exitCode).toBe(0);
  }, 120_000);

  it('exits non-zero when a case fails', async () => {
    const port = await closedPort();
    const { lines, exitCode } = await runCommand(['--url', `http://127.0.0.1:${port}`]);

    expect(lines[0]).toMatch(
      new RegExp(`^FAIL connect to --url: GET http://127.0.0.1:${port}/v1 failed: ECONNREFUSED`),
    );
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
    expect(exitCode).toBe(1);
  });

  it('rejects a URL that ends with /v1', async () => {
    await expect(runCommand(['--url', `${serve.url}/v1`])).rejects.toThrow(/ends with \/v1/);
  });
});
