import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServeProcess, startServe, stopProcess } from './serve-process.js';

/** Rounds of "commit for a while, kill -9, restart, check". */
const ROUNDS = 5;

interface Sent {
  msgid: string;
  evpids: string[];
  body: Buffer;
}

function digestOf(body: Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

/** Sends one whole SMTP transaction over the REST API and resolves once the commit is acknowledged. */
async function commitMessage(url: string, sent: Sent): Promise<void> {
  const check = async (response: Response, what: string) => {
    if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  };

  await check(await fetch(`${url}/v1/messages/${sent.msgid}`, { method: 'PUT' }), 'create');
  for (const evpid of sent.evpids) {
    const response = await fetch(`${url}/v1/envelopes/${evpid}`, {
      method: 'PUT',
      headers: { 'if-none-match': '*' },
      body: `rcpt: ${evpid}@example.org\n`,
    });
    await check(response, 'envelope');
  }
  const upload = await fetch(`${url}/v1/messages/${sent.msgid}/body`, {
    method: 'PUT',
    headers: { 'content-digest': digestOf(sent.body) },
    body: sent.body,
  });
  await check(upload, 'body');
  await check(await fetch(`${url}/v1/messages/${sent.msgid}/commit`, { method: 'POST' }), 'commit');
}

function newMessage(): Sent {
  const msgid = randomBytes(4)
    .toString('hex')
    .replace(/^0{8}$/, '00000001');
  const evpids = [1, 2].map((n) => `${msgid}${n.toString(16).padStart(8, '0')}`);
  return { msgid, evpids, body: randomBytes(1024 + Math.floor(Math.random() * 64 * 1024)) };
}

async function walkAll(url: string): Promise<Map<string, Buffer>> {
  const seen = new Map<string, Buffer>();
  let cursor: string | null = null;
  for (;;) {
    const query = cursor === null ? '' : `?cursor=${encodeURIComponent(cursor)}`;
    const response = await fetch(`${url}/v1/walk${query}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as {
      envelopes: Array<{ evpid: string; data: string }>;
      next: string | null;
      end: boolean;
    };
    for (const entry of page.envelopes) {
      expect(seen.has(entry.evpid)).toBe(false);
      seen.set(entry.evpid, Buffer.from(entry.data, 'base64'));
    }
    if (page.end) return seen;
    cursor = page.next;
  }
}

describe('fs frontend killed with SIGKILL', () => {
  let dir = '';
  let serve: ServeProcess | undefined;

  afterEach(async () => {
    if (serve) await stopProcess(serve.child, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged commit and shows nothing half-written', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'smtpq-kill-'));
    const storeUrl = `fs://${dir}`;
    const acknowledged: Sent[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      serve = await startServe(storeUrl);
      const url = serve.url;

      // Four clients commit until the kill, which comes at a random moment mid-stream.
      let killed = false;
      const client = async () => {
        while (!killed) {
          const sent = newMessage();
          try {
            await commitMessage(url, sent);
            acknowledged.push(sent);
          } catch {
            return;
          }
        }
      };
      const clients = [client(), client(), client(), client()];
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 700));
      killed = true;
      serve.child.kill('SIGKILL');
      await Promise.all(clients);
      await stopProcess(serve.child, 'SIGKILL');

      serve = await startServe(storeUrl);
      const walked = await walkAll(serve.url);
      for (const sent of acknowledged) {
        for (const evpid of sent.evpids) {
          expect(walked.get(evpid)?.toString()).toBe(`rcpt: ${evpid}@example.org\n`);
        }
        const body = await fetch(`${serve.url}/v1/messages/${sent.msgid}/body`);
        expect(body.status).toBe(200);
        expect(Buffer.from(await body.arrayBuffer()).equals(sent.body)).toBe(true);
      }

      // Whatever the walk shows belongs to a committed message with its whole body.
      const walkedMessages = new Set([...walked.keys()].map((evpid) => evpid.slice(0, 8)));
      for (const msgid of walkedMessages) {
        const info = await fetch(`${serve.url}/v1/messages/${msgid}`);
        expect(info.status).toBe(200);
        const state = (await info.json()) as { state: string; bodySize: number };
        expect(state.state).toBe('committed');
        const body = await fetch(`${serve.url}/v1/messages/${msgid}/body`);
        expect(Number(body.headers.get('content-length'))).toBe(state.bodySize);
        expect((await body.arrayBuffer()).byteLength).toBe(state.bodySize);
      }
      await stopProcess(serve.child, 'SIGKILL');
      serve = undefined;
    }

    expect(acknowledged.length).toBeGreaterThan(ROUNDS);
  }, 180_000);
});
