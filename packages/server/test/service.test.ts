import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageFault } from '@smtpq/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJson, rawRequest, startTestServer } from './helpers.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'smtpq-server-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('GET /v1', () => {
  it('returns the service information with the configured limits', async () => {
    const server = await startTestServer({
      limits: { maxMessageBytes: 1000, maxEnvelopeBytes: 100, maxBundleEnvelopes: 7 },
      queue: { uncommittedMaxAgeMs: 60_000, maxWalkPageEnvelopes: 50 },
    });

    const response = await fetchJson(`${server.url}/v1`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.json).toEqual({
      protocol: 'smtpq',
      version: 1,
      store: 'memory',
      features: ['bundle', 'message-walk', 'message-list', 'idempotency', 'pool'],
      limits: {
        maxMessageBytes: 1000,
        maxEnvelopeBytes: 100,
        maxWalkPageEnvelopes: 50,
        maxWalkPageBytes: 4 * 1024 * 1024,
        maxBundleEnvelopes: 7,
      },
      uncommittedMaxAgeSeconds: 60,
    });
  });

  it('announces the lower store limit', async () => {
    const server = await startTestServer({
      limits: { maxMessageBytes: 1000 },
      queue: { maxMessageBytes: 500 },
    });
    const response = await fetchJson(`${server.url}/v1`);
    expect(response.json.limits.maxMessageBytes).toBe(500);
  });
});

describe('GET /v1/health', () => {
  it('returns ok while the storage works', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/health`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ status: 'ok' });
  });

  it('returns 503 with Retry-After when the storage fails', async () => {
    const server = await startTestServer();
    server.driver.faults.set('health', () => new StorageFault('unavailable', 'disk gone'));

    const response = await fetchJson(`${server.url}/v1/health`);
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe('storage-unavailable');
    expect(response.headers.get('retry-after')).toBe('1');
  });
});

describe('GET /v1/openapi.json', () => {
  it('serves the OpenAPI document from its file', async () => {
    const path = join(folder, 'openapi.json');
    await writeFile(path, '{"openapi":"3.1.0"}');
    const server = await startTestServer({ openapiPath: path });

    const response = await fetchJson(`${server.url}/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.json).toEqual({ openapi: '3.1.0' });
  });

  it('serves the document shipped with @smtpq/protocol by default', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.json.openapi).toMatch(/^3\.1\./);
  });

  it('routes every documented operation', async () => {
    const server = await startTestServer();
    const document = (await fetchJson(`${server.url}/v1/openapi.json`)).json;

    for (const [path, operations] of Object.entries<Record<string, unknown>>(document.paths)) {
      const concrete = path.replace('{msgid}', '0a1b2c3d').replace('{evpid}', '0a1b2c3d00000001');
      for (const method of Object.keys(operations)) {
        if (!['get', 'put', 'post', 'delete'].includes(method)) continue;
        const response = await fetchJson(`${server.url}${concrete}`, {
          method: method.toUpperCase(),
        });
        expect(response.json?.error?.code, `${method} ${path}`).not.toBe('route-not-found');
        expect(response.status, `${method} ${path}`).not.toBe(405);
      }
    }
  });

  it('returns 404 JSON when the document is missing', async () => {
    const server = await startTestServer({ openapiPath: join(folder, 'absent.json') });
    const response = await fetchJson(`${server.url}/v1/openapi.json`);
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('route-not-found');
    expect(response.json.error.message).toMatch('absent.json');
  });
});

describe('unknown routes and methods', () => {
  it('returns 404 route-not-found as JSON', async () => {
    const server = await startTestServer();
    for (const path of ['/', '/v2', '/v1/nothing', '/v1/messages/0a1b2c3d/other']) {
      const response = await fetchJson(`${server.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect(response.json.error.code, path).toBe('route-not-found');
    }
  });

  it('returns 405 method-not-allowed with Allow', async () => {
    const server = await startTestServer();
    const cases: Array<[string, string, string]> = [
      ['POST', '/v1/walk', 'GET, HEAD'],
      ['DELETE', '/v1', 'GET, HEAD'],
      ['PATCH', '/v1/messages/0a1b2c3d', 'GET, HEAD, PUT, DELETE'],
      ['GET', '/v1/messages/0a1b2c3d/commit', 'POST'],
      ['POST', '/v1/envelopes/0a1b2c3d00000001', 'GET, HEAD, PUT, DELETE'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetchJson(`${server.url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.json.error.code, `${method} ${path}`).toBe('method-not-allowed');
      expect(response.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
  });

  it('returns invalid-request JSON for a path with broken percent-encoding', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/%zz`);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-request');
  });

  it('returns JSON for a request Node cannot parse', async () => {
    const server = await startTestServer();
    const response = await rawRequest(server.url, {
      method: 'GET',
      path: '/v1',
      headers: { 'content-length': '1', 'transfer-encoding': 'chunked' },
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-request');
  });
});

describe('request ids', () => {
  it('echoes the client X-Request-Id', async () => {
    const server = await startTestServer();
    const response = await fetch(`${server.url}/v1`, { headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('abc-123');
  });

  it('makes an id when none is usable', async () => {
    const server = await startTestServer();
    const none = await fetch(`${server.url}/v1`);
    const bad = await fetch(`${server.url}/v1`, { headers: { 'x-request-id': 'a b' } });
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
