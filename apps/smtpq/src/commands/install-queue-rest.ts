import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** Folder where Debian's smtpd looks for `queue-NAME` programs (PATH_LIBEXEC of its build). */
export const DEFAULT_LIBEXEC_DIR = '/usr/libexec/opensmtpd';

/** Folder of the self-contained copy of queue-rest and its modules. */
export const DEFAULT_INSTALL_DIR = '/usr/local/lib/smtpq/queue-rest';

export interface InstallQueueRestOptions {
  /** Folder where smtpd looks for queue backends; the launcher `queue-rest` goes there. */
  libexecDir?: string;
  /** Folder that receives the copy of queue-rest with its own node_modules. */
  installDir?: string;
  /** The built @smtpq/queue-rest package to copy; found next to this program when absent. */
  sourceDir?: string;
  /** Node binary that the launcher names; the running one when absent. */
  nodePath?: string;
}

export interface InstallQueueRestResult {
  launcherPath: string;
  /** The folder of this install, under the install folder. */
  releaseDir: string;
  nodePath: string;
  /** Every package copied, as `name@version`. */
  packages: string[];
}

/** Error that rejects the install. Its message names the path and what to change. */
export class InstallQueueRestError extends Error {
  override readonly name = 'InstallQueueRestError';
}

/**
 * Installs queue-rest for smtpd: copies the built program and every module it loads into a
 * root-owned folder, then writes the launcher `LIBEXEC/queue-rest`, a shell script that runs
 * Node by absolute path. smtpd runs the launcher as root with a minimal PATH, so every file it
 * reaches must be root's and not writable by group or others. A new install replaces the
 * launcher atomically and removes the previous copy.
 */
export async function installQueueRest(
  options: InstallQueueRestOptions = {},
): Promise<InstallQueueRestResult> {
  if (process.getuid?.() !== 0) {
    throw new InstallQueueRestError(
      'install-queue-rest must run as root: smtpd runs queue-rest as root, so its files must ' +
        "be root's",
    );
  }

  const libexecDir = path.resolve(options.libexecDir ?? DEFAULT_LIBEXEC_DIR);
  const installDir = path.resolve(options.installDir ?? DEFAULT_INSTALL_DIR);
  const sourceOption = options.sourceDir ?? findQueueRestPackage();
  if (!existsSync(path.join(sourceOption, 'package.json'))) {
    throw new InstallQueueRestError(
      `${sourceOption} is not a package folder: pass --source with the folder of the built ` +
        '@smtpq/queue-rest package (the one that contains package.json and dist/)',
    );
  }
  const sourceDir = realpathSync(sourceOption);
  const nodePath = realpathSync(options.nodePath ?? process.execPath);

  const mainPath = path.join(sourceDir, 'dist', 'main.js');
  if (!existsSync(mainPath)) {
    throw new InstallQueueRestError(
      `queue-rest is not built: ${mainPath} is missing; run \`pnpm build\` first`,
    );
  }
  if (!existsSync(libexecDir)) {
    throw new InstallQueueRestError(
      `${libexecDir} does not exist: install Debian's opensmtpd package, or pass --libexec ` +
        "with smtpd's PATH_LIBEXEC",
    );
  }
  checkSecurePath(libexecDir, 'the libexec folder');
  checkSecurePath(nodePath, 'the Node binary');

  mkdirSync(installDir, { recursive: true, mode: 0o755 });
  checkSecurePath(installDir, 'the install folder');

  const unlock = await acquireLockFile(path.join(installDir, '.install.lock'));
  try {
    const packages = collectPackages(sourceDir);
    const releaseDir = copyRelease(installDir, packages);
    const launcherPath = writeLauncher(libexecDir, nodePath, path.join(releaseDir, 'dist/main.js'));
    removeOtherReleases(installDir, releaseDir);

    return {
      launcherPath,
      releaseDir,
      nodePath,
      packages: packages.slice(1).map((item) => `${item.name}@${item.version}`),
    };
  } finally {
    unlock();
  }
}

