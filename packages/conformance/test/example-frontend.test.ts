import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { runHttpSuite } from '../src/index.js';
import { runDriverContract } from '../src/vitest.js';
import { JsonlDriver } from './example-jsonl-driver.js';

// The JSON-lines driver shown in docs/writing-a-frontend.md, which must pass both suites.
const DOC = new URL('../../../docs/writing-a-frontend.md', import.meta.url);
const EXAMPLE = new URL('./example-jsonl-driver.ts', import.meta.url);

runDriverContract('jsonl example', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smtpq-jsonl-'));
  const file = join(dir, 'queue.jsonl');
  return {
    driver: await JsonlDriver.open(file),
    reopen: () => JsonlDriver.open(file),
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('jsonl example frontend', () => {
  it('is the code the page shows', async () => {
    const page = await readFile(DOC, 'utf8');
    const code = await readFile(EXAMPLE, 'utf8');

    expect(page).toContain(`\`\`\`ts\n// src/jsonl-driver.ts\n${code}\`\`\``);
  });

  it('passes the http suite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smtpq-jsonl-http-'));
    const driver = await JsonlDriver.open(join(dir, 'queue.jsonl'));
    const server = await startServer({
      store: createQueueStore(driver, { maxMessageBytes: 2 * 1024 * 1024 }),
      host: '127.0.0.1',
      port: 0,
      token: 'example-token',
      logger: pino({ level: 'silent' }),
      gcIntervalMs: 0,
    });
    try {
      const counts = await runHttpSuite({ url: server.url, token: 'example-token', rounds: 10 });
      const notPassed = counts.outcomes.filter((outcome) => outcome.status !== 'ok');

      expect(notPassed.filter((outcome) => outcome.status === 'fail')).toEqual([]);
      expect(notPassed.every((outcome) => outcome.reason?.includes('--url2'))).toBe(true);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
