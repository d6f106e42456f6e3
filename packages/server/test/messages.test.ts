import { describe, expect, it, vi } from 'vitest';
import { createMessage, digestHeader, fetchJson, startTestServer } from './helpers.js';

const INVALID_MSGIDS = ['0A1B2C3D', '0a1b2c3', '0a1b2c3d0', '0x0a1b2c', '00000000', 'zzzzzzzz'];

describe('message create', () => {
  it('creates a message with a server-chosen msgid', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(response.json.msgid).toMatch(/^[0-9a-f]{8}$/);
    expect(response.headers.get('location')).toBe(`/v1/messages/${response.json.msgid}`);
  });

  it('creates a message with the client msgid', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, { method: 'PUT' });
    expect(response.status).toBe(201);
    expect(response.json).toEqual({ msgid: '0a1b2c3d' });
  });

  it('returns 409 message-exists for an existing msgid', async () => {
    const server = await startTestServer();
    await fetch(`${server.url}/v1/messages/0a1b2c3d`, { method: 'PUT' });
    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, { method: 'PUT' });
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('message-exists');
  });

  it('replays a create with the same Idempotency-Key', async () => {
    const server = await startTestServer();
    const headers = { 'idempotency-key': 'attempt-1' };
    const first = await fetchJson(`${server.url}/v1/messages`, { method: 'POST', headers });
    const second = await fetchJson(`${server.url}/v1/messages`, { method: 'POST', headers });
    expect(second.status).toBe(201);
    expect(second.json.msgid).toBe(first.json.msgid);

    const put = { method: 'PUT', headers: { 'idempotency-key': 'attempt-2' } };
    expect((await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, put)).status).toBe(201);
    expect((await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, put)).status).toBe(201);
  });

  it('rejects an invalid Idempotency-Key', async () => {
    const server = await startTestServer();
    for (const key of ['a b', 'x'.repeat(129), 'key/1']) {
      const response = await fetchJson(`${server.url}/v1/messages`, {
        method: 'POST',
        headers: { 'idempotency-key': key },
      });
      expect(response.status, key).toBe(400);
      expect(response.json.error.code, key).toBe('invalid-idempotency-key');
    }
  });

  it('stores nothing for a create with an invalid key', async () => {
    const server = await startTestServer();
    await fetch(`${server.url}/v1/messages/0a1b2c3d`, {
      method: 'PUT',
      headers: { 'idempotency-key': 'a b' },
    });
    const info = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`);
    expect(info.status).toBe(404);
  });
});

describe('message ids', () => {
  it('rejects every other form of msgid with invalid-msgid', async () => {
    const server = await startTestServer();
    const routes: Array<[string, string]> = [
      ['PUT', ''],
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/commit'],
      ['GET', '/body'],
      ['POST', '/envelopes'],
      ['GET', '/envelopes'],
    ];
    for (const msgid of INVALID_MSGIDS) {
      for (const [method, suffix] of routes) {
        const response = await fetchJson(`${server.url}/v1/messages/${msgid}${suffix}`, {
          method,
        });
        expect(response.status, `${method} ${msgid}${suffix}`).toBe(400);
        expect(response.json.error.code, `${method} ${msgid}${suffix}`).toBe('invalid-msgid');
      }
    }
  });
});

describe('message info and delete', () => {
  it('returns the state, body size and digest', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'hello' });

    const response = await fetchJson(`${server.url}/v1/messages/${msgid}`);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      msgid,
      state: 'open',
      bodySize: 5,
      bodySha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    });
    expect(Date.parse(response.json.createdAt)).not.toBeNaN();
  });

  it('returns 404 message-not-found for an absent message', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`);
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('message-not-found');
  });

  it('deletes a message idempotently', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'x', envelopes: ['e'] });

    const first = await fetch(`${server.url}/v1/messages/${msgid}`, { method: 'DELETE' });
    const second = await fetch(`${server.url}/v1/messages/${msgid}`, { method: 'DELETE' });
    expect(first.status).toBe(204);
    expect(second.status).toBe(204);
    expect((await fetchJson(`${server.url}/v1/messages/${msgid}`)).status).toBe(404);
  });
});

