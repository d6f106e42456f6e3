import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';

/** Set in the environment of the benchmark once it runs inside its own mount namespace. */
const INSIDE_VARIABLE = 'SMTPQ_BENCH_RESOLVER_NAMESPACE';

/**
 * resolv.conf seen by smtpd. smtpd looks up the name of every SMTP client (a PTR query for
 * 127.0.0.1) with its bundled libasr, which queries the nameserver of /etc/resolv.conf before
 * /etc/hosts. `lookup file` makes libasr read /etc/hosts only (OpenBSD resolv.conf syntax,
 * which glibc ignores), and the nameserver line keeps any query that is still made on
 * loopback.
 */
const RESOLV_CONF = 'lookup file\nnameserver 127.0.0.1\n';

// Runs inside `unshare --mount`: the bind mount is seen by this process and its children
// only, and the harness's own namespace for each smtpd starts as a copy of this one.
const namespaceScript = `
set -e
mount --bind "$1" /etc/resolv.conf
shift
exec "$@"
`;

/** Returns whether this process already runs inside the benchmark's mount namespace. */
export function insideResolverNamespace(): boolean {
  return process.env[INSIDE_VARIABLE] === '1';
}

/**
 * Runs this program again in a mount namespace of its own where /etc/resolv.conf sends
 * smtpd's lookups to /etc/hosts, so that no DNS query leaves loopback. Returns the exit
 * status of that run. Ctrl-C reaches both processes; the inner one stops what it started.
 */
export async function rerunInResolverNamespace(): Promise<number> {
  // smtpd's lookup process reads the file after it drops root, so every user may read it.
  const folder = mkdtempSync(path.join(tmpdir(), 'smtpq-bench-resolver-'));
  chmodSync(folder, 0o755);
  const resolvConf = path.join(folder, 'resolv.conf');
  writeFileSync(resolvConf, RESOLV_CONF, { mode: 0o644 });

  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      namespaceScript,
      'smtpq-bench-namespace',
      resolvConf,
      process.execPath,
      ...process.execArgv,
      process.argv[1]!,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, [INSIDE_VARIABLE]: '1' } },
  );

  // The terminal sends SIGINT to both processes; this one waits for the inner run's cleanup.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  const forward = () => child.kill('SIGTERM');
  process.on('SIGTERM', forward);

  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal]));
      });
    });
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', forward);
    rmSync(folder, { recursive: true, force: true });
  }
}
