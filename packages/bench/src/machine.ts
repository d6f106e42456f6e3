import { readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';

export interface MachineFacts {
  cpus: number;
  memoryBytes: number;
  kernel: string;
  node: string;
  /** Device, file system and mount options of the folder the stores are in. */
  disk: string;
  /** One-minute load average when the facts were read. */
  load: number;
}

/** Returns the mount (device, type, options) that holds `path`, from /proc/self/mountinfo. */
function mountOf(path: string): string {
  const device = statSync(path).dev;
  const major = Math.floor(device / 256) & 0xfff;
  const minor = (device & 0xff) | ((Math.floor(device / 2 ** 12) & 0xfff00) >>> 0);
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields[2] !== `${major}:${minor}`) continue;
      const separator = fields.indexOf('-');
      const type = fields[separator + 1];
      const source = fields[separator + 2];
      return `${source} (${type}, ${fields[5]})`;
    }
  } catch {
    // Not Linux: the device number is all there is.
  }
  return `device ${major}:${minor}`;
}

export function machineFacts(storeDir: string): MachineFacts {
  return {
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    disk: mountOf(storeDir),
    load: loadavg()[0] ?? 0,
  };
}
