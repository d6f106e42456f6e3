import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { TEST_ENVIRONMENT } from './test-environment.js';

const run = promisify(execFile);

/**
 * moto's server mode, pinned. PutObject honours If-None-Match since 5.0.15 and If-Match since
 * 5.1.5, and DeleteObject honours If-Match since 5.1.22 (moto's changelog). `moto_server`
 * needs flask and flask-cors. They are pinned here in place of moto's `server` extra, because
 * that extra also installs the libraries of every other AWS service.
 */
export const MOTO_PACKAGES = ['moto[s3]==5.2.3', 'flask==3.1.3', 'flask-cors==6.0.5'];

const CACHE = join(homedir(), '.cache', 'smtpq');
const VENV = join(CACHE, 'moto-5.2.3-venv');
const READY_MARK = join(VENV, 'smtpq-ready');
const INSTALL_LOCK = join(CACHE, 'moto-install.lock');

export interface MotoServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  pid: number;
  /** Creates a bucket and returns its name. */
  bucketCreate(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * moto's own `moto_server` serves each request on a thread of its own, and moto checks the
 * condition of a conditional PutObject and then writes without a lock: two concurrent
 * writes with one If-Match could both win, which real S3 never allows. Serving one request
 * at a time makes each conditional write atomic, as the driver's tests assume. moto closes
 * every connection after its response, so no kept-alive client blocks the others.
 */
const SERIAL_MOTO = `
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)
`;

/**
 * Installs moto into a virtualenv under ~/.cache/smtpq when it is missing, then starts
 * moto's server on a free port of 127.0.0.1 and waits until it accepts connections.
 */
export async function motoStart(): Promise<MotoServer> {
  await motoInstall();

  const port = await freePort();
  const child = spawn(join(VENV, 'bin', 'python'), ['-c', SERIAL_MOTO, '127.0.0.1', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...TEST_ENVIRONMENT, MOTO_PORT: String(port) },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  try {
    await waitForPort(port, child, () => stderr);
  } catch (error) {
    await processStop(child);
    throw error;
  }

  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    pid: child.pid as number,
    bucketCreate: async (name) => {
      const client = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: {
          accessKeyId: TEST_ENVIRONMENT.AWS_ACCESS_KEY_ID as string,
          secretAccessKey: TEST_ENVIRONMENT.AWS_SECRET_ACCESS_KEY as string,
        },
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
      return name;
    },
    stop: () => processStop(child),
  };
}

/** Installs the pinned moto once per machine; concurrent test files wait for one install. */
async function motoInstall(): Promise<void> {
  if (existsSync(READY_MARK)) return;
  await mkdir(CACHE, { recursive: true });

  for (const deadline = Date.now() + 10 * 60_000; Date.now() < deadline; ) {
    if (existsSync(READY_MARK)) return;
    if (await lockTake()) {
      try {
        if (existsSync(READY_MARK)) return;
        await rm(VENV, { recursive: true, force: true });
        await run('python3', ['-m', 'venv', VENV]);
        await run(
          join(VENV, 'bin', 'pip'),
          ['install', '--quiet', '--disable-pip-version-check', ...MOTO_PACKAGES],
          { maxBuffer: 16 * 1024 * 1024 },
        );
        await writeFile(READY_MARK, `${MOTO_PACKAGES.join(' ')}\n`);
        return;
      } finally {
        await rm(INSTALL_LOCK, { recursive: true, force: true });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`moto was not installed into ${VENV} within 10 minutes`);
}

/** Takes the install lock (a folder holding the owner's pid), breaking one of a dead process. */
async function lockTake(): Promise<boolean> {
  try {
    await mkdir(INSTALL_LOCK);
    await writeFile(join(INSTALL_LOCK, 'pid'), String(process.pid));
    return true;
  } catch {
    const owner = Number(await readFile(join(INSTALL_LOCK, 'pid'), 'utf8').catch(() => 'NaN'));
    if (Number.isInteger(owner) && !processAlive(owner)) {
      await rm(INSTALL_LOCK, { recursive: true, force: true });
    }
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port from listen');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string) {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (child.exitCode !== null) {
      throw new Error(`moto_server exited with status ${child.exitCode}: ${stderr()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server did not listen on 127.0.0.1:${port} within 60 s: ${stderr()}`);
}

/** Stops the child by its pid: SIGTERM, then SIGKILL after 5 s. */
async function processStop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
