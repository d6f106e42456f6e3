import { readdirSync, readFileSync } from 'node:fs';

/** Returns the peak resident set size (VmHWM) of a live process in KiB, or null. */
export function peakMemoryKiB(pid: number): number | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return match?.[1] === undefined ? null : Number(match[1]);
}

function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function hasAncestor(pid: number, ancestor: number): boolean {
  let current: number | null = pid;
  // smtpd's parent forks the queue process, which runs the launcher, which execs Node.
  for (let depth = 0; depth < 4 && current !== null && current > 1; depth++) {
    current = parentPid(current);
    if (current === ancestor) return true;
  }
  return false;
}

/**
 * Returns the PID of the queue-rest process below the smtpd whose parent process is
 * `smtpdPid`: a Node process running `.../dist/main.js` of a queue-rest install.
 */
export function findQueueRestPid(smtpdPid: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;

    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    const main = args[1] ?? '';
    if (main.endsWith('/dist/main.js') && hasAncestor(Number(entry), smtpdPid)) {
      return Number(entry);
    }
  }
  return null;
}

/**
 * Returns the share of the last 60 s, in percent, in which some task waited for `resource`
 * (`some avg60` of Linux pressure stall information), or null without PSI. It shows whether
 * other work on the machine competed with a run.
 */
export function pressureSome60(resource: 'cpu' | 'io'): number | null {
  try {
    const text = readFileSync(`/proc/pressure/${resource}`, 'latin1');
    const match = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(text);
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}
