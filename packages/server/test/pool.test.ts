import { describe, expect, it } from 'vitest';
import { createMessage, fetchJson, startTestServer } from './helpers.js';

const LEASE_ID = /^[0-9a-f]{32}$/;

async function acquire(url: string, node: string, init: { ttlMs?: number; key?: string } = {}) {
  return fetchJson(`${url}/v1/nodes/${node}/lease`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      ...(init.key === undefined ? {} : { 'idempotency-key': init.key }),
    },
    body: JSON.stringify({ ttlMs: init.ttlMs ?? 30_000 }),
  });
}

function nodeHeaders(node: string, leaseId: string): Record<string, string> {
  return { 'smtpq-node': node, 'smtpq-lease': leaseId };
}

describe('pool node headers', () => {
  it('one header without the other is rejected', async () => {
    const server = await startTestServer();
    for (const headers of [{ 'smtpq-node': 'mx1' }, { 'smtpq-lease': 'a'.repeat(32) }]) {
      const response = await fetchJson(`${server.url}/v1/messages`, { method: 'POST', headers });
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe('invalid-node-header');
      expect(response.json.error.message).toMatch(/Smtpq-(Node|Lease) was sent without/);
    }
    const list = await fetchJson(`${server.url}/v1/messages`);
    expect(list.json.messages).toEqual([]);
  });

  it('invalid node name or lease id is rejected', async () => {
    const server = await startTestServer();
    const name = await fetchJson(`${server.url}/v1/walk`, {
      headers: nodeHeaders('MX_1', 'a'.repeat(32)),
    });
    expect(name.status).toBe(400);
    expect(name.json.error.code).toBe('invalid-node-name');
    expect(name.json.error.message).toContain('"MX_1"');

    const lease = await fetchJson(`${server.url}/v1/walk`, { headers: nodeHeaders('mx1', 'xyz') });
    expect(lease.status).toBe(400);
    expect(lease.json.error.code).toBe('invalid-node-header');
    expect(lease.json.error.message).toContain('"xyz"');
  });

  it('unknown lease is lease-lost and creates nothing', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: nodeHeaders('mx1', 'a'.repeat(32)),
    });
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('lease-lost');
    expect(response.json.error.details).toEqual({ node: 'mx1' });
    expect(response.json.error.message).toContain('acquire a new lease');
    expect((await fetchJson(`${server.url}/v1/messages`)).json.messages).toEqual([]);
  });

  it('message created with node headers has its owner', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const created = await fetchJson(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: nodeHeaders('mx1', leaseId),
    });
    expect(created.status).toBe(201);

    const info = await fetchJson(`${server.url}/v1/messages/${created.json.msgid}`);
    expect(info.json.owner).toBe('mx1');
    const record = server.logs.find(
      (line) => line.msg === 'request' && line.route === '/v1/messages' && line.status === 201,
    );
    expect(record?.node).toBe('mx1');
  });

  it('lease expires by the server clock', async () => {
    const clock = { now: 1_700_000_000_000 };
    const server = await startTestServer({ queue: { now: () => clock.now, claimGraceMs: 0 } });
    const lease = await acquire(server.url, 'mx1', { ttlMs: 1000 });
    expect(lease.json.remainingMs).toBe(1000);
    expect(lease.json.expiresAt).toBe(new Date(clock.now + 1000).toISOString());

    clock.now += 1000;
    const walk = await fetchJson(`${server.url}/v1/walk`, {
      headers: nodeHeaders('mx1', lease.json.leaseId),
    });
    expect(walk.status).toBe(409);
    expect(walk.json.error.code).toBe('lease-lost');
    const nodes = await fetchJson(`${server.url}/v1/nodes`);
    expect(nodes.json.nodes).toEqual([
      {
        node: 'mx1',
        state: 'expired',
        remainingMs: 0,
        expiresAt: lease.json.expiresAt,
        claimable: true,
      },
    ]);
  });
});

