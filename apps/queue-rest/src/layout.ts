import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { LayoutSetting } from './config.js';
import type { ImsgLayout } from './imsg.js';

/** Maximum time in ms that `smtpd -h` may take to print its version. */
const VERSION_PROBE_TIMEOUT_MS = 2_000;

/** The first OpenSMTPD release whose bundled imsg has the 7.7 header. */
const FIRST_NEW_LAYOUT = { major: 7, minor: 7 };

export interface LayoutChoice {
  layout: ImsgLayout;
  /** True when the layout is a fallback guess that the first frame with an fd may correct. */
  tentative: boolean;
  /** OpenSMTPD version as `smtpd -h` printed it, when it was read. */
  version?: string;
  /** Reason for this layout, for the log. */
  reason: string;
}

function fallback(reason: string): LayoutChoice {
  return { layout: 'pre-7.7', tentative: true, reason };
}

/** Returns the layout of an OpenSMTPD version string such as `6.8.0p2` or `7.7.0`. */
export function layoutOfVersion(version: string): ImsgLayout | null {
  const match = /^(\d+)\.(\d+)/.exec(version);
  if (match === null) return null;

  const major = Number(match[1]);
  const minor = Number(match[2]);
  const isNew =
    major > FIRST_NEW_LAYOUT.major ||
    (major === FIRST_NEW_LAYOUT.major && minor >= FIRST_NEW_LAYOUT.minor);
  return isNew ? '7.7' : 'pre-7.7';
}

/**
 * Finds the imsg layout of the smtpd that started this process: its binary
 * (`/proc/PPID/exe`) run with `-h` prints `version: OpenSMTPD X` before its usage line
 * (smtpd.c, case 'h'). The binary runs only when its name contains "smtpd", so that another
 * parent program is never run. When the version cannot be read, the choice is the pre-7.7
 * layout, marked tentative.
 */
export function detectLayout(exePath = `/proc/${process.ppid}/exe`): LayoutChoice {
  let target: string;
  try {
    target = readlinkSync(exePath);
  } catch (error) {
    return fallback(`cannot read ${exePath}: ${(error as Error).message}`);
  }

  if (!basename(target).includes('smtpd')) {
    return fallback(`the parent program ${target} is not smtpd`);
  }

  const probe = spawnSync(exePath, ['-h'], {
    encoding: 'utf8',
    timeout: VERSION_PROBE_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  if (probe.error !== undefined) {
    return fallback(`running ${target} -h failed: ${probe.error.message}`);
  }

  const output = `${probe.stdout ?? ''}${probe.stderr ?? ''}`;
  const version = /version: OpenSMTPD (\S+)/.exec(output)?.[1];
  const layout = version === undefined ? null : layoutOfVersion(version);
  if (version === undefined || layout === null) {
    return fallback(`${target} -h printed no OpenSMTPD version`);
  }
  return { layout, tentative: false, version, reason: `${target} is OpenSMTPD ${version}` };
}

/** Applies the `imsgLayout` setting: a fixed layout, or detection for "auto". */
export function chooseLayout(setting: LayoutSetting, exePath?: string): LayoutChoice {
  if (setting !== 'auto') {
    return { layout: setting, tentative: false, reason: `imsgLayout is "${setting}"` };
  }
  return detectLayout(exePath);
}
