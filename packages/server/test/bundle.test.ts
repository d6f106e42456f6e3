import { encodeBundle, encodeBundleHead } from '@smtpq/protocol';
import { describe, expect, it } from 'vitest';
import { digestHeader, fetchJson, rawRequest, startTestServer } from './helpers.js';

const MSGID = '0a1b2c3d';
const ENVELOPES = [
  { evpid: `${MSGID}00000001`, data: Buffer.from('rcpt: a@example.org\n') },
  { evpid: `${MSGID}00000002`, data: Buffer.from('rcpt: b@example.org\n') },
];
const BODY = Buffer.from('Subject: bundle\r\n\r\nhello\r\n');

function putBundle(url: string, bundle: Buffer, headers: Record<string, string> = {}) {
  return fetchJson(`${url}/v1/messages/${MSGID}/bundle`, {
    method: 'PUT',
    body: bundle,
    headers: { 'content-digest': digestHeader(bundle), ...headers },
  });
}

async function expectNothingStored(url: string): Promise<void> {
  const info = await fetchJson(`${url}/v1/messages/${MSGID}`);
  expect(info.status).toBe(404);
  const walk = await fetchJson(`${url}/v1/walk`);
  expect(walk.json.envelopes).toEqual([]);
}

describe('PUT /v1/messages/{msgid}/bundle', () => {
  it('creates, stores and commits the message in one request', async () => {
    const server = await startTestServer();
    const response = await putBundle(server.url, encodeBundle(ENVELOPES, BODY));
    expect(response.status).toBe(204);

    const info = await fetchJson(`${server.url}/v1/messages/${MSGID}`);
    expect(info.json.state).toBe('committed');
    const walk = await fetchJson(`${server.url}/v1/walk`);
    expect(walk.json.envelopes.map((e: { evpid: string }) => e.evpid)).toEqual(
      ENVELOPES.map((e) => e.evpid),
    );
    const body = await fetch(`${server.url}/v1/messages/${MSGID}/body`);
    expect(Buffer.from(await body.arrayBuffer())).toEqual(BODY);
  });

  it('decodes a bundle sent in small chunks', async () => {
    const server = await startTestServer();
    const bundle = encodeBundle(ENVELOPES, BODY);
    const chunks: Buffer[] = [];
    for (let start = 0; start < bundle.length; start += 7)
      chunks.push(bundle.subarray(start, start + 7));

    const response = await rawRequest(server.url, {
      method: 'PUT',
      path: `/v1/messages/${MSGID}/bundle`,
      headers: { 'content-digest': digestHeader(bundle) },
      chunks,
    });
    expect(response.status).toBe(204);
  });

  it('replays a repeat with the same Idempotency-Key', async () => {
    const server = await startTestServer();
    const bundle = encodeBundle(ENVELOPES, BODY);
    const headers = { 'idempotency-key': 'bundle-1' };
    expect((await putBundle(server.url, bundle, headers)).status).toBe(204);
    expect((await putBundle(server.url, bundle, headers)).status).toBe(204);

    const other = await putBundle(server.url, bundle, { 'idempotency-key': 'bundle-2' });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe('message-exists');
  });

  it('rejects a malformed bundle with invalid-bundle naming the offset', async () => {
    const server = await startTestServer();
    const bundle = Buffer.from('smtpq-bundle 1\nX\n');
    const response = await putBundle(server.url, bundle);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-bundle');
    expect(response.json.error.details.offset).toBe(15);
    await expectNothingStored(server.url);
  });

  it('rejects an evpid of another message', async () => {
    const server = await startTestServer();
    const bundle = encodeBundle([{ evpid: '1111111100000001', data: Buffer.from('x') }], BODY);
    const response = await putBundle(server.url, bundle);
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-bundle');
    await expectNothingStored(server.url);
  });

  it('stores nothing when the digest does not match', async () => {
    const server = await startTestServer();
    const bundle = encodeBundle(ENVELOPES, BODY);
    const response = await putBundle(server.url, bundle, {
      'content-digest': digestHeader('something else'),
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('digest-mismatch');
    await expectNothingStored(server.url);
  });

  it('returns 400 missing-digest without Content-Digest', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/${MSGID}/bundle`, {
      method: 'PUT',
      body: encodeBundle(ENVELOPES, BODY),
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('missing-digest');
    await expectNothingStored(server.url);
  });

  it('rejects an envelope over the limit with 413', async () => {
    const server = await startTestServer({ limits: { maxEnvelopeBytes: 8 } });
    const bundle = encodeBundle([{ evpid: `${MSGID}00000001`, data: Buffer.alloc(9) }], BODY);
    const response = await putBundle(server.url, bundle);
    expect(response.status).toBe(413);
    expect(response.json.error.code).toBe('envelope-too-large');
    expect(response.json.error.details.limit).toBe(8);
    await expectNothingStored(server.url);
  });

  it('rejects an oversized body unread', async () => {
    const server = await startTestServer({ limits: { maxMessageBytes: 100 } });
    const head = encodeBundleHead(ENVELOPES, 101);
    const bundle = Buffer.concat([head, Buffer.alloc(101)]);
    const response = await putBundle(server.url, bundle);
    expect(response.status).toBe(413);
    expect(response.json.error.code).toBe('body-too-large');
    await expectNothingStored(server.url);
  });

  it('rejects an invalid msgid', async () => {
    const server = await startTestServer();
    const response = await fetchJson(`${server.url}/v1/messages/ZZZZZZZZ/bundle`, {
      method: 'PUT',
      body: 'x',
    });
    expect(response.status).toBe(400);
    expect(response.json.error.code).toBe('invalid-msgid');
  });
});