describe('pool lease routes', () => {
  it('acquire returns 201 and the lease', async () => {
    const server = await startTestServer();
    const response = await acquire(server.url, 'mx1.example-1', { ttlMs: 5000 });
    expect(response.status).toBe(201);
    expect(response.json).toMatchObject({ node: 'mx1.example-1', ttlMs: 5000 });
    expect(response.json.leaseId).toMatch(LEASE_ID);
    expect(response.json.remainingMs).toBeLessThanOrEqual(5000);
    expect(Date.parse(response.json.expiresAt)).not.toBeNaN();
  });

  it('acquire repeated with its Idempotency-Key returns the same lease', async () => {
    const server = await startTestServer();
    const first = await acquire(server.url, 'mx1', { key: 'acquire-mx1' });
    const again = await acquire(server.url, 'mx1', { key: 'acquire-mx1' });
    expect(again.status).toBe(201);
    expect(again.json.leaseId).toBe(first.json.leaseId);

    const other = await acquire(server.url, 'mx1', { key: 'acquire-other' });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('lease-held');
    expect(other.json.error.message).toContain('node names must be unique');
    expect(other.json.error.details.remainingMs).toBeGreaterThan(0);
  });

  it('renew returns 200 with the same lease id', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const renewed = await fetchJson(`${server.url}/v1/nodes/mx1/lease`, {
      method: 'PUT',
      body: JSON.stringify({ ttlMs: 2000, leaseId }),
    });
    expect(renewed.status).toBe(200);
    expect(renewed.json).toMatchObject({ node: 'mx1', leaseId, ttlMs: 2000 });
  });

  it('invalid lease bodies are rejected with the value named', async () => {
    const server = await startTestServer();
    const cases: Array<[string, string, string]> = [
      ['not json', 'invalid-request', 'not JSON'],
      ['[1000]', 'invalid-request', 'JSON object'],
      ['{"ttl": 1000}', 'invalid-request', '"ttl"'],
      ['{}', 'invalid-request', 'ttlMs'],
      ['{"ttlMs": 999}', 'invalid-request', 'ttlMs 999'],
      ['{"ttlMs": 600001}', 'invalid-request', 'ttlMs 600001'],
      ['{"ttlMs": "5000"}', 'invalid-request', 'ttlMs "5000"'],
      ['{"ttlMs": 5000, "leaseId": "abc"}', 'invalid-request', '"abc"'],
    ];
    for (const [body, code, text] of cases) {
      const response = await fetchJson(`${server.url}/v1/nodes/mx1/lease`, {
        method: 'PUT',
        body,
      });
      expect(response.status, body).toBe(400);
      expect(response.json.error.code, body).toBe(code);
      expect(response.json.error.message, body).toContain(text);
    }
    expect((await fetchJson(`${server.url}/v1/nodes`)).json.nodes).toEqual([]);
  });

  it('invalid node name in the path is rejected', async () => {
    const server = await startTestServer();
    for (const name of ['MX1', '-mx1', 'a'.repeat(64), '.mx']) {
      const response = await acquire(server.url, name);
      expect(response.status, name).toBe(400);
      expect(response.json.error.code, name).toBe('invalid-node-name');
    }
  });

  it('release is 204 and idempotent', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const url = `${server.url}/v1/nodes/mx1/lease`;

    expect((await fetch(`${url}?leaseId=${leaseId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}/v1/nodes/mx9/lease`, { method: 'DELETE' })).status).toBe(
      204,
    );
    const nodes = await fetchJson(`${server.url}/v1/nodes`);
    expect(nodes.json.nodes[0]).toMatchObject({ node: 'mx1', state: 'released', claimable: true });
  });

  it('release with another lease id is lease-lost', async () => {
    const server = await startTestServer();
    await acquire(server.url, 'mx1');
    const response = await fetchJson(`${server.url}/v1/nodes/mx1/lease?leaseId=${'b'.repeat(32)}`, {
      method: 'DELETE',
    });
    expect(response.status).toBe(409);
    expect(response.json.error.code).toBe('lease-lost');

    const malformed = await fetchJson(`${server.url}/v1/nodes/mx1/lease?leaseId=nope`, {
      method: 'DELETE',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toContain('"nope"');
  });

  it('node list counts owned messages', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    await createMessage(server.url, { body: 'b', envelopes: ['e1', 'e2'], commit: true });
    await fetchJson(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: nodeHeaders('mx1', leaseId),
    });

    const counted = await fetchJson(`${server.url}/v1/nodes?counts=true`);
    expect(counted.status).toBe(200);
    expect(counted.json.nodes).toEqual([
      expect.objectContaining({ node: 'mx1', state: 'live', messages: 1, envelopes: 0 }),
    ]);
    expect(counted.json.unowned).toEqual({ messages: 1, envelopes: 2 });

    const bad = await fetchJson(`${server.url}/v1/nodes?counts=yes`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toContain('"yes"');
  });
});