describe('message list', () => {
  it('lists messages and filters them by state', async () => {
    const server = await startTestServer();
    const open = await createMessage(server.url);
    const committed = await createMessage(server.url, {
      body: 'b',
      envelopes: ['e'],
      commit: true,
    });

    const all = await fetchJson(`${server.url}/v1/messages`);
    expect(all.status).toBe(200);
    expect(all.json.end).toBe(true);
    expect(all.json.next).toBeNull();
    expect(all.json.messages.map((m: { msgid: string }) => m.msgid).sort()).toEqual(
      [open.msgid, committed.msgid].sort(),
    );

    const openOnly = await fetchJson(`${server.url}/v1/messages?state=open`);
    expect(openOnly.json.messages.map((m: { msgid: string }) => m.msgid)).toEqual([open.msgid]);
    const committedOnly = await fetchJson(`${server.url}/v1/messages?state=committed`);
    expect(committedOnly.json.messages.map((m: { msgid: string }) => m.msgid)).toEqual([
      committed.msgid,
    ]);
  });

  it('pages with limit and cursor', async () => {
    const server = await startTestServer();
    for (let i = 0; i < 3; i++) await createMessage(server.url);

    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 10; page++) {
      const query = cursor === '' ? '?limit=1' : `?limit=1&cursor=${encodeURIComponent(cursor)}`;
      const response = await fetchJson(`${server.url}/v1/messages${query}`);
      expect(response.status).toBe(200);
      seen.push(...response.json.messages.map((m: { msgid: string }) => m.msgid));
      if (response.json.end) break;
      cursor = response.json.next;
    }
    expect(new Set(seen).size).toBe(3);
  });

  it('rejects a bad state, limit or cursor', async () => {
    const server = await startTestServer({ queue: { maxWalkPageEnvelopes: 10 } });
    const cases: Array<[string, string]> = [
      ['state=closed', 'invalid-request'],
      ['state=open&state=committed', 'invalid-request'],
      ['limit=0', 'invalid-limit'],
      ['limit=11', 'invalid-limit'],
      ['limit=abc', 'invalid-limit'],
      ['limit=1.5', 'invalid-limit'],
      ['limit=-1', 'invalid-limit'],
      ['cursor=', 'invalid-cursor'],
      ['cursor=not-a-cursor', 'invalid-cursor'],
    ];
    for (const [query, code] of cases) {
      const response = await fetchJson(`${server.url}/v1/messages?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.json.error.code, query).toBe(code);
    }
  });
});

describe('message commit', () => {
  it('commits a message with a body, and again', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'x', envelopes: ['e'] });

    const first = await fetch(`${server.url}/v1/messages/${msgid}/commit`, { method: 'POST' });
    const second = await fetch(`${server.url}/v1/messages/${msgid}/commit`, { method: 'POST' });
    expect(first.status).toBe(204);
    expect(second.status).toBe(204);
    const info = await fetchJson(`${server.url}/v1/messages/${msgid}`);
    expect(info.json.state).toBe('committed');
  });

  it('returns 409 body-missing without a body', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { envelopes: ['e'] });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/commit`, {
      method: 'POST',
    });
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('body-missing');
  });

  it('returns 404 message-not-found for an absent message', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d/commit`, {
      method: 'POST',
    });
    expect(response.status).toBe(404);
    expect(response.json.error.code).toBe('message-not-found');
  });

  it('returns 410 after garbage collection', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const server = await startTestServer({
      queue: { uncommittedMaxAgeMs: 60_000, now: () => now },
      gcIntervalMs: 20,
    });
    const { msgid } = await createMessage(server.url, { body: 'x' });
    now += 61_000;
    await vi.waitFor(
      async () => {
        expect((await fetchJson(`${server.url}/v1/messages/${msgid}`)).status).not.toBe(200);
      },
      { timeout: 10_000, interval: 20 },
    );

    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/commit`, {
      method: 'POST',
    });
    expect(response.status).toBe(410);
    expect(response.json.error.code).toBe('message-expired');
  });

  it('rejects a body after the commit', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, { body: 'x', commit: true });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'y',
      headers: { 'content-digest': digestHeader('y') },
    });
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('message-committed');
  });
});

describe('deletes with a malformed Idempotency-Key', () => {
  it('rejects them and deletes nothing', async () => {
    const server = await startTestServer();
    await fetch(`${server.url}/v1/messages/0a1b2c3d`, { method: 'PUT' });
    await fetch(`${server.url}/v1/envelopes/0a1b2c3d00000001`, {
      method: 'PUT',
      headers: { 'if-none-match': '*' },
      body: 'rcpt: a@example.org\n',
    });
    const headers = { 'idempotency-key': 'a b' };

    const envelope = await fetchJson(`${server.url}/v1/envelopes/0a1b2c3d00000001`, {
      method: 'DELETE',
      headers,
    });
    const message = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, {
      method: 'DELETE',
      headers,
    });

    expect(envelope.status).toBe(400);
    expect(envelope.json.error.code).toBe('invalid-idempotency-key');
    expect(envelope.json.error.message).toContain('"a b"');
    expect(message.status).toBe(400);
    expect(message.json.error.code).toBe('invalid-idempotency-key');
    expect((await fetch(`${server.url}/v1/envelopes/0a1b2c3d00000001`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/messages/0a1b2c3d`)).status).toBe(200);
  });
});
