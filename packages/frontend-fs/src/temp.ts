import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type FsIo, hasCode } from './fs-io.js';

/*
 * Every write starts in the store's tmp/ folder, under a name that says which process owns it:
 * `<host tag>-<pid>-<process token>-<counter>`. When a driver opens, it removes the entries
 * whose owner is gone, so that a crash leaves nothing behind. It keeps the entries of
 * processes that still run, such as another frontend on the same folder.
 */

/** Age in ms after which a temporary entry is removed even if its owner may still run. */
export const STALE_TEMP_AGE_MS = 60 * 60 * 1000;

const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
/** Tells this process from an earlier one that had the same pid (before a reboot). */
const PROCESS_TOKEN = randomBytes(4).toString('hex');
const TEMP_NAME = /^([0-9a-f]{8})-([0-9]+)-([0-9a-f]{8})-[0-9a-z]+$/;

let counter = 0;

/** Returns a name for a new entry in tmp/, unique among all processes on the folder. */
export function tempName(): string {
  counter += 1;
  return `${HOST_TAG}-${process.pid}-${PROCESS_TOKEN}-${counter.toString(36)}`;
}

/**
 * Returns true when the process that created a temporary entry no longer runs, false when it
 * does, and null when this process cannot tell (another host, or a name of unknown form).
 */
function isOwnerGone(name: string): boolean | null {
  const match = TEMP_NAME.exec(name);
  if (match === null || match[1] !== HOST_TAG) return null;

  const pid = Number(match[2]);
  if (pid === process.pid) return match[3] !== PROCESS_TOKEN;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as { code?: string }).code !== 'EPERM';
  }
}

/**
 * Removes the temporary entries left by processes that no longer run, and those older than
 * STALE_TEMP_AGE_MS. Returns how many it removed.
 */
export async function removeStaleTemps(io: FsIo, tmpFolder: string, nowMs: number) {
  let removed = 0;
  for (const name of (await io.readdirIfPresent(tmpFolder)) ?? []) {
    const path = join(tmpFolder, name);

    let stale = isOwnerGone(name) === true;
    if (!stale) {
      try {
        stale = (await io.stat(path)).mtimeMs < nowMs - STALE_TEMP_AGE_MS;
      } catch (error) {
        if (hasCode(error, 'ENOENT')) continue;
        throw error;
      }
    }

    if (stale) {
      await io.removeTree(path);
      removed += 1;
    }
  }
  return removed;
}
