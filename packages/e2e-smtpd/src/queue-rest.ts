import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { debianLibexecDir, installerModulePath, queueRestMainPath, repoRoot } from './paths.js';
import { harnessStateDir } from './system.js';

/** Result of `installQueueRest` in apps/smtpq/src/commands/install-queue-rest.ts. */
export interface InstalledQueueRest {
  launcherPath: string;
  releaseDir: string;
  nodePath: string;
  packages: string[];
}

export interface InstallOptions {
  libexecDir?: string;
  installDir?: string;
  sourceDir?: string;
  nodePath?: string;
}

interface InstallerModule {
  installQueueRest(options: InstallOptions): Promise<InstalledQueueRest>;
  acquireLockFile(lockPath: string, timeoutMs?: number): Promise<() => void>;
}

async function loadInstaller(): Promise<InstallerModule> {
  if (!existsSync(installerModulePath)) {
    throw new Error(`${installerModulePath} is missing: run \`pnpm build\` first`);
  }
  return (await import(pathToFileURL(installerModulePath).href)) as InstallerModule;
}

/** Returns whether apps/queue-rest is built, so that it can be installed. */
export function queueRestBuilt(): boolean {
  return existsSync(queueRestMainPath);
}

/**
 * Installs the built queue-rest with the code of `smtpq install-queue-rest`, imported from
 * the built apps/smtpq. `libexecDir` is smtpd's PATH_LIBEXEC, Debian's by default.
 */
export async function installQueueRest(
  libexecDir: string = debianLibexecDir,
  options: Omit<InstallOptions, 'libexecDir'> = {},
): Promise<InstalledQueueRest> {
  const installer = await loadInstaller();
  return installer.installQueueRest({ ...options, libexecDir });
}

/**
 * Installs the built queue-rest into Debian's libexec folder unless this very build is
 * installed there already. Test files call it at the same time. A reinstall removes the
 * previous release, which another file's smtpd may be starting, so only the first call of a
 * build installs.
 */
export async function ensureQueueRestInstalled(): Promise<void> {
  if (!queueRestBuilt()) {
    throw new Error(`${queueRestMainPath} is missing: run \`pnpm build\` first`);
  }

  const stampPath = path.join(harnessStateDir, 'queue-rest.stamp');
  const installer = await loadInstaller();
  const unlock = await installer.acquireLockFile(
    path.join(harnessStateDir, 'install.lock'),
    300_000,
  );
  try {
    const stamp = buildStamp();
    const launcher = path.join(debianLibexecDir, 'queue-rest');
    const installed = existsSync(stampPath) ? readFileSync(stampPath, 'utf8') : '';
    if (installed === stamp && launcherTargetExists(launcher)) {
      return;
    }

    await installer.installQueueRest({ libexecDir: debianLibexecDir });
    writeFileSync(stampPath, stamp, { mode: 0o600 });
  } finally {
    unlock();
  }
}

/** Returns a digest of every file the install copies from this checkout and of the Node path. */
function buildStamp(): string {
  const hash = createHash('sha256');
  hash.update(process.execPath);
  for (const dir of [
    'apps/queue-rest/dist',
    'packages/protocol/dist',
    'apps/smtpq/dist/commands',
  ]) {
    for (const file of listFiles(path.join(repoRoot, dir))) {
      hash.update(file);
      hash.update(readFileSync(file));
    }
  }
  return hash.digest('hex');
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) {
    return [];
  }
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const entryPath = path.join(dir, entry);
    if (statSync(entryPath).isDirectory()) {
      files.push(...listFiles(entryPath));
    } else {
      files.push(entryPath);
    }
  }
  return files;
}

/** Whether the launcher exists and the main.js it runs is still there. */
function launcherTargetExists(launcher: string): boolean {
  if (!existsSync(launcher)) {
    return false;
  }
  const match = /'([^']+\/dist\/main\.js)'/.exec(readFileSync(launcher, 'utf8'));
  return match?.[1] !== undefined && existsSync(match[1]);
}
