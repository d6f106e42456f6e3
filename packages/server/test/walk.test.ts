import { describe, expect, it } from 'vitest';
import { createMessage, fetchJson, startTestServer } from './helpers.js';

describe('GET /v1/walk', () => {
  it('walks every committed envelope once, page by page', async () => {
    const server = await startTestServer();
    const committed = await createMessage(server.url, {
      body: 'b',
      envelopes: ['a', 'b', 'c'],
      commit: true,
    });
    await createMessage(server.url, { body: 'b', envelopes: ['open'] });

    const seen: Array<{ evpid: string; data: string }> = [];
    let query = '?limit=1';
    for (let page = 0; page < 20; page++) {
      const response = await fetchJson(`${server.url}/v1/walk${query}`);
      expect(response.status).toBe(200);
      for (const entry of response.json.envelopes) {
        expect(entry.etag).toMatch(/^".+"$/);
        seen.push({ evpid: entry.evpid, data: Buffer.from(entry.data, 'base64').toString() });
      }
      if (response.json.end) {
        expect(response.json.next).toBeNull();
        break;
      }
      query = `?limit=1&cursor=${encodeURIComponent(response.json.next)}`;
    }

    expect(seen.map((entry) => entry.evpid)).toEqual([...committed.evpids].sort());
    expect(seen.map((entry) => entry.data).sort()).toEqual(['a', 'b', 'c']);
  });

  it('rejects a bad limit or cursor', async () => {
    const server = await startTestServer({ queue: { maxWalkPageEnvelopes: 100 } });
    const cases: Array<[string, string]> = [
      ['limit=0', 'invalid-limit'],
      ['limit=101', 'invalid-limit'],
      ['limit=ten', 'invalid-limit'],
      ['limit=1&limit=2', 'invalid-request'],
      ['cursor=', 'invalid-cursor'],
      ['cursor=AAAA', 'invalid-cursor'],
    ];
    for (const [query, code] of cases) {
      const response = await fetchJson(`${server.url}/v1/walk?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.json.error.code, query).toBe(code);
    }
  });

  it('accepts a limit of exactly the maximum', async () => {
    const server = await startTestServer({ queue: { maxWalkPageEnvelopes: 100 } });
    const response = await fetchJson(`${server.url}/v1/walk?limit=100`);
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ envelopes: [], next: null, end: true });
  });

  it('rejects a cursor that was changed', async () => {
    const server = await startTestServer();
    await createMessage(server.url, { body: 'b', envelopes: ['a', 'b'], commit: true });
    const first = await fetchJson(`${server.url}/v1/walk?limit=1`);
    const cursor: string = first.json.next;
    const changed = cursor.slice(0, -2) + (cursor.endsWith('AA') ? 'BB' : 'AA');

    const response = await fetchJson(`${server.url}/v1/walk?cursor=${encodeURIComponent(changed)}`);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-cursor');
  });
});

describe('GET /v1/messages/{msgid}/envelopes', () => {
  it('walks the envelopes of one committed message', async () => {
    const server = await startTestServer();
    const { msgid, evpids } = await createMessage(server.url, {
      body: 'b',
      envelopes: ['a', 'b'],
      commit: true,
    });
    await createMessage(server.url, { body: 'b', envelopes: ['other'], commit: true });

    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes`);
    expect(response.status).toBe(200);
    expect(response.json.end).toBe(true);
    expect(response.json.envelopes.map((e: { evpid: string }) => e.evpid)).toEqual(
      [...evpids].sort(),
    );
  });

  it('returns 404 for an open message unless include=uncommitted', async () => {
    const server = await startTestServer();
    const { msgid, evpids } = await createMessage(server.url, { envelopes: ['a'] });

    const hidden = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes`);
    expect(hidden.status).toBe(404);
    expect(hidden.json.error.code).toBe('message-not-found');

    const shown = await fetchJson(
      `${server.url}/v1/messages/${msgid}/envelopes?include=uncommitted`,
    );
    expect(shown.status).toBe(200);
    expect(shown.json.envelopes.map((e: { evpid: string }) => e.evpid)).toEqual(evpids);
  });

  it('rejects an unknown include value', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { envelopes: ['a'] });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/envelopes?include=all`);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-request');
  });
});
