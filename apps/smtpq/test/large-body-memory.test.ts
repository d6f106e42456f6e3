import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServeProcess, startServe, stopProcess } from './serve-process.js';

const BODY_BYTES = 40 * 1024 * 1024;
const RSS_LIMIT_BYTES = 150 * 1024 * 1024;

/** Peak resident memory of a process (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** A body with every byte value, NUL, bare CR and LF included, in a pattern that never repeats. */
function makeBody(): Buffer {
  const body = Buffer.alloc(BODY_BYTES);
  let state = 0x12345678;
  for (let i = 0; i < body.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    body[i] = state >>> 24;
  }
  return body;
}

describe('40 MiB body through the fs frontend', () => {
  let dir = '';
  let serve: ServeProcess | undefined;

  afterEach(async () => {
    if (serve) await stopProcess(serve.child, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('round-trips byte-identical with server memory bounded', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'smtpq-large-'));
    serve = await startServe(`fs://${dir}`);
    const url = serve.url;
    const body = makeBody();
    const digest = createHash('sha256').update(body).digest();

    expect((await fetch(`${url}/v1/messages/0000abcd`, { method: 'PUT' })).status).toBe(201);
    const upload = await fetch(`${url}/v1/messages/0000abcd/body`, {
      method: 'PUT',
      headers: { 'content-digest': `sha-256=:${digest.toString('base64')}:` },
      body,
    });
    expect(upload.status).toBe(204);

    const download = await fetch(`${url}/v1/messages/0000abcd/body`);
    expect(download.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }

    expect(size).toBe(BODY_BYTES);
    expect(hash.digest().equals(digest)).toBe(true);
    const pid = serve.child.pid as number;
    expect(await peakRss(pid)).toBeLessThan(RSS_LIMIT_BYTES);
  }, 120_000);
});
