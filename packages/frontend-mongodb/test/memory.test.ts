import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedStream } from './support/bytes.js';
import { type FrontendProcess, frontendStart } from './support/frontend.js';
import { type TestMongo, testMongoStart } from './support/mongo-server.js';

const MIB = 1024 * 1024;
const BODY_BYTES = 64 * MIB;
const RSS_LIMIT_BYTES = 150 * MIB;

let server: TestMongo;
let frontend: FrontendProcess;
let baseUrl: string;

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return Number(match?.[1]) * 1024;
}

/** Samples the RSS of a process every 20 ms until `work` ends; returns the largest sample. */
async function maxRssDuring(pid: number, work: () => Promise<void>): Promise<number> {
  let max = await rssBytes(pid);
  let done = false;
  const sampling = (async () => {
    while (!done) {
      max = Math.max(max, await rssBytes(pid));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await work();
  } finally {
    done = true;
    await sampling;
  }
  return max;
}

function send(
  method: string,
  path: string,
  options: { headers?: Record<string, string | number>; body?: Readable } = {},
): Promise<{ status: number; body: Readable }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${baseUrl}${path}`,
      { method, headers: options.headers },
      (response) => resolve({ status: response.statusCode ?? 0, body: response }),
    );
    outgoing.once('error', reject);
    if (options.body === undefined) outgoing.end();
    else options.body.pipe(outgoing);
  });
}

async function drain(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts).toString();
}

beforeAll(async () => {
  server = await testMongoStart();
  frontend = await frontendStart(server.newDatabaseUrl('memory'));
  baseUrl = frontend.url;
}, 900_000);

afterAll(async () => {
  await frontend?.stop();
  await server?.stop();
});

describe('frontend memory', () => {
  it('64 MiB body round-trips with the frontend under 150 MiB RSS', async () => {
    const digest = createHash('sha256');
    for await (const part of generatedStream(BODY_BYTES)) digest.update(part);
    const sha256 = digest.digest();

    const created = await send('PUT', '/v1/messages/0000abcd');
    expect(created.status, await drain(created.body)).toBe(201);

    let readBack = '';
    const maxRss = await maxRssDuring(frontend.child.pid as number, async () => {
      const stored = await send('PUT', '/v1/messages/0000abcd/body', {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': BODY_BYTES,
          'content-digest': `sha-256=:${sha256.toString('base64')}:`,
        },
        body: Readable.from(generatedStream(BODY_BYTES)),
      });
      expect(stored.status, await drain(stored.body)).toBe(204);

      const read = await send('GET', '/v1/messages/0000abcd/body');
      expect(read.status).toBe(200);
      const hash = createHash('sha256');
      let size = 0;
      for await (const part of read.body) {
        hash.update(part as Buffer);
        size += (part as Buffer).length;
      }
      expect(size).toBe(BODY_BYTES);
      readBack = hash.digest('hex');
    });

    expect(readBack).toBe(sha256.toString('hex'));
    expect(maxRss).toBeLessThan(RSS_LIMIT_BYTES);
  });
});