/** Adds `smtpq install-queue-rest` to the command line. */
export function registerInstallQueueRest(program: Command): void {
  program
    .command('install-queue-rest')
    .description(
      'Install queue-rest where smtpd looks for queue backends, as a root-owned copy with its ' +
        'own modules. Run as root.',
    )
    .option(
      '--libexec <dir>',
      "folder where smtpd looks for queue-NAME programs (smtpd's PATH_LIBEXEC)",
      DEFAULT_LIBEXEC_DIR,
    )
    .option(
      '--install-dir <dir>',
      'folder that receives the copy of queue-rest and its modules',
      DEFAULT_INSTALL_DIR,
    )
    .option(
      '--source <dir>',
      'built @smtpq/queue-rest package to copy (default: found next to smtpq)',
    )
    .action(async (flags: { libexec: string; installDir: string; source?: string }, command) => {
      try {
        const result = await installQueueRest({
          libexecDir: flags.libexec,
          installDir: flags.installDir,
          ...(flags.source === undefined ? {} : { sourceDir: flags.source }),
        });
        console.log(`installed ${result.launcherPath}`);
        console.log(`  runs ${result.nodePath} ${path.join(result.releaseDir, 'dist/main.js')}`);
        console.log(`  with ${result.packages.join(', ')}`);
        console.log('start smtpd with: smtpd -B queue=rest:URL (or a JSON config path)');
      } catch (error) {
        if (error instanceof InstallQueueRestError) {
          (command as Command).error(`error: ${error.message}`, { exitCode: 1 });
        }
        throw error;
      }
    });
}

/** One package of the copy: the program itself first, then the modules it loads. */
interface PackageToCopy {
  name: string;
  version: string;
  /** Real folder of the package in this checkout or installation. */
  sourceDir: string;
  /** Folder relative to the release: `` for the program, `node_modules/NAME` for modules. */
  targetDir: string;
  /** Whether the package is a workspace folder, copied by its `files` list. */
  workspace: boolean;
}

