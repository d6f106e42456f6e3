// Loaded into the fs frontend with `node --import` by the SMTP benchmark. It times every
// fsync and fdatasync, the durable part of each write, and writes the events at exit.
// Without PROBE_FILE_VARIABLE it does nothing.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { EventLog, epochNow, PROBE_FILE_VARIABLE, writeReportAtExit } from './event-log.js';

type SyncCall = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;

/** Replaces fs[name] (callback form, which the fs driver promisifies at load) by a timed one. */
function timeSyncCall(name: 'fsync' | 'fdatasync', syncs: EventLog): void {
  const original: SyncCall = fs[name];
  const timed: SyncCall = (fd, callback) => {
    const start = epochNow();
    original(fd, (error) => {
      syncs.add(name, start, epochNow() - start);
      callback(error);
    });
  };
  fs[name] = timed as typeof fs.fsync;
}

const outputPath = process.env[PROBE_FILE_VARIABLE];

if (outputPath !== undefined) {
  const syncs = new EventLog();
  timeSyncCall('fsync', syncs);
  timeSyncCall('fdatasync', syncs);
  // Modules that import node:fs as ESM see the replaced functions only after this.
  syncBuiltinESMExports();

  writeReportAtExit(outputPath, () => ({
    pid: process.pid,
    series: { syncs: syncs.toJSON() },
    problems: [],
  }));
}
