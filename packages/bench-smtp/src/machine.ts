import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { runCommand } from '@smtpq/e2e-smtpd';

/** Facts of the machine that the figures of a benchmark depend on, beside the code. */
export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** Device, file system, size and rotational flag of the disk with spool and store. */
  disk: string;
  kernel: string;
  node: string;
  smtpd: string;
}

/** Describes the block device behind the temporary folder, where spool and store live. */
async function describeDisk(): Promise<string> {
  const df = await runCommand('df', ['-PT', tmpdir()]);
  const fields = df.stdout.trim().split('\n').at(-1)?.split(/\s+/) ?? [];
  const device = fields[0] ?? 'unknown';
  const fileSystem = fields[1] ?? 'unknown';
  const sizeGiB = Math.round(Number(fields[2] ?? 0) / 1024 / 1024);

  // The flag as the kernel reports it. A virtual disk often reports 1 whatever backs it.
  let rotational = 'unknown';
  const name = path.basename(device).replace(/\d+$/, '');
  try {
    rotational = readFileSync(`/sys/block/${name}/queue/rotational`, 'latin1').trim();
  } catch {
    // A device without a /sys/block entry (an overlay, a partition name) stays "unknown".
  }
  return `${device} ${fileSystem} ${sizeGiB} GiB (sysfs rotational ${rotational})`;
}

/** Returns smtpd's version line, `OpenSMTPD 6.8.0p2` on Debian 12. */
async function smtpdVersion(): Promise<string> {
  const help = await runCommand('/usr/sbin/smtpd', ['-h']);
  const match = /version: (.+)/.exec(`${help.stdout}${help.stderr}`);
  return match?.[1]?.trim() ?? 'unknown';
}

export async function readMachineFacts(): Promise<MachineFacts> {
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    disk: await describeDisk(),
    kernel: release(),
    node: process.version,
    smtpd: await smtpdVersion(),
  };
}
