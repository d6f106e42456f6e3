import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFrontend } from '../frontend.js';
import { readBody, walkEnvelopes } from '../frontend-api.js';
import { type MaildirMessage, splitMessage } from '../maildir.js';
import { stopAllStarted } from '../processes.js';
import { type SmtpSink, startSink } from '../sink.js';
import { type SmtpdInstance, startSmtpd } from '../smtpd.js';
import { localDomain, relayDomain } from '../smtpd-config.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import {
  maskSmtpdTrace,
  prepareRestCases,
  type StoreProvider,
  testMessage,
  waitStoreEmpty,
} from './context.js';

interface OddBody {
  name: string;
  body: () => Buffer;
}

const longLines = [999, 1000, 5000, 20_000, 65_000]
  .map((length, index) => `${String(index).repeat(length)}\r\n`)
  .join('');

/** 30 MiB of base64 lines, as a large attachment looks on the wire. */
function largeBody(): Buffer {
  const lines = randomBytes(22 * 1024 * 1024)
    .toString('base64')
    .match(/.{1,76}/g)!;
  return Buffer.from(`${lines.join('\r\n')}\r\n`).subarray(0, 30 * 1024 * 1024 - 2);
}

const oddBodies: OddBody[] = [
  { name: 'NUL bytes', body: () => Buffer.from('before\0after\r\n\0\r\nplain\r\n', 'latin1') },
  { name: 'bare LF and bare CR', body: () => Buffer.from('one\ntwo\r\nthree\rfour\n\nfive\r\n') },
  {
    name: '8-bit bytes',
    body: () => {
      const bytes = Array.from({ length: 128 }, (_, index) => 0x80 + index);
      const text = Buffer.from('Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e, \u{1f4e8}\r\n');
      return Buffer.concat([Buffer.from(bytes), Buffer.from('\r\n'), text]);
    },
  },
  { name: 'lines over 998 characters', body: () => Buffer.from(longLines) },
  { name: 'a 30 MiB message', body: largeBody },
];

/**
 * Models what smtpd makes of DATA lines, with either queue: it ends a line at LF and drops one CR
 * before it, and it copies each line as a C string, so a line ends at its first NUL byte.
 * Local delivery writes LF line ends, relaying CRLF.
 */
function smtpdLines(body: Buffer): string[] {
  const text = body.toString('latin1');
  const lines = text.split('\n');
  if (lines.at(-1) === '') {
    lines.pop();
  }
  return lines.map((line) => line.replace(/\r$/, '').split('\0')[0]!);
}

function expectedMaildirBody(body: Buffer): Buffer {
  return Buffer.from(
    smtpdLines(body)
      .map((line) => `${line}\n`)
      .join(''),
    'latin1',
  );
}

function expectedRelayedBody(body: Buffer): Buffer {
  return Buffer.from(
    smtpdLines(body)
      .map((line) => `${line}\r\n`)
      .join(''),
    'latin1',
  );
}

/** Finds smtpd's own spool file of a queued message (queue=fs). */
function spoolMessage(smtpd: SmtpdInstance, msgid: string): Buffer {
  const queueDir = path.join(smtpd.dir, 'spool', 'queue');
  for (const bucket of readdirSync(queueDir)) {
    const file = path.join(queueDir, bucket, msgid, 'message');
    if (existsSync(file)) {
      return readFileSync(file);
    }
  }
  throw new Error(`message ${msgid} not found under ${queueDir}`);
}

interface Run {
  smtpd: SmtpdInstance;
  sink: SmtpSink;
  msgid: string;
}

/** Sends one message to a local and a relayed recipient while the relay refuses. */
async function sendHeld(smtpd: SmtpdInstance, sink: SmtpSink, data: Buffer): Promise<Run> {
  const result = await sendMail({
    port: smtpd.port,
    from: 'alice@sender.test',
    to: [`bob@${localDomain}`, `dave@${relayDomain}`],
    data,
    timeoutSeconds: 120,
  });
  expect(result.dataReply?.text).toMatch(/^250 /);
  await waitFor('the maildir copy', () => smtpd.maildirMessages().length === 1, {
    timeoutMs: 60_000,
  });
  await waitFor('the sink to refuse the relayed copy', () => sink.refusedRecipients > 0, {
    timeoutMs: 60_000,
  });
  return { smtpd, sink, msgid: result.msgid! };
}

async function releaseHeld(run: Run): Promise<Buffer> {
  run.sink.accept();
  expect((await run.smtpd.smtpctl(['schedule', 'all'])).code).toBe(0);
  await waitFor('the sink to accept the relayed copy', () => run.sink.messages.length === 1, {
    timeoutMs: 60_000,
  });
  return run.sink.messages[0]!.data;
}

function onlyMaildirFile(smtpd: SmtpdInstance): MaildirMessage {
  const messages = smtpd.maildirMessages();
  expect(messages).toHaveLength(1);
  return messages[0]!;
}

/**
 * Bodies that stress the byte path: each goes through smtpd's own queue and through
 * queue-rest, and both must store and deliver the same bytes.
 */
export function defineBodyCases(provider: StoreProvider): void {
  describe(`queue=rest message bytes (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    for (const odd of oddBodies) {
      it(`keeps ${odd.name} as smtpd's own queue does`, async () => {
        const body = odd.body();
        const data = testMessage(`bytes-${odd.name}`, {
          to: [`bob@${localDomain}`, `dave@${relayDomain}`],
          body,
        });

        const fsSink = await startSink({ refuse: true });
        const fsSmtpd = await startSmtpd({
          queue: 'fs',
          relay: { host: '127.0.0.1', port: fsSink.port },
        });
        const restSink = await startSink({ refuse: true });
        const frontend = await startFrontend(await provider.createStore());
        const restSmtpd = await startSmtpd({
          queue: { restArg: frontend.url },
          relay: { host: '127.0.0.1', port: restSink.port },
        });

        const reference = await sendHeld(fsSmtpd, fsSink, data);
        const rest = await sendHeld(restSmtpd, restSink, data);

        // While queued, the frontend stores exactly the file smtpd's own queue keeps. The local
        // copy lands in the maildir before smtpd deletes its envelope, so wait for that delete.
        await waitFor('the local envelope to leave the store', async () => {
          return (await walkEnvelopes(frontend.url)).length === 1;
        });
        const stored = await readBody(frontend.url, rest.msgid);
        const spooled = spoolMessage(fsSmtpd, reference.msgid);
        expect(stored.length).toBe(spooled.length);
        expect(maskSmtpdTrace(stored).equals(maskSmtpdTrace(spooled))).toBe(true);

        const restMaildir = onlyMaildirFile(restSmtpd).data;
        const fsMaildir = onlyMaildirFile(fsSmtpd).data;
        expect(maskSmtpdTrace(restMaildir).equals(maskSmtpdTrace(fsMaildir))).toBe(true);
        expect(splitMessage(restMaildir).body.equals(expectedMaildirBody(body))).toBe(true);

        const restRelayed = await releaseHeld(rest);
        const fsRelayed = await releaseHeld(reference);
        expect(restRelayed.length).toBe(fsRelayed.length);
        expect(maskSmtpdTrace(restRelayed).equals(maskSmtpdTrace(fsRelayed))).toBe(true);
        expect(splitMessage(restRelayed).body.equals(expectedRelayedBody(body))).toBe(true);

        await waitStoreEmpty(frontend.url);
      }, 180_000);
    }
  });
}
