import { createHash } from 'node:crypto';
import { request } from 'node:http';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FrontendProcess, frontendStart, peakRss } from './frontend-process.js';
import { PROJECT, patterned, testServerStart } from './helpers.js';

const BODY_BYTES = 64 * 1024 * 1024;
const RSS_LIMIT = 150 * 1024 * 1024;

let server: RunningTestServer;
let frontend: FrontendProcess;

beforeAll(async () => {
  server = await testServerStart();
  frontend = await frontendStart(`datastore://${PROJECT}/memory`, server.address);
});

afterAll(async () => {
  await frontend?.stop();
  await server?.stop();
});

/** Yields the body piece by piece, so that the test never keeps it whole either. */
function* bodyPieces(): Generator<Buffer> {
  const block = patterned(1024 * 1024, 42);
  for (let sent = 0; sent < BODY_BYTES; sent += block.length) {
    block[0] = (sent / block.length) & 0xff;
    yield block;
  }
}

function bodyDigest(): Buffer {
  const hash = createHash('sha256');
  for (const piece of bodyPieces()) hash.update(piece);
  return hash.digest();
}

function upload(url: string, digest: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': BODY_BYTES,
          'content-digest': `sha-256=:${digest.toString('base64')}:`,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    const pieces = bodyPieces();
    const pump = () => {
      for (;;) {
        const next = pieces.next();
        if (next.done) {
          req.end();
          return;
        }
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

describe('memory', () => {
  it('64 MiB body under 150 MiB RSS', async () => {
    const msgid = '0000abcd';
    const created = await fetch(`${frontend.url}/v1/messages/${msgid}`, { method: 'PUT' });
    expect(created.status).toBe(201);
    const digest = bodyDigest();

    expect(await upload(`${frontend.url}/v1/messages/${msgid}/body`, digest)).toBe(204);

    const response = await fetch(`${frontend.url}/v1/messages/${msgid}/body`);
    expect(response.status).toBe(200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const piece of response.body as AsyncIterable<Uint8Array>) {
      hash.update(piece);
      size += piece.length;
    }
    expect(size).toBe(BODY_BYTES);
    expect(hash.digest().equals(digest)).toBe(true);

    const peak = await peakRss(frontend.child.pid as number);
    console.log(`frontend peak RSS ${(peak / 1024 / 1024).toFixed(1)} MiB`);
    expect(peak, `peak RSS ${Math.round(peak / 1024 / 1024)} MiB`).toBeLessThan(RSS_LIMIT);
  });
});
