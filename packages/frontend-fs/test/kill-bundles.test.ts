import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  type Evpid,
  encodeBundle,
  formatContentDigest,
  type Msgid,
  randomEvpid,
  randomMsgid,
  sha256,
} from '@smtpq/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * Bundles, as queue-rest sends them, into the frontend binary on an fs store, killed with
 * SIGKILL while clients commit. After each restart every acknowledged bundle must be there
 * whole, and no bundle may show only part of itself. The binary is the built one: run
 * `pnpm build` first.
 */

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ROUNDS = 3;
const CLIENTS = 4;
const ENVELOPES = 3;

interface Sent {
  msgid: Msgid;
  evpids: Evpid[];
  body: Buffer;
  acknowledged: boolean;
}

let folder: string;
let child: ChildProcess | undefined;
/** Set just before the kill, so that the clients take the failures that follow as expected. */
let killing = false;

async function startBinary(store: string): Promise<string> {
  const started = spawn(
    process.execPath,
    [BIN, '--store', `fs://${store}`, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child = started;
  let stderr = '';
  for await (const chunk of started.stderr as AsyncIterable<Buffer>) {
    stderr += chunk.toString();
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
    if (match !== null) return match[1] as string;
  }
  throw new Error(`the frontend exited before it listened: ${stderr}`);
}

async function kill(): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  killing = true;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Commits bundles one after the other until the server goes away. */
async function commitUntilKilled(url: string, sent: Sent[]): Promise<void> {
  for (;;) {
    const msgid = randomMsgid();
    const evpids = Array.from({ length: ENVELOPES }, () => randomEvpid(msgid));
    const body = Buffer.from(`Subject: ${msgid}\r\n\r\n${'x'.repeat(3000)}\r\n`);
    const entry: Sent = { msgid, evpids, body, acknowledged: false };
    sent.push(entry);

    const content = encodeBundle(
      evpids.map((evpid) => ({ evpid, data: Buffer.from(`rcpt: ${evpid}\n`) })),
      body,
    );
    try {
      const response = await fetch(`${url}/v1/messages/${msgid}/bundle`, {
        method: 'PUT',
        body: content,
        headers: { 'content-digest': formatContentDigest(sha256(content)) },
      });
      await response.arrayBuffer();
      if (response.status !== 204) throw new Error(`bundle answered ${response.status}`);
      entry.acknowledged = true;
    } catch (error) {
      if (!killing) throw error;
      return;
    }
  }
}

/**
 * Sends a GET, and sends it again after a connection error. A kept-alive connection that the
 * server closes after its idle time, just as the next request goes out, fails that request.
 * Clients such as QueueClient retry reads for that reason, and so does this test.
 */
async function getRetried(url: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url);
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** Reads every envelope of the walk, by message. */
async function walkByMessage(url: string): Promise<Map<Msgid, Evpid[]>> {
  const byMessage = new Map<Msgid, Evpid[]>();
  let cursor: string | null = null;
  for (;;) {
    const query = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const page = (await (await getRetried(`${url}/v1/walk${query}`)).json()) as {
      envelopes: Array<{ evpid: Evpid }>;
      next: string | null;
      end: boolean;
    };
    for (const { evpid } of page.envelopes) {
      const msgid = evpid.slice(0, 8);
      byMessage.set(msgid, [...(byMessage.get(msgid) ?? []), evpid]);
    }
    if (page.end) return byMessage;
    cursor = page.next;
  }
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-fs-kill-'));
});

afterAll(async () => {
  await kill();
  await rm(folder, { recursive: true, force: true });
});

describe('frontend killed during bundles', () => {
  it('keeps every acknowledged bundle whole and shows no part of another', async () => {
    const store = join(folder, 'store');
    const sent: Sent[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      killing = false;
      const url = await startBinary(store);
      const clients = Array.from({ length: CLIENTS }, () => commitUntilKilled(url, sent));
      await sleep(1500 + round * 300);
      await kill();
      await Promise.all(clients);
    }

    killing = false;
    const url = await startBinary(store);
    const walked = await walkByMessage(url);
    const acknowledged = sent.filter((entry) => entry.acknowledged);
    expect(acknowledged.length).toBeGreaterThan(20);

    for (const entry of sent) {
      const shown = walked.get(entry.msgid) ?? [];
      const info = await getRetried(`${url}/v1/messages/${entry.msgid}`);
      const state = info.status === 200 ? ((await info.json()) as { state: string }).state : null;
      if (entry.acknowledged) {
        expect({ msgid: entry.msgid, state }).toEqual({ msgid: entry.msgid, state: 'committed' });
      }
      // A bundle shows all its envelopes or none, and only when its message is committed.
      if (state === 'committed') {
        expect(shown.sort()).toEqual([...entry.evpids].sort());
        const body = await getRetried(`${url}/v1/messages/${entry.msgid}/body`);
        expect(Buffer.from(await body.arrayBuffer())).toEqual(entry.body);
      } else {
        expect(shown).toEqual([]);
      }
    }
    expect([...walked.keys()].every((msgid) => sent.some((entry) => entry.msgid === msgid))).toBe(
      true,
    );
  }, 120_000);
});
