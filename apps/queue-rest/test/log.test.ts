import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOG_JS = fileURLToPath(new URL('../dist/log.js', import.meta.url));

/** Runs stderrIsUsable() in a child whose fd 2 is `stderr`, and returns what it printed. */
function usableWith(stderr: 'pipe' | number): string {
  const script = `import(${JSON.stringify(LOG_JS)}).then((m) => console.log(m.stderrIsUsable()))`;
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', stderr],
  });
  return child.stdout.trim();
}

describe('log destination', () => {
  it('stderr on a pipe is used', () => {
    expect(usableWith('pipe')).toBe('true');
  });

  it('stderr on /dev/null sends the log to syslog', () => {
    const devNull = openSync('/dev/null', 'w');
    try {
      expect(usableWith(devNull)).toBe('false');
    } finally {
      closeSync(devNull);
    }
  });
});
