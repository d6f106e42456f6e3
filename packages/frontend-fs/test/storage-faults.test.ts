import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  encodeBundle,
  formatContentDigest,
  randomEvpid,
  randomMsgid,
  sha256,
} from '@smtpq/protocol';
import { type RunningServer, startServer } from '@smtpq/server';
import { createQueueStore } from '@smtpq/store';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFsDriver } from '../src/index.js';

/*
 * Field case FC-07: an fs store whose disk fills up or turns read-only for a while, under a
 * steady load of commits. The store lives on its own 8 MiB tmpfs, which the test mounts (it
 * runs as root). The operator's 60-second outage is scaled down to a few seconds here.
 */

const FAULT_WINDOW_MS = 3000;
/** How long after the fault ends the next write may take to succeed. */
const RECOVERY_LIMIT_MS = 10_000;
const LOAD_CLIENTS = 3;

let base: string;
let mountPoint: string;
let server: RunningServer;

interface Outcome {
  status: number;
  code: string | null;
  retryAfter: string | null;
}

/** Sends one bundle of 4 KiB and two envelopes; returns the status and the error code. */
async function commitOne(url: string): Promise<Outcome & { msgid: string }> {
  const msgid = randomMsgid();
  const envelopes = [1, 2].map(() => ({
    evpid: randomEvpid(msgid),
    data: Buffer.from(`rcpt: user@example.org\n`),
  }));
  const content = encodeBundle(envelopes, Buffer.alloc(4096, 0x61));
  const response = await fetch(`${url}/v1/messages/${msgid}/bundle`, {
    method: 'PUT',
    body: content,
    headers: { 'content-digest': formatContentDigest(sha256(content)) },
  });
  return { msgid, ...(await outcomeOf(response)) };
}

async function outcomeOf(response: Response): Promise<Outcome> {
  const text = await response.text();
  let code: string | null = null;
  if (response.status >= 400) code = (JSON.parse(text) as { error: { code: string } }).error.code;
  return { status: response.status, code, retryAfter: response.headers.get('retry-after') };
}

async function health(url: string): Promise<Outcome> {
  return outcomeOf(await fetch(`${url}/v1/health`));
}

/** Commits in a loop from a few clients until stopped; collects every outcome. */
function startLoad(url: string) {
  const outcomes: Array<Outcome & { msgid: string }> = [];
  let running = true;
  const clients = Array.from({ length: LOAD_CLIENTS }, async () => {
    while (running) {
      outcomes.push(await commitOne(url));
      await sleep(20);
    }
  });
  return {
    outcomes,
    /** Stops the load and returns what each request got. */
    async stop() {
      running = false;
      await Promise.all(clients);
      return outcomes;
    },
  };
}

/** Runs `mount` with the given arguments, retrying while the file system is busy. */
async function mount(args: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('mount', args, { stdio: 'pipe' });
      return;
    } catch (error) {
      // A remount read-only fails with EBUSY while a write holds a file open: try again.
      const busy = String((error as { stderr?: Buffer }).stderr ?? '').includes('busy');
      if (!busy || attempt >= 2000) throw error;
      await sleep(5);
    }
  }
}

/** Fills the tmpfs with one file until the disk is full; returns its path. */
async function fillDisk(): Promise<string> {
  const path = join(mountPoint, 'filler');
  const file = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x7a);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await file.close();
  }
  return path;
}

/** Sends commits until one succeeds; returns the milliseconds it took. */
async function recoveryTime(url: string): Promise<number> {
  const start = Date.now();
  for (;;) {
    const outcome = await commitOne(url);
    if (outcome.status === 204) return Date.now() - start;
    if (Date.now() - start > RECOVERY_LIMIT_MS) {
      throw new Error(`no commit succeeded within ${RECOVERY_LIMIT_MS} ms: ${outcome.code}`);
    }
    await sleep(100);
  }
}

/** Checks what the clients saw during a fault: 204 or 503 with Retry-After and `code`. */
function expectOnlyCommitsOr503(outcomes: Outcome[], code: string): void {
  const failures = outcomes.filter((outcome) => outcome.status !== 204);
  expect(failures.length).toBeGreaterThan(0);
  for (const { status, code: seen, retryAfter } of failures) {
    expect({ status, code: seen, retryAfter }).toEqual({
      status: 503,
      code,
      retryAfter: expect.stringMatching(/^\d+$/),
    });
  }
}

/** Checks that every commit the frontend acknowledged is in the store, committed. */
async function expectAcknowledgedCommitted(
  url: string,
  outcomes: Array<{ msgid: string; status: number }>,
) {
  for (const { msgid } of outcomes.filter((outcome) => outcome.status === 204)) {
    const response = await fetch(`${url}/v1/messages/${msgid}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { state: string }).state).toBe('committed');
  }
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'smtpq-fc07-'));
  mountPoint = join(base, 'disk');
  await mkdir(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountPoint]);

  const driver = await openFsDriver(join(mountPoint, 'store'));
  server = await startServer({
    store: createQueueStore(driver),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    gcIntervalMs: 0,
  });
});

afterAll(async () => {
  await server?.close();
  if (mountPoint !== undefined) {
    try {
      execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
    }
  }
  if (base !== undefined) await rm(base, { recursive: true, force: true });
});

describe('fs store whose disk fails for a while (FC-07)', () => {
  it('full disk: 503 storage-full, failed health, then commits again', async () => {
    const load = startLoad(server.url);
    await sleep(300);

    const filler = await fillDisk();
    await sleep(FAULT_WINDOW_MS);
    const during = await health(server.url);
    const duringFault = load.outcomes.length;

    await unlink(filler);
    const recoveredMs = await recoveryTime(server.url);
    await sleep(300);
    const outcomes = await load.stop();

    expect(during).toEqual({ status: 503, code: 'storage-full', retryAfter: expect.any(String) });
    expectOnlyCommitsOr503(outcomes.slice(0, duringFault), 'storage-full');
    expect(recoveredMs).toBeLessThan(RECOVERY_LIMIT_MS);
    expect(outcomes.at(-1)?.status).toBe(204);
    expect(await health(server.url)).toEqual({ status: 200, code: null, retryAfter: null });
    await expectAcknowledgedCommitted(server.url, outcomes);
  }, 60_000);

  it('read-only disk: 503 storage-read-only, failed health, then commits again', async () => {
    const load = startLoad(server.url);
    await sleep(300);

    await mount(['-o', 'remount,ro', mountPoint]);
    await sleep(FAULT_WINDOW_MS);
    const during = await health(server.url);
    const duringFault = load.outcomes.length;

    await mount(['-o', 'remount,rw', mountPoint]);
    const recoveredMs = await recoveryTime(server.url);
    await sleep(300);
    const outcomes = await load.stop();

    expect(during).toEqual({
      status: 503,
      code: 'storage-read-only',
      retryAfter: expect.any(String),
    });
    expectOnlyCommitsOr503(outcomes.slice(0, duringFault), 'storage-read-only');
    expect(recoveredMs).toBeLessThan(RECOVERY_LIMIT_MS);
    expect(outcomes.at(-1)?.status).toBe(204);
    expect(await health(server.url)).toEqual({ status: 200, code: null, retryAfter: null });
    await expectAcknowledgedCommitted(server.url, outcomes);
  }, 60_000);
});
