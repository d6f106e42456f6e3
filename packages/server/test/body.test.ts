import { request } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createMessage, digestHeader, fetchJson, rawRequest, startTestServer } from './helpers.js';

const LIMIT = 1024;

async function expectNoBody(url: string, msgid: string): Promise<void> {
  const info = await fetchJson(`${url}/v1/messages/${msgid}`);
  expect(info.json.bodySize).toBeNull();
  const body = await fetchJson(`${url}/v1/messages/${msgid}/body`);
  expect(body.status).toBe(404);
  expect(body.json.error.code).toBe('body-not-found');
}

describe('body upload and download', () => {
  it('stores the bytes and returns them with their digest', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const bytes = Buffer.from([0, 1, 2, 255, 13, 10, 46, 13, 10]);

    const put = await fetch(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-digest': digestHeader(bytes) },
    });
    expect(put.status).toBe(204);

    const get = await fetch(`${server.url}/v1/messages/${msgid}/body`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/octet-stream');
    expect(get.headers.get('content-length')).toBe(String(bytes.length));
    expect(get.headers.get('content-digest')).toBe(digestHeader(bytes));
    expect(Buffer.from(await get.arrayBuffer())).toEqual(bytes);
  });

  it('answers HEAD with the headers only', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'hello' });
    const head = await fetch(`${server.url}/v1/messages/${msgid}/body`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('5');
    expect(head.headers.get('content-digest')).toBe(digestHeader('hello'));
  });

  it('replaces a previous body while the message is open', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'first' });
    await fetch(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'second',
      headers: { 'content-digest': digestHeader('second') },
    });
    const get = await fetch(`${server.url}/v1/messages/${msgid}/body`);
    expect(await get.text()).toBe('second');
  });

  it('returns 404 for the body of an absent message', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d/body`);
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('message-not-found');
  });

  it('stores a JSON-typed body as bytes', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const json = '{"not": "parsed",   "spaces": true}\n';

    const put = await fetch(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: json,
      headers: { 'content-type': 'application/json', 'content-digest': digestHeader(json) },
    });
    expect(put.status).toBe(204);
    const get = await fetch(`${server.url}/v1/messages/${msgid}/body`);
    expect(await get.text()).toBe(json);
  });

  it('stores a body of exactly the limit', async () => {
    const server = await startTestServer({ limits: { maxMessageBytes: LIMIT } });
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(LIMIT, 'a');

    const response = await rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${msgid}/body`,
      headers: { 'content-digest': digestHeader(body) },
      chunks: [body.subarray(0, 100), body.subarray(100)],
    });
    expect(response.status).toBe(204);
    const info = await fetchJson(`${server.url}/v1/messages/${msgid}`);
    expect(info.json.bodySize).toBe(LIMIT);
  });

  for (const mode of ['content-length', 'chunked'] as const) {
    it(`rejects limit+1 ${mode} body with 413`, async () => {
      const server = await startTestServer({ limits: { maxMessageBytes: LIMIT } });
      const { msgid } = await createMessage(server.url);
      const body = Buffer.alloc(LIMIT + 1, 'a');
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-digest': digestHeader(body),
      };
      if (mode === 'content-length') headers['content-length'] = String(body.length);

      const response = await rawRequest(server.url, {
        method: 'PUT',
        path: `/v1/messages/${msgid}/body`,
        headers,
        chunks: [body.subarray(0, 512), body.subarray(512)],
      });
      expect(response.status).toBe(413);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.json.error.code).toBe('body-too-large');
      expect(response.json.error.details).toEqual({ limit: LIMIT });
      expect(response.json.error.message).toMatch(`limit of ${LIMIT} bytes`);
      await expectNoBody(server.url, msgid);
      if (mode === 'content-length') {
        // Refused from its Content-Length alone: the storage never saw a write.
        expect(server.driver.calls.get('blobPut')).toBeUndefined();
      }
    });
  }

  it('keeps the connection usable after an early 413', async () => {
    const server = await startTestServer({ limits: { maxMessageBytes: LIMIT } });
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(LIMIT * 4, 'a');

    const rejected = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body,
      headers: { 'content-digest': digestHeader(body) },
    });
    expect(rejected.status).toBe(413);
    const next = await fetchJson(`${server.url}/v1`);
    expect(next.status).toBe(200);
  });
});

describe('Expect: 100-continue', () => {
  it('sends 100 only to an upload it accepts', async () => {
    const server = await startTestServer({ limits: { maxMessageBytes: LIMIT } });
    const { msgid } = await createMessage(server.url);

    const small = await continueUpload(server.url, msgid, Buffer.alloc(10, 'a'));
    expect(small).toEqual({ status: 204, continued: true });
    const large = await continueUpload(server.url, msgid, Buffer.alloc(LIMIT + 1, 'a'));
    expect(large).toEqual({ status: 413, continued: false });
  });
});

