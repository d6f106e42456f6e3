import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Frontend, startFrontend } from '../frontend.js';
import { listMessages, walkEnvelopes } from '../frontend-api.js';
import { headerValue } from '../maildir.js';
import { track } from '../processes.js';
import { ensureQueueRestInstalled } from '../queue-rest.js';
import type { SmtpSink } from '../sink.js';
import { type SmtpdInstance, type SmtpdOptions, startSmtpd } from '../smtpd.js';
import { ensureSystemPackages } from '../system.js';
import { waitFor } from '../wait.js';

/** Makes empty stores of one kind, so that the same cases run against every frontend. */
export interface StoreProvider {
  /** Store kind, shown in test titles: `fs`, `s3`, ... */
  readonly name: string;
  /** Returns the URL of a new empty store; the provider removes it after the test file. */
  createStore(): Promise<string>;
  /** Variables the frontend needs to reach the stores, such as credentials or an emulator. */
  readonly frontendEnv?: Record<string, string>;
}

/** Stores in temporary folders of the local filesystem. */
export const fsStoreProvider: StoreProvider = {
  name: 'fs',
  createStore: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-store-'));
    track({
      name: `store folder ${dir}`,
      stop: async () => {
        if (process.env.SMTPQ_E2E_KEEP === undefined) {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    });
    return `fs://${dir}`;
  },
};

/** Installs the system packages and the built queue-rest, once per build. */
export async function prepareRestCases(): Promise<void> {
  await ensureSystemPackages();
  await ensureQueueRestInstalled();
}

/** Starts a frontend on a new store, and smtpd with `-B queue=rest:URL` of that frontend. */
export async function startRestPair(
  provider: StoreProvider,
  options: { sink?: SmtpSink; smtpd?: Partial<SmtpdOptions> } = {},
): Promise<{ frontend: Frontend; smtpd: SmtpdInstance }> {
  const frontend = await startFrontend(await provider.createStore(), {
    ...(provider.frontendEnv === undefined ? {} : { env: provider.frontendEnv }),
  });
  const smtpd = await startSmtpd({
    queue: { restArg: frontend.url },
    ...(options.sink === undefined
      ? {}
      : { relay: { host: '127.0.0.1', port: options.sink.port } }),
    ...options.smtpd,
  });
  return { frontend, smtpd };
}

/** Header field that names each test message, so deliveries can be counted per message. */
export const testIdHeader = 'X-Smtpq-Test-Id';

/** Builds a message with CRLF line ends and a test id header. */
export function testMessage(
  testId: string,
  options: { from?: string; to: string[]; body?: string | Buffer },
): Buffer {
  const header = [
    `From: <${options.from ?? 'alice@sender.test'}>`,
    `To: ${options.to.map((address) => `<${address}>`).join(', ')}`,
    `Subject: smtpq end-to-end ${testId}`,
    'Date: Fri, 04 Dec 2026 12:00:00 +0000',
    `Message-ID: <${testId}@sender.test>`,
    `${testIdHeader}: ${testId}`,
    '',
    '',
  ].join('\r\n');
  const body = options.body ?? `Body of ${testId}.\r\nSecond line.\r\n`;
  return Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(body)]);
}

/** Returns the test id of a delivered message, or null. */
export function testIdOf(data: Buffer): string | null {
  return headerValue(data, testIdHeader);
}

/**
 * Waits until the frontend's walk and message list are both empty. With `allowOpen`, messages
 * never committed may remain: a transaction that failed before its commit leaves one, and the
 * frontend removes it after its uncommitted age.
 */
export async function waitStoreEmpty(
  frontendUrl: string,
  options: { timeoutMs?: number; allowOpen?: boolean } = {},
): Promise<void> {
  await waitFor(
    `the frontend ${frontendUrl} to hold no envelope and no message`,
    async () => {
      const envelopes = await walkEnvelopes(frontendUrl);
      const messages = (await listMessages(frontendUrl)).filter(
        (message) => !(options.allowOpen && message.state === 'open'),
      );
      return envelopes.length === 0 && messages.length === 0;
    },
    { timeoutMs: options.timeoutMs ?? 30_000 },
  );
}

/**
 * Replaces what differs between two smtpd runs in the Received field that smtpd adds at
 * acceptance (its msgid and date), so that two deliveries of the same input compare equal.
 */
export function maskSmtpdTrace(data: Buffer): Buffer {
  const headerEnd = Math.min(data.length, 4096);
  const head = data
    .subarray(0, headerEnd)
    .toString('latin1')
    .replace(
      /\(OpenSMTPD\) with (E?SMTP) id [0-9a-f]{8};(\r?\n)\t[^\r\n]*/g,
      '(OpenSMTPD) with $1 id MSGID;$2\tDATE',
    );
  return Buffer.concat([Buffer.from(head, 'latin1'), data.subarray(headerEnd)]);
}

/** Counts deliveries per `testId/recipient`. */
export function countDeliveries(
  deliveries: Array<{ testId: string | null; recipients: string[] }>,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const delivery of deliveries) {
    for (const recipient of delivery.recipients) {
      const key = `${delivery.testId}/${recipient}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}
