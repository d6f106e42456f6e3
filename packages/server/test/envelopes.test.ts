import { describe, expect, it } from 'vitest';
import { createMessage, fetchJson, rawRequest, startTestServer } from './helpers.js';

const LIMIT = 512;
const INVALID_EVPIDS = [
  '0A1B2C3D00000001',
  '0a1b2c3d0000001',
  '0a1b2c3d000000011',
  '0a1b2c3d00000000',
  '0000000000000001',
  '0x1b2c3d00000001',
];

describe('envelope create', () => {
  it('creates an envelope with server evpid', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);

    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes`, {
      method: 'POST',
      body: 'rcpt: a@example.org\n',
    });
    expect(response.status).toBe(201);
    expect(response.json.evpid).toMatch(new RegExp(`^${msgid}[0-9a-f]{8}$`));
    expect(response.json.etag).toMatch(/^".+"$/);
    expect(response.headers.get('etag')).toBe(response.json.etag);
  });

  it('creates an envelope with client evpid', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const evpid = `${msgid}00000001`;

    const response = await fetchJson(`${server.url}/v1/envelopes/${evpid}`, {
      method: 'PUT',
      body: 'data',
      headers: { 'if-none-match': '*' },
    });
    expect(response.status).toBe(201);
    expect(response.json.evpid).toBe(evpid);

    const again = await fetchJson(`${server.url}/v1/envelopes/${evpid}`, {
      method: 'PUT',
      body: 'data',
      headers: { 'if-none-match': '*' },
    });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('envelope-exists');
  });

  it('returns 404 message-not-found for an absent message', async () => {
    const server = await startTestServer();
    const post = await fetchJson(`${server.url}/v1/messages/0a1b2c3d/envelopes`, {
      method: 'POST',
      body: 'x',
    });
    const put = await fetchJson(`${server.url}/v1/envelopes/0a1b2c3d00000001`, {
      method: 'PUT',
      body: 'x',
      headers: { 'if-none-match': '*' },
    });
    for (const response of [post, put]) {
      expect(response.status).toBe(404);
      expect(response.json.error.code).toBe('message-not-found');
    }
  });

  it('stores an envelope sent as application/json as bytes', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    const created = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    const read = await fetch(`${server.url}/v1/envelopes/${created.json.evpid}`);
    expect(await read.text()).toBe('{"a":1}');
  });
});

describe('envelope limit', () => {
  it('stores an envelope of exactly the limit', async () => {
    const server = await startTestServer({ limits: { maxEnvelopeBytes: LIMIT } });
    const { msgid } = await createMessage(server.url);
    const data = Buffer.alloc(LIMIT, 'e');

    const created = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes`, {
      method: 'POST',
      body: data,
    });
    expect(created.status).toBe(201);
    const read = await fetch(`${server.url}/v1/envelopes/${created.json.evpid}`);
    expect(Buffer.from(await read.arrayBuffer())).toEqual(data);
  });

  const routes = [
    { name: 'POST', method: 'POST', path: (msgid: string) => `/v1/messages/${msgid}/envelopes` },
    {
      name: 'PUT create',
      method: 'PUT',
      path: (msgid: string) => `/v1/envelopes/${msgid}00000001`,
    },
  ];
  for (const route of routes) {
    for (const mode of ['content-length', 'chunked'] as const) {
      it(`rejects one byte over the limit on ${route.name} (${mode})`, async () => {
        const server = await startTestServer({ limits: { maxEnvelopeBytes: LIMIT } });
        const { msgid } = await createMessage(server.url);
        const data = Buffer.alloc(LIMIT + 1, 'e');
        const headers: Record<string, string> = {};
        if (route.method === 'PUT') headers['if-none-match'] = '*';
        if (mode === 'content-length') headers['content-length'] = String(data.length);

        const response = await rawRequest(server.url, {
          method: route.method,
          path: route.path(msgid),
          headers,
          chunks: [data.subarray(0, 100), data.subarray(100)],
        });
        expect(response.status).toBe(413);
        expect(response.json.error.code).toBe('envelope-too-large');
        expect(response.json.error.details).toEqual({ limit: LIMIT });
        expect(response.json.error.message).toMatch(`limit of ${LIMIT} bytes`);

        const walk = await fetchJson(
          `${server.url}/v1/messages/${msgid}/envelopes?include=uncommitted`,
        );
        expect(walk.json.envelopes).toEqual([]);
      });
    }
  }
});