/** Uploads a body the way curl does for large files: headers first, body after `100 Continue`. */
function continueUpload(
  base: string,
  msgid: string,
  body: Buffer,
): Promise<{ status: number; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = request(`${base}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      agent: false,
      headers: {
        expect: '100-continue',
        'content-length': String(body.length),
        'content-digest': digestHeader(body),
      },
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('body digests', () => {
  it('returns 400 missing-digest without Content-Digest', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'x',
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('missing-digest');
    await expectNoBody(server.url, msgid);
  });

  it('returns 400 missing-digest without a sha-256 member', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-digest': 'sha-512=:AAAA:' },
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('missing-digest');
  });

  it('returns 400 invalid-digest for a malformed field', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    for (const value of ['sha-256=abc', 'sha-256=:AAAA:', 'sha-256=:!!:']) {
      const response = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
        method: 'PUT',
        body: 'x',
        headers: { 'content-digest': value },
      });
      expect(response.status, value).toBe(400);
      expect(response.json.error.code, value).toBe('invalid-digest');
    }
    await expectNoBody(server.url, msgid);
  });

  it('returns 400 digest-mismatch and keeps the previous body', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'previous' });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'new',
      headers: { 'content-digest': digestHeader('other') },
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('digest-mismatch');

    const get = await fetch(`${server.url}/v1/messages/${msgid}/body`);
    expect(await get.text()).toBe('previous');
  });
});

describe('interrupted uploads', () => {
  it('stores nothing when the client aborts mid-upload', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(4096, 'a');

    const response = rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${msgid}/body`,
      headers: {
        'content-digest': digestHeader(body.subarray(0, 1000)),
        'content-length': String(body.length),
      },
      chunks: [body.subarray(0, 1000)],
      end: 'abort',
    });
    await expect(response).rejects.toThrow();

    // The server logs the request once it has given up on it.
    await waitForLog(server, (line) => line.msgid === msgid && line.msg === 'request');
    await expectNoBody(server.url, msgid);
  });

  it('stores nothing when a chunked upload is aborted', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(4096, 'a');

    const response = rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${msgid}/body`,
      // The digest matches the bytes sent, so only the missing last chunk shows the cut.
      headers: { 'content-digest': digestHeader(body.subarray(0, 1000)) },
      chunks: [body.subarray(0, 1000)],
      end: 'abort',
    });
    await expect(response).rejects.toThrow();
    await waitForLog(server, (line) => line.msgid === msgid && line.msg === 'request');
    await expectNoBody(server.url, msgid);
  });

  it('cuts a stalled upload with 408', async () => {
    const server = await startTestServer({ requestIdleTimeoutMs: 200 });
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(4096, 'a');

    const response = await rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${msgid}/body`,
      headers: { 'content-digest': digestHeader(body), 'content-length': String(body.length) },
      chunks: [body.subarray(0, 1000)],
      end: 'stall',
    });
    expect(response.status).toBe(408);
    expect(response.json.error.code).toBe('request-timeout');
    expect(response.headers.connection).toBe('close');
    await expectNoBody(server.url, msgid);
  });

  it('keeps an upload that waits on slow storage', async () => {
    const server = await startTestServer({ requestIdleTimeoutMs: 100 });
    const { msgid } = await createMessage(server.url);
    const body = Buffer.alloc(4096, 'b');
    // The store takes five times the connection's stall limit (twice the idle timeout).
    server.driver.gates.set('blobPut', sleep(1_000));

    const response = await rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${msgid}/body`,
      headers: { 'content-digest': digestHeader(body), 'content-length': String(body.length) },
      chunks: [body],
      end: 'finish',
    });
    expect(response.status).toBe(204);
    const info = await fetchJson(`${server.url}/v1/messages/${msgid}`);
    expect(info.json.bodySize).toBe(body.length);
  });

  it('rejects a body cut before Content-Length', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);

    const response = await halfClosedRequest(
      server.running.address.port,
      `PUT /v1/messages/${msgid}/body HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n` +
        `Content-Digest: ${digestHeader('0123456789')}\r\n\r\n01234`,
    );
    expect(response).toMatch(/^HTTP\/1.1 400 /);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error.code).toBe(
      'incomplete-body',
    );
    await waitForLog(server, (line) => line.msgid === msgid && line.msg === 'request');
    await expectNoBody(server.url, msgid);
  });
});

async function waitForLog(
  server: Awaited<ReturnType<typeof startTestServer>>,
  match: (line: Record<string, unknown>) => boolean,
): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (server.logs.some(match)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the expected log line never came');
}

/** Writes raw bytes, closes the sending side, and returns everything the server sent back. */
function halfClosedRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(parts).toString()));
    socket.write(text, () => setTimeout(() => socket.end(), 50));
  });
}
