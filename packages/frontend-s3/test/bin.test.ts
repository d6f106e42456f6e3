import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { runHttpSuite } from '@smtpq/conformance';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type MotoServer, motoStart } from './helpers/moto.js';
import { TEST_ENVIRONMENT } from './helpers/s3-env.js';
import { freshPrefix } from './helpers/s3-store.js';

const BUCKET = 'smtpq-bin';
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const TOKEN = 'smtpq-test-token';

let moto: MotoServer;

beforeAll(async () => {
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
});

afterAll(async () => moto?.stop());

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Frontend {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

function frontendStart(storeUrl: string, port: number, token?: string): Frontend {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing; run pnpm build first`);
  const child = spawn(
    process.execPath,
    [BIN, '--store', storeUrl, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...TEST_ENVIRONMENT, SMTPQ_TOKEN: token ?? '' },
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function healthy(frontend: Frontend): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (frontend.child.exitCode !== null) {
      throw new Error(`smtpq-frontend-s3 exited early: ${frontend.output()}`);
    }
    const response = await fetch(`${frontend.url}/v1/health`).catch(() => null);
    if (response?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`smtpq-frontend-s3 did not become healthy: ${frontend.output()}`);
}

it('smtpq-frontend-s3 serves an s3 store', async () => {
  const store = `s3://${BUCKET}/${freshPrefix('bin')}?endpoint=${moto.endpoint}`;
  const frontend = frontendStart(store, await freePort());

  try {
    await healthy(frontend);
    const info = (await (await fetch(`${frontend.url}/v1`)).json()) as { store: string };
    const created = await fetch(`${frontend.url}/v1/messages/0000abcd`, { method: 'PUT' });
    const message = (await (await fetch(`${frontend.url}/v1/messages/0000abcd`)).json()) as {
      state: string;
    };

    expect(info.store).toBe('s3');
    expect(created.status).toBe(201);
    expect(message.state).toBe('open');
  } finally {
    frontend.child.kill('SIGTERM');
    expect(await frontend.exited).toBe(0);
  }
});

it('smtpq-frontend-s3 exits on a missing bucket', async () => {
  const store = `s3://smtpq-absent/queue?endpoint=${moto.endpoint}`;
  const frontend = frontendStart(store, await freePort());

  const status = await frontend.exited;

  expect(status).toBe(1);
  expect(frontend.output()).toContain('bucket smtpq-absent does not exist');
  expect(frontend.output()).not.toContain(TEST_ENVIRONMENT.AWS_SECRET_ACCESS_KEY);
});

// moto takes several ms per request, so the cases with thousands of envelopes take minutes.
it('two frontends on one prefix pass the HTTP suite', async () => {
  const store = `s3://${BUCKET}/${freshPrefix('http')}?endpoint=${moto.endpoint}`;
  const first = frontendStart(store, await freePort(), TOKEN);
  const second = frontendStart(store, await freePort(), TOKEN);
  const lines: string[] = [];

  try {
    await healthy(first);
    await healthy(second);
    const counts = await runHttpSuite({
      url: first.url,
      url2: second.url,
      rounds: 20,
      largeBodyBytes: 12 * 1024 * 1024,
      token: TOKEN,
      log: (line) => lines.push(line),
    });

    expect(lines.filter((line) => /^(FAIL|skip)\b/.test(line))).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(counts.passed).toBeGreaterThan(0);
  } finally {
    first.child.kill('SIGTERM');
    second.child.kill('SIGTERM');
    await Promise.all([first.exited, second.exited]);
  }
}, 600_000);
