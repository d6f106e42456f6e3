import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Something the harness started and must stop in an after hook. */
export interface Stoppable {
  readonly name: string;
  stop(): Promise<void>;
}

const started = new Set<Stoppable>();

/** Records a started process or server so that `stopAllStarted` stops it. */
export function track(item: Stoppable): void {
  started.add(item);
}

/** Forgets an item that stopped on its own request. */
export function untrack(item: Stoppable): void {
  started.delete(item);
}

/**
 * Stops everything the harness started in this test file, the latest first, and throws one
 * error naming each item that failed to stop.
 */
export async function stopAllStarted(): Promise<void> {
  const items = [...started].reverse();
  const failures: Error[] = [];

  for (const item of items) {
    try {
      await item.stop();
    } catch (error) {
      failures.push(new Error(`failed to stop ${item.name}`, { cause: error }));
    }
    started.delete(item);
  }

  if (failures.length > 0) {
    throw new AggregateError(failures, `${failures.length} started items failed to stop`);
  }
}

export type ProcessState = 'running' | 'zombie' | 'gone';

/** Reads a process state from /proc: a zombie has ended but was not reaped by its parent. */
export function processState(pid: number): ProcessState {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 'gone';
  }

  // The command name in parentheses may contain spaces; the state follows its last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X' ? 'zombie' : 'running';
}

/** Returns the parent PID of a process, or null when it is gone. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return null;
  }
}

/** Returns the command name of a process (`/proc/PID/comm`), or null when it is gone. */
export function processName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return null;
  }
}

/** Returns the arguments of a process, or null when it is gone. */
export function processArguments(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return raw.split('\0').slice(0, -1);
  } catch {
    return null;
  }
}

/** Returns the mount namespace of a process, as `mnt:[inode]`, or null when it is gone. */
export function mountNamespace(pid: number | 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return null;
  }
}

/** Lists the PIDs of every live process in a mount namespace. */
export function processesInNamespace(namespace: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const pid = Number(entry);
    if (mountNamespace(pid) === namespace && processState(pid) === 'running') {
      pids.push(pid);
    }
  }
  return pids;
}

/** Lists the PIDs of the live children of a process. */
export function childProcesses(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && parentPid(Number(entry)) === pid) {
      if (processState(Number(entry)) === 'running') {
        children.push(Number(entry));
      }
    }
  }
  return children;
}

/** Waits until a process has ended; returns false if it still runs after `timeoutMs`. */
export async function waitProcessEnd(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processState(pid) === 'running') {
    if (Date.now() >= deadline) {
      return false;
    }
    await sleep(50);
  }
  return true;
}

/** Sends `signal` to a process; a process that is already gone is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/**
 * Stops a process by PID: SIGTERM, then SIGKILL when it still runs after `graceMs`.
 * Returns whether it ended on SIGTERM.
 */
export async function terminateProcess(pid: number, graceMs = 10_000): Promise<boolean> {
  signalProcess(pid, 'SIGTERM');
  if (await waitProcessEnd(pid, graceMs)) {
    return true;
  }

  signalProcess(pid, 'SIGKILL');
  await waitProcessEnd(pid, 5_000);
  return false;
}