describe('envelope read, replace and delete', () => {
  it('reads the bytes with their ETag', async () => {
    const server = await startTestServer();
    const { evpids } = await createMessage(server.url, { envelopes: ['version: 3\n'] });

    const response = await fetch(`${server.url}/v1/envelopes/${evpids[0]}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('etag')).toMatch(/^".+"$/);
    expect(await response.text()).toBe('version: 3\n');
  });

  it('returns 404 envelope-not-found for an absent envelope', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/envelopes/0a1b2c3d00000001`);
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('envelope-not-found');
  });

  it('replaces an envelope with and without If-Match', async () => {
    const server = await startTestServer();
    const { evpids } = await createMessage(server.url, { envelopes: ['one'] });
    const url = `${server.url}/v1/envelopes/${evpids[0]}`;
    const etag = (await fetch(url)).headers.get('etag')!;

    const replaced = await fetchJson(url, {
      method: 'PUT',
      body: 'two',
      headers: { 'if-match': etag },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json.evpid).toBe(evpids[0]);
    expect(replaced.json.etag).not.toBe(etag);
    expect(replaced.headers.get('etag')).toBe(replaced.json.etag);

    const stale = await fetchJson(url, {
      method: 'PUT',
      body: 'three',
      headers: { 'if-match': etag },
    });
    expect(stale.status).toBe(412);
    expect(stale.json.error.code).toBe('precondition-failed');

    const unconditional = await fetchJson(url, { method: 'PUT', body: 'four' });
    expect(unconditional.status).toBe(200);
    const any = await fetchJson(url, { method: 'PUT', body: 'five', headers: { 'if-match': '*' } });
    expect(any.status).toBe(200);
    expect(await (await fetch(url)).text()).toBe('five');
  });

  it('returns 404 for a replace of an absent envelope', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/envelopes/0a1b2c3d00000001`, {
      method: 'PUT',
      body: 'x',
    });
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('envelope-not-found');
  });

  it('rejects malformed preconditions with invalid-precondition', async () => {
    const server = await startTestServer();
    const { evpids } = await createMessage(server.url, { envelopes: ['one'] });
    const url = `${server.url}/v1/envelopes/${evpids[0]}`;
    const cases: Array<[string, Record<string, string>]> = [
      ['PUT', { 'if-match': 'abc' }],
      ['PUT', { 'if-match': 'W/"abc"' }],
      ['PUT', { 'if-match': '"a", "b"' }],
      ['PUT', { 'if-none-match': '"abc"' }],
      ['PUT', { 'if-none-match': '*', 'if-match': '*' }],
      ['DELETE', { 'if-match': 'abc' }],
    ];
    for (const [method, headers] of cases) {
      const response = await fetchJson(url, {
        method,
        body: method === 'PUT' ? 'x' : undefined,
        headers,
      });
      expect(response.status, JSON.stringify(headers)).toBe(400);
      expect(response.json.error.code, JSON.stringify(headers)).toBe('invalid-precondition');
    }
    expect(await (await fetch(url)).text()).toBe('one');
  });

  it('deletes an envelope, honouring If-Match', async () => {
    const server = await startTestServer();
    const { evpids } = await createMessage(server.url, { envelopes: ['one', 'two'] });
    const url = `${server.url}/v1/envelopes/${evpids[0]}`;

    const stale = await fetchJson(url, { method: 'DELETE', headers: { 'if-match': '"stale"' } });
    expect(stale.status).toBe(412);
    expect(stale.json.error.code).toBe('precondition-failed');

    const etag = (await fetch(url)).headers.get('etag')!;
    expect((await fetch(url, { method: 'DELETE', headers: { 'if-match': etag } })).status).toBe(
      204,
    );
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(204);
    expect((await fetchJson(url)).status).toBe(404);
  });
});

describe('envelope ids', () => {
  it('rejects every other form of evpid with invalid-evpid', async () => {
    const server = await startTestServer();
    for (const evpid of INVALID_EVPIDS) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const response = await fetchJson(`${server.url}/v1/envelopes/${evpid}`, {
          method,
          body: method === 'PUT' ? 'x' : undefined,
        });
        expect(response.status, `${method} ${evpid}`).toBe(400);
        expect(response.json.error.code, `${method} ${evpid}`).toBe('invalid-evpid');
      }
    }
  });
});
