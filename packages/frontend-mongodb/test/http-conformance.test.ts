import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP_CASES, runHttpSuite } from '@smtpq/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FrontendProcess, frontendStart } from './support/frontend.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

const TOKEN = 'mongodb-conformance-token';

let server: TestMongo;
let tokenFile: string;
const frontends: FrontendProcess[] = [];

beforeAll(async () => {
  server = await testMongoStart();
  tokenFile = join(tmpdir(), `smtpq-mongodb-token-${process.pid}`);
  await writeFile(tokenFile, `${TOKEN}\n`);

  // Two frontend processes of one store, for the cases that need two frontends.
  const storeUrl = server.newDatabaseUrl('http');
  for (let index = 0; index < 2; index++) {
    frontends.push(await frontendStart(storeUrl, ['--token-file', tokenFile]));
  }
}, 900_000);

afterAll(async () => {
  for (const frontend of frontends) await frontend.stop();
  await rm(tokenFile, { force: true });
  await server?.stop();
});

describe('http suite against smtpq-frontend-mongodb', () => {
  // On FerretDB 1.24 every query reads the whole collection, so the walk cases of a few
  // thousand envelopes take about half a minute each there.
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
    expect(counts.outcomes.length).toBeGreaterThanOrEqual(HTTP_CASES.length);
  }, 1_200_000);
});
