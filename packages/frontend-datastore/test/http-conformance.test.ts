import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHttpSuite } from '@smtpq/conformance';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FrontendProcess, frontendStart } from './frontend-process.js';
import { PROJECT, testServerStart } from './helpers.js';

const TOKEN = 'datastore-conformance-token';

let server: RunningTestServer;
let tokenFile: string;
const frontends: FrontendProcess[] = [];

beforeAll(async () => {
  // Non-ancestor queries lag a minute behind, as on legacy Cloud Datastore at its worst.
  server = await testServerStart({ queryLagMs: 60_000 });
  tokenFile = join(tmpdir(), `smtpq-datastore-token-${process.pid}`);
  await writeFile(tokenFile, `${TOKEN}\n`);

  // Two frontend processes of one store, for the cases that need two frontends.
  for (let index = 0; index < 2; index++) {
    frontends.push(
      await frontendStart(`datastore://${PROJECT}/http-suite`, server.address, [
        '--token-file',
        tokenFile,
      ]),
    );
  }
});

afterAll(async () => {
  for (const frontend of frontends) await frontend.stop();
  await rm(tokenFile, { force: true });
  await server?.stop();
});

describe('http suite against smtpq-frontend-datastore', () => {
  it('passes every case with two frontends', async () => {
    const lines: string[] = [];
    const counts = await runHttpSuite({
      url: (frontends[0] as FrontendProcess).url,
      url2: (frontends[1] as FrontendProcess).url,
      token: TOKEN,
      log: (line) => lines.push(line),
    });

    const notPassed = counts.outcomes.filter((outcome) => outcome.status !== 'ok');
    expect(notPassed, lines.join('\n')).toEqual([]);
    expect(counts.passed).toBeGreaterThanOrEqual(100);
  }, 900_000);
});
