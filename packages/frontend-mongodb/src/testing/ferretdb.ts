import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

/**
 * FerretDB, a MongoDB wire-protocol server over SQLite, built from its Go module and run on
 * 127.0.0.1 for the tests. No MongoDB server package can be installed on the test machines.
 */
export const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';
export const FERRETDB_VERSION = 'v1.24.2';

const run = promisify(execFile);

/** Folder of cached builds: $SMTPQ_CACHE_DIR, or ~/.cache/smtpq. */
function cacheDir(): string {
  return process.env.SMTPQ_CACHE_DIR ?? join(homedir(), '.cache', 'smtpq');
}

export function ferretdbBinaryPath(): string {
  return join(cacheDir(), 'ferretdb', FERRETDB_VERSION, 'ferretdb');
}

/**
 * Returns the path of the FerretDB binary, building it first when the cache lacks it. Two test
 * files may ask at once: a lock folder lets one build while the other waits.
 */
export async function ferretdbBinary(): Promise<string> {
  const binary = ferretdbBinaryPath();
  if (existsSync(binary)) return binary;

  const lock = `${binary}.lock`;
  await mkdir(join(binary, '..'), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (existsSync(binary)) return binary;
      if (await lockIsStale(lock)) await rm(lock, { recursive: true, force: true });
      else await sleep(1_000);
    }
  }

  try {
    await writeFile(join(lock, 'pid'), String(process.pid));
    if (!existsSync(binary)) await ferretdbBuild(binary);
    return binary;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function lockIsStale(lock: string): Promise<boolean> {
  const pid = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Builds FerretDB from its module source. `go install module@version` builds a binary that
 * panics at start, because FerretDB reads its version from build/version/version.txt, a file
 * its release process generates and the module lacks; so the source is copied out of the
 * module cache, given that file, and built with `go build`.
 */
async function ferretdbBuild(binary: string): Promise<void> {
  process.stderr.write(
    `Building FerretDB ${FERRETDB_VERSION} into ${binary} with go (first run on this ` +
      'machine; it takes one to three minutes)...\n',
  );
  const env = { ...process.env, GOFLAGS: '-mod=mod -buildvcs=false', CGO_ENABLED: '0' };

  let downloaded: { stdout: string };
  try {
    downloaded = await run(
      'go',
      ['mod', 'download', '-json', `${FERRETDB_MODULE}@${FERRETDB_VERSION}`],
      {
        env,
        cwd: tmpdir(),
        maxBuffer: 1 << 20,
        timeout: 600_000,
      },
    );
  } catch (error) {
    throw new Error(
      `cannot download FerretDB ${FERRETDB_VERSION} with go (is Go 1.24 or newer installed?), ` +
        'or set SMTPQ_TEST_MONGODB_URL to a MongoDB server for the tests: ' +
        (error as Error).message,
      { cause: error },
    );
  }
  const moduleDir = (JSON.parse(downloaded.stdout) as { Dir: string }).Dir;

  const work = await mkdtemp(join(tmpdir(), 'smtpq-ferretdb-build-'));
  try {
    const source = join(work, 'src');
    await cp(moduleDir, source, { recursive: true });
    await run('chmod', ['-R', 'u+w', source]);
    await writeFile(join(source, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);

    const built = join(work, 'ferretdb');
    await run('go', ['build', '-trimpath', '-o', built, './cmd/ferretdb'], {
      env,
      cwd: source,
      maxBuffer: 16 << 20,
      timeout: 900_000,
    });
    await chmod(built, 0o755);
    await rename(built, binary).catch(async () => {
      // The cache may be on another file system than the build folder.
      await cp(built, `${binary}.tmp`);
      await rename(`${binary}.tmp`, binary);
    });
    process.stderr.write(`Built FerretDB ${FERRETDB_VERSION}: ${binary}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface FerretDbServer {
  readonly pid: number;
  readonly port: number;
  /** Folder with the SQLite databases and FerretDB's state; survives stop(). */
  readonly dataDir: string;
  /** `mongodb://127.0.0.1:PORT/DATABASE`. */
  url(database: string): string;
  /** Everything FerretDB wrote to stdout and stderr so far. */
  log(): string;
  /** Stops the server with SIGTERM (SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
}

// Output kept for error messages: the last part of the log is the part that tells.
const MAX_LOG_CHARACTERS = 64 * 1024;

/**
 * Starts FerretDB on 127.0.0.1 with the SQLite handler. Without `port` it takes a free port
 * (listen address port 0) and reads the one it got from its log. Telemetry and the debug
 * HTTP listener are off, so the process opens no socket but the MongoDB listener.
 */
export async function ferretdbStart(
  options: { dataDir?: string; port?: number; extraArgs?: string[] } = {},
): Promise<FerretDbServer> {
  const binary = await ferretdbBinary();
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'smtpq-ferretdb-')));
  await mkdir(join(dataDir, 'sqlite'), { recursive: true });
  await mkdir(join(dataDir, 'state'), { recursive: true });

  const child = spawn(
    binary,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${join(dataDir, 'sqlite')}/`,
      `--listen-addr=127.0.0.1:${options.port ?? 0}`,
      `--state-dir=${join(dataDir, 'state')}`,
      '--telemetry=disable',
      '--debug-addr=-',
      // Info is the level of the "Listening on TCP 127.0.0.1:PORT" line the port is read from.
      '--log-level=info',
      ...(options.extraArgs ?? []),
    ],
    { env: { ...process.env, DO_NOT_TRACK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );

  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-MAX_LOG_CHARACTERS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const port = options.port ?? (await listenPort(child, () => output));
  await waitForPort(child, port, () => output);

  const pid = child.pid as number;
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  return {
    pid,
    port,
    dataDir,
    url: (database) => `mongodb://127.0.0.1:${port}/${database}`,
    log: () => output,
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
  };
}

async function listenPort(child: ChildProcess, output: () => string): Promise<number> {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const match = /Listening on TCP 127\.0\.0\.1:(\d+)/.exec(output());
    if (match?.[1] !== undefined) return Number(match[1]);
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`FerretDB did not start listening; its output:\n${output()}`);
}

async function waitForPort(child: ChildProcess, port: number, output: () => string) {
  const { connect } = await import('node:net');
  for (let waited = 0; waited < 30_000; waited += 50) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`FerretDB does not accept connections on port ${port}; its output:\n${output()}`);
}
