import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureSystemPackages,
  harnessStateDir,
  installQueueRest,
  runCommand,
  smtpqCliPath,
} from '../src/index.js';
import { installerModulePath } from '../src/paths.js';

// Installs go to folders of this file, never to Debian's libexec folder, which the queue=rest
// cases use at the same time.
let workDir: string;

beforeAll(async () => {
  await ensureSystemPackages();
  workDir = mkdtempSync(path.join(harnessStateDir, 'install-test-'));
  chmodSync(workDir, 0o755);
}, 600_000);

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

function freshFolders(name: string): { libexecDir: string; installDir: string } {
  const libexecDir = path.join(workDir, name, 'libexec');
  mkdirSync(libexecDir, { recursive: true, mode: 0o755 });
  chmodSync(path.join(workDir, name), 0o755);
  return { libexecDir, installDir: path.join(workDir, name, 'lib', 'queue-rest') };
}

/** Lists every path under `dir` whose mode lets group or others write, or that is a link. */
function unsafeEntries(dir: string): string[] {
  const unsafe: string[] = [];
  for (const entry of readdirSync(dir)) {
    const entryPath = path.join(dir, entry);
    const stats = lstatSync(entryPath);
    if (stats.isSymbolicLink() || (stats.mode & 0o022) !== 0 || stats.uid !== 0) {
      unsafe.push(entryPath);
    }
    if (stats.isDirectory()) {
      unsafe.push(...unsafeEntries(entryPath));
    }
  }
  return unsafe;
}

describe('smtpq install-queue-rest', () => {
  it('installs a self-contained copy and a launcher', async () => {
    const { libexecDir, installDir } = freshFolders('first');

    const result = await installQueueRest(libexecDir, { installDir });

    expect(result.launcherPath).toBe(path.join(libexecDir, 'queue-rest'));
    expect(path.dirname(result.releaseDir)).toBe(installDir);
    const launcher = readFileSync(result.launcherPath, 'utf8');
    const mainPath = path.join(result.releaseDir, 'dist/main.js');
    expect(launcher.startsWith('#!/bin/sh\n')).toBe(true);
    expect(launcher).toContain(`exec '${realpathSync(process.execPath)}' '${mainPath}' "$@"`);
    const launcherStats = statSync(result.launcherPath);
    expect(launcherStats.mode & 0o7777).toBe(0o755);
    expect(launcherStats.uid).toBe(0);

    for (const name of ['koffi', 'pino', 'undici', '@smtpq/protocol']) {
      expect(existsSync(path.join(result.releaseDir, 'node_modules', name, 'package.json'))).toBe(
        true,
      );
    }
    expect(existsSync(path.join(result.releaseDir, 'node_modules/@smtpq/protocol/dist'))).toBe(
      true,
    );
    expect(result.packages).toContain('koffi@3.3.4');
    expect(unsafeEntries(installDir)).toEqual([]);
  });

  it('runs the copy with an empty PATH', async () => {
    const { libexecDir, installDir } = freshFolders('run');
    const result = await installQueueRest(libexecDir, { installDir });

    // A bad ARG makes queue-rest stop right after its modules have loaded.
    const run = await runCommand(result.launcherPath, ['not-a-url'], { env: { PATH: '' } });

    expect(run.code).toBe(1);
    expect(`${run.stdout}${run.stderr}`).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(`${run.stdout}${run.stderr}`).toContain('cannot start');
  });

  it('replaces an earlier install', async () => {
    const { libexecDir, installDir } = freshFolders('again');
    const first = await installQueueRest(libexecDir, { installDir });

    const second = await installQueueRest(libexecDir, { installDir });

    expect(second.releaseDir).not.toBe(first.releaseDir);
    expect(existsSync(first.releaseDir)).toBe(false);
    expect(readFileSync(second.launcherPath, 'utf8')).toContain(second.releaseDir);
    const left = readdirSync(installDir).filter((entry) => !entry.startsWith('.install.lock'));
    expect(left).toEqual([path.basename(second.releaseDir)]);
    expect(readdirSync(libexecDir)).toEqual(['queue-rest']);
  });

  it('rejects a libexec folder that others can write to', async () => {
    const libexecDir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-libexec-'));
    const { installDir } = freshFolders('insecure');
    try {
      await expect(installQueueRest(libexecDir, { installDir })).rejects.toThrow(
        /the libexec folder is not safe .* \/tmp is writable by others/,
      );
      expect(readdirSync(libexecDir)).toEqual([]);
      expect(existsSync(installDir)).toBe(false);
    } finally {
      rmSync(libexecDir, { recursive: true, force: true });
    }
  });

  it('rejects a run by a user other than root', async () => {
    const { libexecDir, installDir } = freshFolders('not-root');
    const script = [
      `const installer = await import(${JSON.stringify(installerModulePath)});`,
      `await installer.installQueueRest(${JSON.stringify({ libexecDir, installDir })});`,
    ].join('\n');

    const run = await runCommand('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ]);

    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('install-queue-rest must run as root');
    expect(readdirSync(libexecDir)).toEqual([]);
  });

  it('reports a rejection on the command line with exit status 1', async () => {
    const libexecDir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-libexec-'));
    try {
      const run = await runCommand(process.execPath, [
        smtpqCliPath,
        'install-queue-rest',
        '--libexec',
        libexecDir,
        '--install-dir',
        path.join(workDir, 'cli', 'queue-rest'),
      ]);

      expect(run.code).toBe(1);
      expect(run.stderr).toContain('is writable by others');
      expect(readdirSync(libexecDir)).toEqual([]);
    } finally {
      rmSync(libexecDir, { recursive: true, force: true });
    }
  });
});