describe('pool claim route', () => {
  it('claim needs node headers', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url, {
      body: 'b',
      envelopes: ['e'],
      commit: true,
    });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/claim`, {
      method: 'POST',
      body: JSON.stringify({ from: null }),
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-node-header');
    expect((await fetchJson(`${server.url}/v1/messages/${msgid}`)).json.owner).toBeNull();
  });

  it('claim body is checked', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const { msgid } = await createMessage(server.url, {
      body: 'b',
      envelopes: ['e'],
      commit: true,
    });
    const cases: Array<[string, string, string]> = [
      ['{}', 'invalid-request', 'missing'],
      ['{"from": 5}', 'invalid-request', 'invalid from 5'],
      ['{"from": "MX"}', 'invalid-node-name', '"MX"'],
      ['{"from": null, "to": "mx1"}', 'invalid-request', '"to"'],
    ];
    for (const [body, code, text] of cases) {
      const response = await fetchJson(`${server.url}/v1/messages/${msgid}/claim`, {
        method: 'POST',
        headers: nodeHeaders('mx1', leaseId),
        body,
      });
      expect(response.status, body).toBe(400);
      expect(response.json.error.code, body).toBe(code);
      expect(response.json.error.message, body).toContain(text);
    }
    expect((await fetchJson(`${server.url}/v1/messages/${msgid}`)).json.owner).toBeNull();
  });

  it('claim moves an unowned message', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const { msgid, evpids } = await createMessage(server.url, {
      body: 'b',
      envelopes: ['e1', 'e2'],
      commit: true,
    });
    const response = await fetchJson(`${server.url}/v1/messages/${msgid}/claim`, {
      method: 'POST',
      headers: nodeHeaders('mx1', leaseId),
      body: JSON.stringify({ from: null }),
    });
    expect(response.status).toBe(200);
    expect(response.json).toEqual({ msgid, owner: 'mx1', evpids: [...evpids].sort() });
  });

  it('message list filters by owner', async () => {
    const server = await startTestServer();
    const { leaseId } = (await acquire(server.url, 'mx1')).json;
    const unowned = await createMessage(server.url, { body: 'b', envelopes: ['e'], commit: true });
    const owned = await fetchJson(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: nodeHeaders('mx1', leaseId),
    });

    const mine = await fetchJson(`${server.url}/v1/messages?owner=mx1`);
    expect(mine.json.messages.map((m: { msgid: string }) => m.msgid)).toEqual([owned.json.msgid]);
    const nobody = await fetchJson(`${server.url}/v1/messages?owner=`);
    expect(nobody.json.messages.map((m: { msgid: string }) => m.msgid)).toEqual([unowned.msgid]);

    const bad = await fetchJson(`${server.url}/v1/messages?owner=Mx1`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid-node-name');
    expect(bad.json.error.message).toContain('"Mx1"');
  });
});
