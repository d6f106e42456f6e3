import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export interface DiskLimit {
  /** Synchronous write of 4 KiB + fsync + rename + fsync of the folder, per second. */
  renamesPerSecond: number;
  /** Synchronous append of 512 bytes + fdatasync, per second. */
  appendsPerSecond: number;
}

const RECORD = Buffer.alloc(4096, 0x61);
const LOG_ENTRY = Buffer.alloc(512, 0x62);

/**
 * Measures the durable writes per second of the disk under `dir`, one at a time from one
 * thread: the machine's own limit for the durability the fs store gives, with no server.
 */
export function measureDiskLimit(dir: string, seconds: number): DiskLimit {
  const folder = join(dir, 'disk-limit');
  mkdirSync(folder, { recursive: true });
  try {
    return {
      renamesPerSecond: durableRenames(folder, seconds / 2),
      appendsPerSecond: durableAppends(folder, seconds / 2),
    };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function durableRenames(folder: string, seconds: number): number {
  const folderFd = openSync(folder, 'r');
  const start = performance.now();
  let count = 0;
  try {
    while (performance.now() - start < seconds * 1000) {
      const temporary = join(folder, `tmp-${count}`);
      const fd = openSync(temporary, 'wx');
      writeSync(fd, RECORD);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(temporary, join(folder, `record-${count}`));
      fsyncSync(folderFd);
      count += 1;
    }
  } finally {
    closeSync(folderFd);
  }
  return (count * 1000) / (performance.now() - start);
}

function durableAppends(folder: string, seconds: number): number {
  const fd = openSync(join(folder, 'log'), 'a');
  const start = performance.now();
  let count = 0;
  try {
    while (performance.now() - start < seconds * 1000) {
      writeSync(fd, LOG_ENTRY);
      fdatasyncSync(fd);
      count += 1;
    }
  } finally {
    closeSync(fd);
  }
  return (count * 1000) / (performance.now() - start);
}
