import { formatContentDigest, sha256 } from '@smtpq/protocol';
import { AWKWARD_TEXT, everyByteValue, firstDifference } from '../../bytes.js';
import { check } from '../../failure.js';
import type { CodeCase } from '../case-types.js';
import { rawExchange } from '../raw-http.js';

/** Reads a body back and checks its bytes, Content-Length and Content-Digest. */
async function expectBody(
  context: Parameters<CodeCase['run']>[0],
  msgid: string,
  expected: Buffer,
  what: string,
): Promise<void> {
  const response = await context.http.expect('GET', `/v1/messages/${msgid}/body`, 200, {
    timeoutMs: 600_000,
  });
  check(
    response.body.equals(expected),
    `${what}: body read back differs: ${firstDifference(response.body, expected)}`,
  );
  check(
    response.headers['content-length'] === String(expected.length),
    `${what}: Content-Length is ${response.headers['content-length']}, expected ${expected.length}`,
  );
  const digest = formatContentDigest(sha256(expected));
  check(
    response.headers['content-digest'] === digest,
    `${what}: Content-Digest is ${response.headers['content-digest']}, expected ${digest}`,
  );
}

export const bodyCodeCases: CodeCase[] = [
  {
    name: 'bodies keep every byte value',
    note: 'bodies of 0 bytes to 1 MiB with NUL, bare CR and LF, dots and 8-bit bytes come back byte for byte',
    run: async (context) => {
      const sizes = [0, 1, 2, 255, 256, 4097, 65_537, 1024 * 1024 + 3].filter(
        (size) => size <= context.info.limits.maxMessageBytes,
      );
      const bodies = [AWKWARD_TEXT, ...sizes.map((size, i) => everyByteValue(size, i))];
      for (const body of bodies) {
        const msgid = context.vars.newMsgid();
        await context.http.expect('PUT', `/v1/messages/${msgid}`, 201);
        await context.http.expect('PUT', `/v1/messages/${msgid}/body`, 204, {
          body,
          digest: 'auto',
        });
        await expectBody(context, msgid, body, `open message, ${body.length} bytes`);
        await context.http.expect('POST', `/v1/messages/${msgid}/commit`, 204);
        await expectBody(context, msgid, body, `committed message, ${body.length} bytes`);
      }
    },
  },
  {
    name: 'large body byte for byte',
    note: 'a body of 40 MiB (or the size limit, if smaller) holding every byte value comes back byte for byte',
    run: async (context) => {
      const size = Math.min(context.settings.largeBodyBytes, context.info.limits.maxMessageBytes);
      const body = everyByteValue(size, 77);
      const msgid = context.vars.newMsgid();
      await context.http.expect('PUT', `/v1/messages/${msgid}`, 201);
      await context.http.expect('PUT', `/v1/messages/${msgid}/body`, 204, {
        body,
        digest: 'auto',
        timeoutMs: 600_000,
      });
      await context.http.expect('POST', `/v1/messages/${msgid}/commit`, 204);
      await expectBody(context, msgid, body, `body of ${size} bytes`);
    },
  },
  {
    name: 'short upload stores nothing',
    note: 'a body that ends before its Content-Length gets 400 incomplete-body (or a closed connection) and changes nothing',
    run: async (context) => {
      const msgid = context.vars.newMsgid();
      const kept = Buffer.from('Subject: kept\r\n\r\nkept body\r\n');
      await context.http.expect('PUT', `/v1/messages/${msgid}`, 201);
      await context.http.expect('PUT', `/v1/messages/${msgid}/body`, 204, {
        body: kept,
        digest: 'auto',
      });

      const declared = everyByteValue(100_000, 4);
      const sent = declared.subarray(0, 60_000);
      const target = context.http.target.target(`/v1/messages/${msgid}/body`);
      const auth =
        context.http.token === undefined ? '' : `Authorization: Bearer ${context.http.token}\r\n`;
      const head =
        `PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n${auth}` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${declared.length}\r\n` +
        `Content-Digest: ${formatContentDigest(sha256(declared))}\r\nConnection: close\r\n\r\n`;
      const response = await rawExchange(target, head, sent);

      if (response !== null) {
        check(
          response.status === 400,
          `a body cut off after 60000 of 100000 bytes got ${response.status} ${response.body.toString('utf8').slice(0, 200)}, expected 400 incomplete-body`,
        );
        const code = JSON.parse(response.body.toString('utf8') || '{}')?.error?.code;
        check(
          code === 'incomplete-body',
          `a body cut off got 400 ${code}, expected incomplete-body`,
        );
      }
      await expectBody(context, msgid, kept, 'after the short upload');
    },
  },
];
