import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  mountNamespace,
  parentPid,
  processArguments,
  processName,
  terminateProcess,
} from './processes.js';

/** The system user that receives the test domain's mail in its maildir. */
export const testUser = 'smtpq-e2e';

/** Root-only folder of the harness: its lock files and the stamp of the installed queue-rest. */
export const harnessStateDir = '/var/lib/smtpq-e2e';
const setupLockPath = `${harnessStateDir}/setup.lock`;

// Runs under flock, so several test files can call it at once. apt-get waits for the dpkg lock
// of another apt-get. The debconf answers keep the install from asking for the mail name.
const setupScript = `
set -eu
missing=''
[ -x /usr/sbin/smtpd ] || missing="$missing opensmtpd"
command -v swaks >/dev/null 2>&1 || missing="$missing swaks"
if [ -n "$missing" ]; then
  printf '%s\\n' 'opensmtpd opensmtpd/mailname string localhost' \\
    'opensmtpd opensmtpd/root_address string' | debconf-set-selections
  for attempt in 1 2 3 4 5 6; do
    apt-get -q -o DPkg::Lock::Timeout=600 update && break
    sleep 10
  done
  apt-get install -y -q -o DPkg::Lock::Timeout=600 $missing
fi
id -u ${testUser} >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \\
  --shell /usr/sbin/nologin ${testUser}
# The mount point of each instance's spool, with the mode smtpd requires of its spool.
[ -d /var/spool/smtpd ] || mkdir -m 711 /var/spool/smtpd
`;

/**
 * Installs Debian's opensmtpd and swaks when missing, creates the test user, and stops the
 * smtpd that the package started so that it holds no port and no spool of its own.
 * Idempotent; safe to call from several test files at once.
 */
export async function ensureSystemPackages(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('the OpenSMTPD tests must run as root: they install packages and run smtpd');
  }

  mkdirSync(harnessStateDir, { recursive: true, mode: 0o700 });
  chownSync(harnessStateDir, 0, 0);
  chmodSync(harnessStateDir, 0o700);
  await runSetupScript();

  await stopPackageSmtpd();
}

async function runSetupScript(): Promise<void> {
  const child = spawn('flock', [setupLockPath, 'sh', '-c', setupScript], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', DEBCONF_NONINTERACTIVE_SEEN: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) {
    const text = Buffer.concat(output).toString('utf8').slice(-4000);
    throw new Error(`installing opensmtpd and swaks failed with exit status ${code}:\n${text}`);
  }
}

/**
 * Stops, by PID, the smtpd that Debian's package starts with /etc/smtpd.conf: the one in
 * /run/smtpd.pid, and any such smtpd that listens on port 25. An smtpd started with another
 * configuration belongs to someone else and is left alone.
 */
export async function stopPackageSmtpd(): Promise<void> {
  const candidates = new Set<number>();

  const pidFromFile = readPidFile('/run/smtpd.pid');
  if (pidFromFile !== null) {
    candidates.add(pidFromFile);
  }
  for (const pid of processesListeningOnPort(25)) {
    candidates.add(rootSmtpd(pid));
  }

  for (const pid of candidates) {
    if (isPackageSmtpd(pid)) {
      await terminateProcess(pid);
    }
  }
}

function readPidFile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'latin1').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function isPackageSmtpd(pid: number): boolean {
  if (processName(pid) !== 'smtpd' || mountNamespace(pid) !== mountNamespace('self')) {
    return false;
  }

  const args = processArguments(pid) ?? [];
  const configIndex = args.indexOf('-f');
  return configIndex === -1 || args[configIndex + 1] === '/etc/smtpd.conf';
}

/** Follows the parents of an smtpd process up to smtpd's parent process. */
function rootSmtpd(pid: number): number {
  let current = pid;
  for (;;) {
    const parent = parentPid(current);
    if (parent === null || parent <= 1 || processName(parent) !== 'smtpd') {
      return current;
    }
    current = parent;
  }
}

/** Lists PIDs holding a TCP socket that listens on `port`, from /proc/net and /proc/PID/fd. */
function processesListeningOnPort(port: number): number[] {
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');

  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[];
    try {
      lines = readFileSync(table, 'latin1').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1] ?? '';
      const listening = fields[3] === '0A';
      if (listening && local.endsWith(`:${portHex}`) && fields[9] !== undefined) {
        inodes.add(fields[9]);
      }
    }
  }
  if (inodes.size === 0) {
    return [];
  }

  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    const holdsSocket = fds.some((fd) => {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        return target.startsWith('socket:[') && inodes.has(target.slice('socket:['.length, -1));
      } catch {
        return false;
      }
    });
    if (holdsSocket) {
      pids.push(Number(entry));
    }
  }
  return pids;
}
