import { createHash } from 'node:crypto';
import type { RunningTestServer } from '@smtpq/datastore-testserver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FrontendProcess, frontendStart } from './frontend-process.js';
import { PROJECT, testServerStart } from './helpers.js';

const MSGID = '0000abcd';
const ENVELOPES = 200;

let server: RunningTestServer;
let frontend: FrontendProcess;

beforeAll(async () => {
  server = await testServerStart();
  frontend = await frontendStart(`datastore://${PROJECT}/contention`, server.address);
});

afterAll(async () => {
  await frontend?.stop();
  await server?.stop();
});

const evpid = (index: number) => `${MSGID}${(index + 1).toString(16).padStart(8, '0')}`;

/** Builds the bundle of the message: its envelopes and a small body. */
function bundle(): { content: Buffer; digest: string } {
  const parts: Buffer[] = [Buffer.from('smtpq-bundle 1\n')];
  for (let index = 0; index < ENVELOPES; index++) {
    const data = Buffer.from(`version: 3\nrcpt: user${index}@example.org\nretry: 0\n`);
    parts.push(Buffer.from(`E ${evpid(index)} ${data.length}\n`), data, Buffer.from('\n'));
  }
  const body = Buffer.from('Subject: contention\r\n\r\nhello\r\n');
  parts.push(Buffer.from(`B ${body.length}\n`), body);
  const content = Buffer.concat(parts);
  const digest = createHash('sha256').update(content).digest('base64');
  return { content, digest: `sha-256=:${digest}:` };
}

// Field case FC-18: every recipient of one message failed at once, so smtpd updates 200
// envelopes of one message within a second.
describe('200 concurrent envelope updates of one message', () => {
  it('ends 200 or 503, none lost', async () => {
    const { content, digest } = bundle();
    const created = await fetch(`${frontend.url}/v1/messages/${MSGID}/bundle`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-digest': digest },
      body: content,
    });
    expect(created.status).toBe(204);
    server.counters.reset();

    const responses = await Promise.all(
      Array.from({ length: ENVELOPES }, async (_, index) => {
        const response = await fetch(`${frontend.url}/v1/envelopes/${evpid(index)}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream' },
          body: `version: 3\nrcpt: user${index}@example.org\nretry: 1\n`,
        });
        return {
          index,
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          body: await response.text(),
        };
      }),
    );

    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    for (const response of responses.filter((r) => r.status === 503)) {
      expect(response.retryAfter).not.toBeNull();
      expect(JSON.parse(response.body).error.code).toMatch(/^storage-/);
    }

    for (const response of responses.filter((r) => r.status === 200)) {
      const stored = await fetch(`${frontend.url}/v1/envelopes/${evpid(response.index)}`);
      expect(await stored.text()).toBe(
        `version: 3\nrcpt: user${response.index}@example.org\nretry: 1\n`,
      );
    }
    // Printed for the record: how many ended 200, and what the service saw.
    console.log(
      `FC-18: ${statuses.filter((s) => s === 200).length} of ${ENVELOPES} updates answered 200; ` +
        `Commit statuses ${JSON.stringify(server.counters.statusCounts().Commit)}`,
    );
  });
});
