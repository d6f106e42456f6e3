import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from './command.js';
import { smtpctlPath, smtpqCliPath } from './paths.js';
import type { SmtpdInstance } from './smtpd.js';

/** Runs the built `smtpq` command line to its end. */
export function runSmtpq(args: string[], options: { timeoutMs?: number } = {}) {
  return runCommand(process.execPath, [smtpqCliPath, ...args], options);
}

/**
 * Writes a script that runs smtpctl inside the mount namespace of `instance`, where its
 * control socket is, and returns its path: the `--smtpctl` of `smtpq discover` for that smtpd.
 */
export function writeSmtpctlWrapper(instance: SmtpdInstance): string {
  const wrapper = path.join(instance.dir, 'smtpctl');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec nsenter --target ${instance.pid} --mount -- ${smtpctlPath} "$@"\n`,
    { mode: 0o755 },
  );
  return wrapper;
}
