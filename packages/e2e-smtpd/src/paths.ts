import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the smtpq checkout; this file is packages/e2e-smtpd/{src,dist}/paths.*. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The built `smtpq` command line. */
export const smtpqCliPath = path.join(repoRoot, 'apps/smtpq/dist/cli.js');

/** The built queue-rest program that smtpd runs for `-B queue=rest:ARG`. */
export const queueRestMainPath = path.join(repoRoot, 'apps/queue-rest/dist/main.js');

/** The built installer module of `smtpq install-queue-rest`. */
export const installerModulePath = path.join(
  repoRoot,
  'apps/smtpq/dist/commands/install-queue-rest.js',
);

/** Debian's smtpd and smtpctl, and the folder where smtpd looks for queue backends. */
export const smtpdPath = '/usr/sbin/smtpd';
export const smtpctlPath = '/usr/sbin/smtpctl';
export const debianLibexecDir = '/usr/libexec/opensmtpd';

/** The built fs frontend with throttled blob reads and writes, for tests of slow storage. */
export const throttledFrontendPath = path.join(
  repoRoot,
  'packages/e2e-smtpd/dist/throttled-frontend.js',
);

/** The built S3 frontend with the attempts of each S3 request set by the environment. */
export const s3FrontendPath = path.join(repoRoot, 'packages/e2e-smtpd/dist/s3-frontend.js');