interface PackageJson {
  name?: string;
  version?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Finds the @smtpq/queue-rest package from this module: installed beside it, or in the checkout. */
function findQueueRestPackage(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const installed = findPackageDir(here, '@smtpq/queue-rest');
  if (installed !== null) {
    return installed;
  }

  // In the smtpq checkout this file is apps/smtpq/dist/commands/install-queue-rest.js.
  const checkout = path.resolve(here, '../../../queue-rest');
  if (existsSync(path.join(checkout, 'package.json'))) {
    return checkout;
  }
  throw new InstallQueueRestError(
    'cannot find the @smtpq/queue-rest package next to smtpq; pass --source with its folder',
  );
}

/** Resolves a package folder the way Node does: node_modules of each parent folder in turn. */
function findPackageDir(fromDir: string, name: string): string | null {
  let dir = fromDir;
  for (;;) {
    if (path.basename(dir) !== 'node_modules') {
      const candidate = path.join(dir, 'node_modules', name);
      if (existsSync(path.join(candidate, 'package.json'))) {
        return realpathSync(candidate);
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      return null;
    }
    dir = parent;
  }
}

/**
 * Lists the program and every package it loads, with a place for each in the copy. A package
 * goes to the top node_modules unless another version uses that name there, then under the
 * package that needs it, as npm lays out node_modules.
 */
function collectPackages(sourceDir: string): PackageToCopy[] {
  const root = readPackageJson(sourceDir);
  const items: PackageToCopy[] = [
    {
      name: root.name ?? '@smtpq/queue-rest',
      version: root.version ?? '0.0.0',
      sourceDir,
      targetDir: '',
      workspace: true,
    },
  ];
  const placed = new Map<string, string>();

  for (let index = 0; index < items.length; index += 1) {
    const item = items[index]!;
    const manifest = readPackageJson(item.sourceDir);
    const required = Object.keys(manifest.dependencies ?? {});
    const optional = Object.keys(manifest.optionalDependencies ?? {});

    for (const name of [...required, ...optional]) {
      const dependencyDir = findPackageDir(item.sourceDir, name);
      if (dependencyDir === null) {
        if (optional.includes(name)) {
          // An optional dependency for another platform (a prebuilt binary) is not installed.
          continue;
        }
        throw new InstallQueueRestError(
          `cannot find ${name}, a dependency of ${item.name}; run \`pnpm install\` first`,
        );
      }

      const chain = resolutionChain(item.targetDir, name);
      const nearestPlaced = chain.find((candidate) => placed.has(candidate));
      if (nearestPlaced !== undefined && placed.get(nearestPlaced) === dependencyDir) {
        continue;
      }

      const targetDir = nearestPlaced === undefined ? chain.at(-1)! : chain[0]!;
      const dependency = readPackageJson(dependencyDir);
      placed.set(targetDir, dependencyDir);
      items.push({
        name,
        version: dependency.version ?? '0.0.0',
        sourceDir: dependencyDir,
        targetDir,
        workspace: !dependencyDir.split(path.sep).includes('node_modules'),
      });
    }
  }

  checkResolution(items, placed);
  return items;
}

/** Returns the folders where Node looks for `name` from a package at `fromDir`, nearest first. */
function resolutionChain(fromDir: string, name: string): string[] {
  const chain: string[] = [];
  let dir = fromDir;
  for (;;) {
    chain.push(path.join(dir, 'node_modules', name));
    if (dir === '') {
      return chain;
    }
    // Leave `node_modules/NAME` (or `node_modules/@scope/NAME`) for the folder above it.
    const segments = dir.split(path.sep);
    const modulesIndex = segments.lastIndexOf('node_modules');
    dir = segments.slice(0, modulesIndex).join(path.sep);
  }
}

/** Checks that every dependency resolves to the version its package was built with. */
function checkResolution(items: PackageToCopy[], placed: Map<string, string>): void {
  for (const item of items) {
    const manifest = readPackageJson(item.sourceDir);
    const names = [
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {}),
    ];
    for (const name of names) {
      const expected = findPackageDir(item.sourceDir, name);
      if (expected === null) {
        continue;
      }
      const found = resolutionChain(item.targetDir, name).find((dir) => placed.has(dir));
      if (found === undefined || placed.get(found) !== expected) {
        throw new InstallQueueRestError(
          `cannot lay out ${name} for ${item.name}: two versions of it clash in one folder`,
        );
      }
    }
  }
}

/** Copies every package into a new release folder and returns its path. */
function copyRelease(installDir: string, packages: PackageToCopy[]): string {
  const stamp = `${new Date().toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
  const partialDir = path.join(installDir, `.partial-${stamp}`);
  const releaseDir = path.join(installDir, `release-${stamp}`);

  try {
    mkdirSync(partialDir, { mode: 0o755 });
    for (const item of packages) {
      const target = path.join(partialDir, item.targetDir);
      mkdirSync(target, { recursive: true, mode: 0o755 });
      for (const entry of packageEntries(item)) {
        copyTree(path.join(item.sourceDir, entry), path.join(target, entry));
      }
    }
    chmodSync(partialDir, 0o755);
    renameSync(partialDir, releaseDir);
  } catch (error) {
    rmSync(partialDir, { recursive: true, force: true });
    throw error;
  }
  return releaseDir;
}

/**
 * Returns the top-level entries of a package to copy. A workspace package is copied as npm would
 * publish it (its `files` list); a package from node_modules is already the published one.
 */
function packageEntries(item: PackageToCopy): string[] {
  const entries = readdirSync(item.sourceDir);
  if (!item.workspace) {
    return entries.filter((entry) => entry !== 'node_modules');
  }

  const files = readPackageJson(item.sourceDir).files ?? ['dist'];
  const always = entries.filter((entry) => /^(package\.json|readme|license|licence)/i.test(entry));
  const listed = files.filter((entry) => existsSync(path.join(item.sourceDir, entry)));
  return [...new Set([...always, ...listed])];
}

/** Copies a file or folder, following links, with modes that only root can write to. */
function copyTree(source: string, target: string): void {
  const stats = statSync(source);
  if (stats.isDirectory()) {
    mkdirSync(target, { recursive: true, mode: 0o755 });
    chmodSync(target, 0o755);
    for (const entry of readdirSync(source)) {
      copyTree(path.join(source, entry), path.join(target, entry));
    }
    return;
  }

  copyFileSync(source, target);
  chmodSync(target, (stats.mode & 0o111) !== 0 ? 0o755 : 0o644);
}

/** Writes the launcher under a temporary name and renames it into place. */
function writeLauncher(libexecDir: string, nodePath: string, mainPath: string): string {
  const launcherPath = path.join(libexecDir, 'queue-rest');
  const partialPath = path.join(
    libexecDir,
    `.queue-rest.partial-${randomBytes(4).toString('hex')}`,
  );
  const script = [
    '#!/bin/sh',
    '# Written by `smtpq install-queue-rest`. smtpd runs this for -B queue=rest:ARG with a',
    '# minimal PATH, so Node is named by absolute path; ARG is passed on as the only argument.',
    `exec ${shellQuote(nodePath)} ${shellQuote(mainPath)} "$@"`,
    '',
  ].join('\n');

  try {
    writeFileSync(partialPath, script, { mode: 0o755, flag: 'wx' });
    chmodSync(partialPath, 0o755);
    renameSync(partialPath, launcherPath);
  } catch (error) {
    rmSync(partialPath, { force: true });
    throw error;
  }
  return launcherPath;
}

/** Removes earlier releases and partial copies; a running queue-rest has already loaded its files. */
function removeOtherReleases(installDir: string, releaseDir: string): void {
  for (const entry of readdirSync(installDir)) {
    const entryPath = path.join(installDir, entry);
    if (/^(release-|\.partial-)/.test(entry) && entryPath !== releaseDir) {
      rmSync(entryPath, { recursive: true, force: true });
    }
  }
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Rejects a path that someone other than root could change: the path itself and every folder
 * above it must be owned by root and not writable by group or others.
 */
function checkSecurePath(target: string, what: string): void {
  let current = realpathSync(target);
  for (;;) {
    const stats = statSync(current);
    if (stats.uid !== 0) {
      throw new InstallQueueRestError(
        `${what} is not safe for a program that smtpd runs as root: ${current} is owned by ` +
          `uid ${stats.uid}; make root its owner`,
      );
    }
    if ((stats.mode & 0o022) !== 0) {
      const writers = (stats.mode & 0o002) !== 0 ? 'others' : 'its group';
      throw new InstallQueueRestError(
        `${what} is not safe for a program that smtpd runs as root: ${current} is writable by ` +
          `${writers} (mode ${(stats.mode & 0o7777).toString(8)}); use a folder that only root ` +
          `can write to, or run \`chmod go-w ${current}\` if nothing else needs that access`,
      );
    }

    const parent = path.dirname(current);
    if (parent === current) {
      return;
    }
    current = parent;
  }
}

/**
 * Takes a lock file, waiting up to `timeoutMs` while another process has it, and returns the
 * function that releases it. Installs take the install folder's lock, so that two installs at
 * once cannot remove each other's release. A lock left by a process that no longer runs is
 * taken over.
 */
export async function acquireLockFile(lockPath: string, timeoutMs = 120_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;

  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }

    if (!lockHolderRuns(lockPath)) {
      rmSync(lockPath, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new InstallQueueRestError(
        `timed out after ${timeoutMs} ms waiting for the lock ${lockPath}; wait for the process ` +
          'whose PID it contains to finish, or remove the file if that process no longer runs',
      );
    }
    await sleep(100);
  }
}

function lockHolderRuns(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lockPath, 'latin1').trim());
  } catch {
    return true;
  }
  if (!Number.isInteger(pid) || pid <= 0) {
    // A holder may not have written its PID yet.
    return true;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
