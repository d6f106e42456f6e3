import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type CommandResult, runCommand } from './command.js';
import { type MaildirMessage, readMaildir } from './maildir.js';
import { smtpctlPath, smtpdPath } from './paths.js';
import { freePort, portAccepts } from './ports.js';
import {
  mountNamespace,
  processesInNamespace,
  processState,
  type Stoppable,
  signalProcess,
  terminateProcess,
  track,
  untrack,
  waitProcessEnd,
} from './processes.js';
import { renderSmtpdConfig } from './smtpd-config.js';
import { startSyslogListener } from './syslog.js';
import { testUser } from './system.js';
import { waitFor } from './wait.js';

/** smtpd's own spool (`fs`), or queue-rest with the argument after `queue=rest:`. */
export type QueueChoice = 'fs' | { restArg: string };

export interface SmtpdOptions {
  queue: QueueChoice;
  /** Port on the listen address; a free one when absent. */
  listenPort?: number;
  /** Loopback address to listen on, such as 127.0.0.2; 127.0.0.1 when absent. */
  listenAddress?: string;
  /**
   * Relay host for mail to relay.test, usually a sink of the test; `source` is the local
   * address smtpd connects from.
   */
  relay?: { host: string; port: number; source?: string };
  /**
   * Runs smtpd as a daemon (without -d): it detaches, and its log and queue-rest's go to
   * syslog, which the harness receives on a /dev/log of the instance's own.
   */
  daemon?: boolean;
  /** Adds -v: debug lines in the log. */
  verbose?: boolean;
  /** Subsystems paused at start (-P): `mta` keeps relayed mail queued, `mda` local mail. */
  pause?: Array<'mda' | 'mta' | 'smtp'>;
  /** Lines placed before the listen line of smtpd.conf. */
  extraConfig?: string[];
  /** Maildir for local.test; a new one in the instance's folder when absent. */
  maildir?: string;
  /** Time to wait for smtpd to listen, in ms. */
  startTimeoutMs?: number;
}

/** One running smtpd with a spool and control socket of its own. */
export interface SmtpdInstance extends Stoppable {
  /** Address smtpd listens on. */
  readonly address: string;
  readonly port: number;
  /** PID of smtpd's parent process. */
  readonly pid: number;
  /** The instance's temporary folder: smtpd.conf, spool, run, log. */
  readonly dir: string;
  readonly maildir: string;
  readonly configPath: string;
  /** Runs smtpctl against this smtpd, inside its mount namespace. */
  smtpctl(args: string[]): Promise<CommandResult>;
  /** smtpd's log so far: its stderr with -d, or the syslog messages of a daemon. */
  log(): string;
  /** Waits for a log line that matches `pattern` and returns it. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Whether smtpd's parent process still runs. */
  isRunning(): boolean;
  /**
   * Kills every process of the instance (smtpd's, queue-rest, delivery agents) as a crash of its
   * host would: none of them gets to react to the end of another. Waits for their end;
   * `stop()` still cleans up.
   */
  kill(): Promise<void>;
  maildirMessages(): MaildirMessage[];
}

// Runs inside `unshare --mount`: smtpd's spool and control socket are compiled-in paths
// (/var/spool/smtpd, /var/run/smtpd.sock), so each instance binds folders of its own there.
// For a daemon, /dev becomes a small tmpfs whose /dev/log leads to the harness's listener.
// smtpd looks up the name of every SMTP client with its bundled resolver, which would send a
// PTR query to the machine's nameserver: the instance's own resolv.conf keeps every lookup in
// /etc/hosts or on loopback.
const namespaceScript = `
set -e
spool=$1
run=$2
syslog=$3
resolv=$4
shift 4
mount --bind "$spool" /var/spool/smtpd
mount --bind "$run" /run
mount --bind "$resolv" /etc/resolv.conf
if [ -n "$syslog" ]; then
  mount -t tmpfs -o mode=755,size=1m smtpq-e2e-dev /dev
  mknod -m 666 /dev/null c 1 3
  mknod -m 666 /dev/zero c 1 5
  mknod -m 666 /dev/random c 1 8
  mknod -m 666 /dev/urandom c 1 9
  ln -s /proc/self/fd /dev/fd
  ln -s "$syslog" /dev/log
fi
exec "$@"
`;

