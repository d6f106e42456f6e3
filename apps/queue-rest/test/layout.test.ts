import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseLayout, detectLayout, layoutOfVersion } from '../src/layout.js';

const dir = mkdtempSync(join(tmpdir(), 'queue-rest-layout-'));

/**
 * Makes a stand-in binary that prints what `smtpd -h` prints, and a symlink to it, as
 * /proc/PPID/exe is one.
 */
function fakeBinary(name: string, stderr: string): string {
  const folder = mkdtempSync(join(dir, 'bin-'));
  const program = join(folder, name);
  writeFileSync(program, `#!/bin/sh\nprintf '${stderr}' >&2\nexit 1\n`);
  chmodSync(program, 0o755);

  const link = join(folder, 'exe');
  symlinkSync(program, link);
  return link;
}

const USAGE = 'usage: smtpd [-dFhnv] [-D macro=value] [-f file] [-P system] [-T trace]\\n';

describe('layoutOfVersion', () => {
  const cases: Array<[string, string | null]> = [
    ['6.8.0p2', 'pre-7.7'],
    ['7.6.0', 'pre-7.7'],
    ['7.7.0', '7.7'],
    ['7.8.0p1', '7.7'],
    ['8.0.0', '7.7'],
    ['portable', null],
  ];
  for (const [version, layout] of cases) {
    it(`maps ${version}`, () => {
      expect(layoutOfVersion(version)).toBe(layout);
    });
  }
});

describe('detectLayout', () => {
  it('reads the Debian 6.8.0p2 banner as pre-7.7', () => {
    const choice = detectLayout(fakeBinary('smtpd', `version: OpenSMTPD 6.8.0p2\\n${USAGE}`));

    expect(choice.layout).toBe('pre-7.7');
    expect(choice.tentative).toBe(false);
    expect(choice.version).toBe('6.8.0p2');
  });

  it('reads 7.7.0 as the new layout', () => {
    const choice = detectLayout(fakeBinary('smtpd', `version: OpenSMTPD 7.7.0\\n${USAGE}`));

    expect(choice.layout).toBe('7.7');
    expect(choice.tentative).toBe(false);
  });

  it('falls back when no version is printed', () => {
    const choice = detectLayout(fakeBinary('smtpd', USAGE));

    expect(choice.layout).toBe('pre-7.7');
    expect(choice.tentative).toBe(true);
    expect(choice.reason).toMatch(/printed no OpenSMTPD version/);
  });

  it('never runs a parent that is not smtpd', () => {
    const choice = detectLayout(fakeBinary('node', 'version: OpenSMTPD 7.7.0\\n'));

    expect(choice.layout).toBe('pre-7.7');
    expect(choice.tentative).toBe(true);
    expect(choice.reason).toMatch(/is not smtpd/);
  });

  it('falls back when the exe link is missing', () => {
    const choice = detectLayout(join(dir, 'no-such-exe'));

    expect(choice.tentative).toBe(true);
    expect(choice.reason).toMatch(/cannot read/);
  });

  it('fixed setting skips detection', () => {
    expect(chooseLayout('7.7', join(dir, 'no-such-exe'))).toEqual({
      layout: '7.7',
      tentative: false,
      reason: 'imsgLayout is "7.7"',
    });
  });
});
