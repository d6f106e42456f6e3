import { fixed, table } from './format.js';
import type { MachineFacts } from './machine.js';
import type { StoreName } from './options.js';
import { fsRows } from './report-fs.js';
import { CALL_NOUNS, targetRows } from './report-target.js';
import type { FsResults } from './stores/fs.js';
import type { TargetResults } from './stores/run-target.js';

export interface BenchResults {
  command: string;
  startedAt: string;
  /** Seconds from the start of the run to its end. */
  runSeconds: number;
  machine: MachineFacts;
  /** One-minute load average at the end of the run. */
  loadAtEnd: number;
  /** The fs figures, or null when the fs store was not selected. */
  fs: FsResults | null;
  /** The figures of the stores on local test servers, in the order they ran. */
  targets: TargetResults[];
  /** Stores whose run failed, with the error. */
  failures: Array<{ store: StoreName; error: string }>;
}

const MiB = 1024 * 1024;

/** Returns the results as text: the run and machine, then a table of figures per store. */
export function formatReport(results: BenchResults): string {
  const { machine } = results;
  const lines = [
    `command: ${results.command}`,
    `started: ${results.startedAt}, ran ${fixed(results.runSeconds / 60, 1)} minutes`,
    `machine: ${machine.cpus} CPUs, ${fixed(machine.memoryBytes / 1024 / MiB, 1)} GiB memory, ` +
      `disk ${machine.disk}, kernel ${machine.kernel}, Node ${machine.node}`,
    `load average (1 min): ${fixed(machine.load, 2)} at the start, ` +
      `${fixed(results.loadAtEnd, 2)} at the end`,
  ];

  if (results.fs !== null) {
    lines.push('', 'fs: smtpq serve on a folder of the disk above', ...table(fsRows(results.fs)));
  }
  for (const target of results.targets) {
    lines.push('', `${target.store}: smtpq serve on ${target.server}`, `NOTE: ${target.caveat}.`);
    if (target.callsPerCommit !== null) {
      lines.push(`${CALL_NOUNS[target.store]}: ${target.callsPerCommit.method}.`);
    }
    lines.push(...table(targetRows(target)));
  }
  for (const failure of results.failures) {
    lines.push('', `${failure.store}: FAILED: ${failure.error}`);
  }
  return `${lines.join('\n')}\n`;
}
