import { StorageFault } from '@smtpq/store';
import { describe, expect, it } from 'vitest';
import { createMessage, digestHeader, fetchJson, startTestServer } from './helpers.js';

const TOKEN = 'secret-token-value';

describe('request log', () => {
  it('writes one line per request', async () => {
    const server = await startTestServer();
    const { msgid } = await createMessage(server.url);
    await fetch(`${server.url}/v1/messages/${msgid}`, { headers: { 'x-request-id': 'req-42' } });

    const lines = server.logs.filter((line) => line.requestId === 'req-42');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'request',
      method: 'GET',
      route: '/v1/messages/:msgid',
      msgid,
      status: 200,
      completed: true,
    });
    expect(typeof lines[0]?.durationMs).toBe('number');
  });

  it('logs the error code of an error response', async () => {
    const server = await startTestServer();
    await fetch(`${server.url}/v1/messages/ZZ`, { headers: { 'x-request-id': 'req-bad' } });
    const line = server.logs.find((entry) => entry.requestId === 'req-bad');
    expect(line).toMatchObject({ status: 400, error: 'invalid-msgid' });
  });

  it('never logs the token, an envelope or a body', async () => {
    const server = await startTestServer({ token: TOKEN });
    const authorization = { authorization: `Bearer ${TOKEN}` };
    const created = await fetchJson(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: authorization,
    });
    const msgid = created.json.msgid;
    await fetch(`${server.url}/v1/messages/${msgid}/envelopes`, {
      method: 'POST',
      body: 'rcpt: envelope-secret@example.org',
      headers: authorization,
    });
    await fetch(`${server.url}/v1/messages/${msgid}/body`, {
      method: 'PUT',
      body: 'body-secret',
      headers: { ...authorization, 'content-digest': digestHeader('body-secret') },
    });
    await fetch(`${server.url}/v1`, { headers: { authorization: 'Bearer wrong-token-value' } });

    const text = server.logText();
    expect(server.logs.length).toBeGreaterThanOrEqual(4);
    for (const secret of [TOKEN, 'wrong-token-value', 'envelope-secret', 'body-secret']) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('fault log', () => {
  it('logs a storage fault once', async () => {
    const server = await startTestServer();
    server.driver.faults.set('get', () => new StorageFault('full', 'disk full (ENOSPC)'));

    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, {
      headers: { 'x-request-id': 'req-fault' },
    });
    expect(response.status).toBe(503);
    expect(response.json.error.code).toBe('storage-full');
    expect(response.headers.get('retry-after')).toBe('1');

    const faults = server.logs.filter(
      (line) => line.requestId === 'req-fault' && line.msg === 'storage fault',
    );
    expect(faults).toHaveLength(1);
    expect(faults[0]).toMatchObject({ level: 40, code: 'storage-full' });
    expect(JSON.stringify(faults[0])).toContain('ENOSPC');
  });

  it('logs an unexpected error with stack', async () => {
    const server = await startTestServer();
    server.driver.faults.set('get', () => new TypeError('a bug in the driver'));

    const response = await fetchJson(`${server.url}/v1/messages/0a1b2c3d`, {
      headers: { 'x-request-id': 'req-bug' },
    });
    expect(response.status).toBe(500);
    expect(response.json.error.code).toBe('internal');
    expect(response.json.error.message).toContain('req-bug');
    expect(response.text).not.toContain('a bug in the driver');

    const errors = server.logs.filter(
      (line) => line.requestId === 'req-bug' && line.msg === 'unexpected error',
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]?.level).toBe(50);
    const err = errors[0]?.err as { message: string; stack: string };
    expect(err.message).toBe('a bug in the driver');
    expect(err.stack).toContain('TypeError');
  });
});