/**
 * Starts Debian's smtpd with a configuration of its own, in a mount namespace of its own, and
 * waits until it listens. The instance is stopped by `stop()` or by `stopAllStarted()`.
 */
export async function startSmtpd(options: SmtpdOptions): Promise<SmtpdInstance> {
  const dir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-smtpd-'));
  // The test user delivers into the maildir below this folder.
  chmodSync(dir, 0o711);

  const spool = path.join(dir, 'spool');
  const run = path.join(dir, 'run');
  mkdirSync(spool, { mode: 0o711 });
  mkdirSync(run, { mode: 0o755 });
  chmodSync(spool, 0o711);

  // `lookup file` is OpenBSD resolv.conf syntax, read by smtpd's resolver and ignored by glibc.
  const resolvConf = path.join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'lookup file\nnameserver 127.0.0.1\n', { mode: 0o644 });

  const maildir = options.maildir ?? path.join(dir, 'maildir');
  if (!existsSync(maildir)) {
    mkdirSync(maildir, { recursive: true });
    const { uid, gid } = userIds(testUser);
    chownSync(maildir, uid, gid);
  }

  const address = options.listenAddress ?? '127.0.0.1';
  const port = options.listenPort ?? (await freePort(address));
  const configPath = path.join(dir, 'smtpd.conf');
  const configText = renderSmtpdConfig({
    listenPort: port,
    listenAddress: address,
    maildir,
    ...(options.relay === undefined ? {} : { relay: options.relay }),
    ...(options.extraConfig === undefined ? {} : { extraConfig: options.extraConfig }),
  });
  writeFileSync(configPath, configText, { mode: 0o644 });

  const syslog = options.daemon ? await startSyslogListener(path.join(dir, 'syslog.sock')) : null;
  const logPath = path.join(dir, 'smtpd.log');
  const smtpdArgs = smtpdArguments(options, configPath);

  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        namespaceScript,
        'smtpq-e2e-namespace',
        spool,
        run,
        syslog?.path ?? '',
        resolvConf,
        smtpdPath,
        ...smtpdArgs,
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
  } finally {
    closeSync(logFd);
  }
  const childExit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });

  const readLog = (): string => {
    const stderr = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
    return syslog === null ? stderr : `${stderr}${syslog.messages().join('\n')}\n`;
  };

  let startedPid: number | undefined;
  try {
    const smtpdPid = options.daemon
      ? await daemonPid(childExit, run, readLog)
      : (child.pid ?? failStart('smtpd did not start', readLog));
    startedPid = smtpdPid;
    await waitFor(
      `smtpd to listen on ${address}:${port}`,
      async () => {
        if (processState(smtpdPid) !== 'running') {
          failStart('smtpd exited before it listened', readLog);
        }
        return portAccepts(port, address);
      },
      { timeoutMs: options.startTimeoutMs ?? 30_000 },
    );
  } catch (error) {
    // A daemon that started but never listened runs on after its foreground process.
    const namespace = startedPid === undefined ? null : mountNamespace(startedPid);
    for (const started of [child.pid, startedPid]) {
      if (started !== undefined) {
        await terminateProcess(started, 5_000);
      }
    }
    if (namespace !== null) {
      for (const leftover of processesInNamespace(namespace)) {
        await terminateProcess(leftover, 5_000);
      }
    }
    await syslog?.close();
    throw error;
  }

  const pid = startedPid;
  const namespace = mountNamespace(pid);
  // An open handle keeps the namespace, and so its identifier, alive after its processes end:
  // the kernel would otherwise give the identifier to the next namespace, and the sweep in
  // stop() would kill another test's smtpd.
  const namespaceHandle = holdNamespace(pid);
  let stopped = false;

  const instance: SmtpdInstance = {
    name: `smtpd on ${address}:${port} (PID ${pid})`,
    address,
    port,
    pid,
    dir,
    maildir,
    configPath,
    smtpctl: (args) =>
      runCommand('nsenter', ['--target', String(pid), '--mount', '--', smtpctlPath, ...args]),
    log: readLog,
    waitForLog: (pattern, timeoutMs = 30_000) =>
      waitFor(
        `a line of smtpd's log that matches ${pattern}`,
        () =>
          readLog()
            .split('\n')
            .find((line) => pattern.test(line)),
        { timeoutMs },
      ),
    isRunning: () => processState(pid) === 'running',
    maildirMessages: () => readMaildir(maildir),
    kill: async () => {
      // Every process is stopped before any is killed: queue-rest would otherwise see smtpd's
      // end on its socket and release its lease in the moment before its own SIGKILL. A second
      // pass catches a process that smtpd forked while the first pass ran.
      for (let pass = 0; pass < 2; pass += 1) {
        const pids = namespace === null ? [pid] : [pid, ...processesInNamespace(namespace)];
        for (const target of pids) {
          signalProcess(target, 'SIGSTOP');
        }
        for (const target of pids) {
          signalProcess(target, 'SIGKILL');
        }
        for (const target of pids) {
          await waitProcessEnd(target, 5_000);
        }
      }
    },
    stop: async () => {
      if (stopped) {
        return;
      }
      stopped = true;
      untrack(instance);

      // smtpd's parent stops its processes, and the queue process closes queue-rest.
      await terminateProcess(pid, 15_000);
      if (!options.daemon) {
        await childExit;
      }

      // Whatever is left in the namespace (a hung backend or delivery agent) is killed by PID.
      if (namespace !== null) {
        for (const leftover of processesInNamespace(namespace)) {
          await terminateProcess(leftover, 5_000);
        }
      }
      await syslog?.close();
      if (namespaceHandle !== null) {
        closeSync(namespaceHandle);
      }

      if (process.env.SMTPQ_E2E_KEEP === undefined) {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  track(instance);
  return instance;
}

function smtpdArguments(options: SmtpdOptions, configPath: string): string[] {
  const args = options.daemon ? [] : ['-d'];
  if (options.verbose) {
    args.push('-v');
  }
  for (const subsystem of options.pause ?? []) {
    args.push('-P', subsystem);
  }
  args.push('-f', configPath);

  if (options.queue !== 'fs') {
    args.push('-B', `queue=rest:${options.queue.restArg}`);
  }
  return args;
}

/**
 * Waits for a daemon's start: the foreground process exits once smtpd has detached, and
 * Debian's smtpd writes its PID to /run/smtpd.pid, which is the instance's run folder.
 */
async function daemonPid(
  childExit: Promise<number | null>,
  run: string,
  readLog: () => string,
): Promise<number> {
  const code = await childExit;
  if (code !== 0) {
    failStart(`smtpd exited with status ${code} before it detached`, readLog);
  }

  const pidPath = path.join(run, 'smtpd.pid');
  try {
    return await waitFor(`smtpd to write ${pidPath}`, () => {
      if (!existsSync(pidPath)) {
        return undefined;
      }
      const pid = Number(readFileSync(pidPath, 'latin1').trim());
      return Number.isInteger(pid) && pid > 1 ? pid : undefined;
    });
  } catch (error) {
    // A daemon that exits after it detached writes no PID file, and its log shows why.
    failStart((error as Error).message, readLog);
  }
}

function failStart(reason: string, readLog: () => string): never {
  const tail = readLog().split('\n').slice(-40).join('\n');
  throw new Error(`${reason}; its log ends with:\n${tail}`);
}

function userIds(user: string): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
  }
  throw new Error(`user ${user} not found in /etc/passwd; call ensureSystemPackages() first`);
}

/** Waits until a stopped smtpd's PID has ended, for tests that kill smtpd themselves. */
export async function waitSmtpdEnd(instance: SmtpdInstance, timeoutMs = 15_000): Promise<boolean> {
  return waitProcessEnd(instance.pid, timeoutMs);
}

/** Opens a process's mount namespace, or returns null when the process is gone. */
function holdNamespace(pid: number): number | null {
  try {
    return openSync(`/proc/${pid}/ns/mnt`, 'r');
  } catch {
    return null;
  }
}
