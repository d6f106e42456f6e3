import { fstatSync, statSync } from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { allocNative, LOG_MAIL, LOG_NDELAY, LOG_PID, openlog, syslog } from './libc.js';

export type { Logger };

const SYSLOG_IDENT = 'queue-rest';

/** syslog(3) priorities of pino's level labels. */
const SYSLOG_PRIORITY: Record<string, number> = {
  fatal: 2, // LOG_CRIT
  error: 3, // LOG_ERR
  warn: 4, // LOG_WARNING
  info: 6, // LOG_INFO
  debug: 7, // LOG_DEBUG
  trace: 7,
};

/**
 * Returns whether fd 2 is open on something other than /dev/null. smtpd without `-d`
 * detaches with daemon(0, 0), which points fds 0 to 2 at /dev/null, so the log must then go
 * to syslog.
 */
export function stderrIsUsable(): boolean {
  let stderr: ReturnType<typeof fstatSync>;
  try {
    stderr = fstatSync(2);
  } catch {
    return false;
  }

  try {
    const devNull = statSync('/dev/null');
    if (stderr.isCharacterDevice() && stderr.rdev === devNull.rdev) return false;
  } catch {
    // Without a /dev/null to compare with, an open fd 2 is taken as usable.
  }
  return true;
}

/** Sends each log line to syslog, facility mail, with the priority of its level. */
function syslogDestination(): DestinationStream {
  // openlog keeps the ident pointer, so it must live as long as the process.
  const ident = allocNative(SYSLOG_IDENT.length + 1);
  ident.bytes.write(SYSLOG_IDENT, 'latin1');
  openlog(ident.pointer, LOG_PID | LOG_NDELAY, LOG_MAIL);

  return {
    write(line: string) {
      const level = /"level":"([a-z]+)"/.exec(line)?.[1] ?? 'info';
      syslog(SYSLOG_PRIORITY[level] ?? 6, '%s', 'str', line.trimEnd());
    },
  };
}

/**
 * Creates the logger: JSON lines to stderr when fd 2 is usable, else to syslog. Writes are
 * synchronous, so that the last lines are out before the process exits.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const stream =
    destination ??
    (stderrIsUsable() ? pino.destination({ fd: 2, sync: true }) : syslogDestination());

  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
