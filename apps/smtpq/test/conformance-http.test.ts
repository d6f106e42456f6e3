import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHttpSuite, type SuiteCounts } from '@smtpq/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServeProcess, startServe } from './conformance-support.js';

const TOKEN = 'conformance-token-for-tests';

function notPassed(counts: SuiteCounts) {
  return counts.outcomes.filter((outcome) => outcome.status !== 'ok');
}

describe('http suite against smtpq serve on an fs store', () => {
  const dirs: string[] = [];
  const processes: ServeProcess[] = [];
  let withToken: [ServeProcess, ServeProcess];
  let withoutToken: ServeProcess;
  let tokenFile: string;

  beforeAll(async () => {
    const shared = await mkdtemp(join(tmpdir(), 'smtpq-conformance-http-'));
    const open = await mkdtemp(join(tmpdir(), 'smtpq-conformance-open-'));
    dirs.push(shared, open);
    tokenFile = join(shared, '..', `${shared.split('/').pop()}.token`);
    await writeFile(tokenFile, `${TOKEN}\n`);

    // Two frontend processes of one store, for the cases that need two frontends.
    for (let i = 0; i < 2; i++) {
      processes.push(
        await startServe(['--store', `fs://${join(shared, 'store')}`, '--token-file', tokenFile]),
      );
    }
    withToken = [processes[0] as ServeProcess, processes[1] as ServeProcess];
    withoutToken = await startServe([
      '--store',
      `fs://${join(open, 'store')}`,
      '--max-message-bytes',
      String(2 * 1024 * 1024),
    ]);
    processes.push(withoutToken);
  }, 60_000);

  afterAll(async () => {
    for (const serve of processes) await serve.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await rm(tokenFile, { force: true });
  });

  it('passes every case with a token and two frontends', async () => {
    const counts = await runHttpSuite({
      url: withToken[0].url,
      url2: withToken[1].url,
      token: TOKEN,
    });

    expect(notPassed(counts)).toEqual([]);
    expect(counts.passed).toBeGreaterThanOrEqual(100);
  }, 900_000);

  it('passes without a token, skipping what needs one', async () => {
    const counts = await runHttpSuite({
      url: withoutToken.url,
      rounds: 10,
      largeBodyBytes: 2 * 1024 * 1024,
    });

    expect(counts.failed).toBe(0);
    const skipped = counts.outcomes.filter((outcome) => outcome.status === 'skip');
    expect(skipped.map((outcome) => outcome.name).sort()).toEqual(
      [
        'auth health is open',
        'auth missing token 401',
        'auth other schemes 401',
        'auth wrong token 401',
        'fc-03 if-match race across two frontends',
        'fc-04 walk continued on a second frontend',
        'second frontend serves the same queue',
      ].sort(),
    );
    for (const outcome of skipped) expect(outcome.reason).toMatch(/--token-file|--url2/);
  }, 900_000);

  it('fails loudly when the token is missing', async () => {
    const lines: string[] = [];
    const counts = await runHttpSuite({ url: withToken[0].url, log: (line) => lines.push(line) });

    expect(counts.failed).toBe(1);
    expect(lines[0]).toMatch(/^FAIL connect to --url: GET .* returned 401 .*--token-file/);
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
  });
});
