import { createQueueStore, MemoryDriver } from '@smtpq/store';
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, StartupError, startServer } from '../src/index.js';
import { fetchJson, startTestServer } from './helpers.js';

const TOKEN = 'correct-horse-battery-staple';

describe('bearer authentication', () => {
  it('returns 401 without Authorization', async () => {
    const server = await startTestServer({ token: TOKEN });
    const response = await fetchJson(`${server.url}/v1`);
    expect(response.status).toBe(401);
    expect(response.json.error.code).toBe('unauthorized');
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('returns 401 for a wrong token of any length', async () => {
    const server = await startTestServer({ token: TOKEN });
    for (const header of ['Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer ']) {
      const response = await fetchJson(`${server.url}/v1`, { headers: { authorization: header } });
      expect(response.status, header).toBe(401);
      expect(response.json.error.code, header).toBe('unauthorized');
      expect(response.text, header).not.toContain(TOKEN);
    }
  });

  it('accepts the right token', async () => {
    const server = await startTestServer({ token: TOKEN });
    const response = await fetchJson(`${server.url}/v1`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
  });

  it('requires the token before revealing routes', async () => {
    const server = await startTestServer({ token: TOKEN });
    const response = await fetchJson(`${server.url}/v1/nothing`);
    expect(response.status).toBe(401);
  });

  it('serves GET /v1/health without a token', async () => {
    const server = await startTestServer({ token: TOKEN });
    const response = await fetchJson(`${server.url}/v1/health`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ status: 'ok' });
  });

  it('needs no token when the server has none', async () => {
    const server = await startTestServer();
    expect((await fetchJson(`${server.url}/v1`)).status).toBe(200);
  });
});

describe('listening address', () => {
  it('refuses a non-loopback address without a token', async () => {
    const store = createQueueStore(new MemoryDriver());
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.org']) {
      const start = startServer({ store, host, port: 8025 });
      await expect(start, host).rejects.toThrow(StartupError);
      await expect(start, host).rejects.toThrow(/--token-file/);
      await expect(start, host).rejects.toThrow(host);
    }
  });

  it('refuses an empty token', async () => {
    const store = createQueueStore(new MemoryDriver());
    await expect(startServer({ store, port: 0, token: '' })).rejects.toThrow(/token is empty/);
  });

  it('tells loopback addresses from others', () => {
    const cases: Array<[string, boolean]> = [
      ['127.0.0.1', true],
      ['127.1.2.3', true],
      ['::1', true],
      ['0:0:0:0:0:0:0:1', true],
      ['::ffff:127.0.0.1', true],
      ['localhost', true],
      ['LOCALHOST', true],
      ['0.0.0.0', false],
      ['::', false],
      ['128.0.0.1', false],
      ['::ffff:10.0.0.1', false],
      ['10.0.0.1', false],
      ['mail.example.org', false],
    ];
    for (const [host, loopback] of cases) {
      expect(isLoopbackHost(host), host).toBe(loopback);
    }
  });
});
