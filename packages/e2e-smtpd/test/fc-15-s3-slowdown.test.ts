import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FaultProxy,
  FORWARD,
  faultProxyStart,
  type MotoServer,
  motoStart,
  type ProxyRequest,
  SLOW_DOWN_BODY,
  seededRandom,
  TEST_ENVIRONMENT,
} from '@smtpq/frontend-s3/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countDeliveries,
  prepareRestCases,
  testIdOf,
  testMessage,
  waitStoreEmpty,
} from '../src/cases/context.js';
import { type Frontend, startFrontend } from '../src/frontend.js';
import { splitMessage } from '../src/maildir.js';
import { s3FrontendPath } from '../src/paths.js';
import { stopAllStarted, track } from '../src/processes.js';
import { type RecordingProxy, startRecordingProxy } from '../src/recording-proxy.js';
import { sendSession, type TransactionResult } from '../src/smtp-client.js';
import { type SmtpdInstance, startSmtpd } from '../src/smtpd.js';
import { localDomain } from '../src/smtpd-config.js';
import { waitFor } from '../src/wait.js';

// Field case FC-15: S3 responds 503 SlowDown to 30 % of requests while mail flows through
// smtpd. No process exits, the frontend retries, a call whose retries ran out gets 503 with
// Retry-After and its SMTP client a 4xx, and every message that got 250 is delivered once.

const BUCKET = 'smtpq-e2e-slowdown';

/** The field case's two minutes of throttling, scaled down. The messages go out over it. */
const WINDOW_MS = 20_000;
const MESSAGE_COUNT = 200;
/** Share of S3 requests that the fault proxy rejects with 503 SlowDown during the window. */
const SLOW_DOWN_SHARE = 0.3;

/**
 * Attempts of each S3 request, scaled down from the driver's 6. With 6, a call fails only when
 * all 6 attempts are throttled (0.3^6, about 1 in 1400): about once among the roughly 1500 S3
 * calls that 200 messages make here, so the case could not count on a single one. With 3
 * (about 1 in 37), retries both succeed and run out within the window.
 */
const S3_MAX_ATTEMPTS = 3;

/**
 * queue-rest's retry budget, in ms, scaled down from 4 s like the attempts. The frontend's
 * 503 carries Retry-After: 1, which exceeds it, so a commit whose S3 retries ran out fails at
 * once, and smtpd tempfails that SMTP transaction.
 */
const RETRY_BUDGET_MS = 500;

// The S3 client of this process (it creates the bucket) gets the same environment as the
// frontend: dummy credentials and no instance metadata lookups.
Object.assign(process.env, TEST_ENVIRONMENT);

/** Writes a queue-rest configuration file, removed after the test file, and returns its path. */
function writeQueueRestConfig(settings: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-config-'));
  track({
    name: `queue-rest configuration in ${dir}`,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  });
  const configPath = path.join(dir, 'queue-rest.json');
  writeFileSync(configPath, JSON.stringify(settings), { mode: 0o644 });
  return configPath;
}

/** Returns the JSON records among the lines of a log (pino writes one per line). */
function jsonRecords(log: string): Array<Record<string, unknown>> {
  return log
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A message of the test: its id, recipient and whole data with a body of its own. */
interface TestMail {
  testId: string;
  recipient: string;
  data: Buffer;
  body: Buffer;
}

function testMail(index: number): TestMail {
  const testId = `slowdown-${index}`;
  const recipient = `m${index}@${localDomain}`;
  const lines =
    randomBytes(1536)
      .toString('base64')
      .match(/.{1,76}/g) ?? [];
  const body = Buffer.from(`${lines.join('\r\n')}\r\n`);
  return { testId, recipient, body, data: testMessage(testId, { to: [recipient], body }) };
}

/** Sends one message in a session of its own and returns the reply that ended it. */
async function send(port: number, mail: TestMail): Promise<TransactionResult> {
  const transaction = { from: 'alice@sender.test', to: [mail.recipient], data: mail.data };
  const [result] = await sendSession(port, [transaction]);
  return result!;
}

/** One SDK invocation of an S3 call: its attempts as the proxy saw them, in order. */
interface Invocation {
  attempts: number[];
  throttled: boolean[];
}

/** Groups the proxy's requests by the SDK's invocation id and reads each attempt number. */
function invocationsOf(requests: ProxyRequest[], throttled: Set<number>): Invocation[] {
  const byId = new Map<string, Invocation>();
  for (const request of requests) {
    const id = request.headers['amz-sdk-invocation-id'];
    const attempt = /attempt=(\d+)/.exec(String(request.headers['amz-sdk-request']))?.[1];
    if (typeof id !== 'string' || attempt === undefined) continue;

    const invocation = byId.get(id) ?? { attempts: [], throttled: [] };
    invocation.attempts.push(Number(attempt));
    invocation.throttled.push(throttled.has(request.index));
    byId.set(id, invocation);
  }
  return [...byId.values()];
}

/** What the window left behind, for the cases below to check. */
interface WindowRun {
  frontend: Frontend;
  frontendPid: number | null;
  recorder: RecordingProxy;
  smtpd: SmtpdInstance;
  mails: TestMail[];
  results: TransactionResult[];
  /** The S3 requests the proxy received during the window. */
  s3Requests: ProxyRequest[];
  /** Indexes of the requests rejected with 503 SlowDown. */
  throttled: Set<number>;
}

/**
 * Starts moto behind the fault proxy, the S3 frontend, a recording proxy in front of it and
 * smtpd with queue-rest, then sends the messages at an even pace over the window while the
 * proxy throttles S3. The faults last until every SMTP transaction has its reply.
 */
async function runWindow(proxy: FaultProxy): Promise<WindowRun> {
  const prefix = `store-${randomBytes(6).toString('hex')}/`;
  const endpoint = encodeURIComponent(proxy.endpoint);
  const frontend = await startFrontend(
    `s3://${BUCKET}/${prefix}?endpoint=${endpoint}&region=us-east-1`,
    {
      program: [s3FrontendPath],
      env: { ...TEST_ENVIRONMENT, SMTPQ_E2E_S3_MAX_ATTEMPTS: String(S3_MAX_ATTEMPTS) },
    },
  );
  const recorder = await startRecordingProxy(frontend.url);
  const smtpd = await startSmtpd({
    queue: {
      restArg: writeQueueRestConfig({ url: recorder.url, retryBudgetMs: RETRY_BUDGET_MS }),
    },
  });
  await smtpd.waitForLog(/"msg":"walk finished"/);
  const mails = Array.from({ length: MESSAGE_COUNT }, (_, index) => testMail(index));

  // Attempts and retries alike are throttled with the same chance, as S3 does under load.
  const random = seededRandom(15);
  const throttled = new Set<number>();
  const firstRequest = proxy.requests.length;
  proxy.plan((request) => {
    if (random() >= SLOW_DOWN_SHARE) return FORWARD;
    throttled.add(request.index);
    return { action: 'respond', status: 503, body: SLOW_DOWN_BODY };
  });

  const sending: Array<Promise<TransactionResult>> = [];
  for (const mail of mails) {
    sending.push(send(smtpd.port, mail));
    await sleep(WINDOW_MS / MESSAGE_COUNT);
  }
  const results = await Promise.all(sending);
  proxy.plan(() => FORWARD);

  return {
    frontend,
    frontendPid: frontend.pid,
    recorder,
    smtpd,
    mails,
    results,
    s3Requests: proxy.requests.slice(firstRequest),
    throttled,
  };
}

let moto: MotoServer | undefined;
let s3Proxy: FaultProxy | undefined;
let run: WindowRun;

beforeAll(async () => {
  await prepareRestCases();
  moto = await motoStart();
  await moto.bucketCreate(BUCKET);
  s3Proxy = await faultProxyStart(moto.endpoint);
  run = await runWindow(s3Proxy);
}, 600_000);

afterAll(async () => {
  await stopAllStarted();
  await s3Proxy?.close();
  await moto?.stop();
});

describe('queue=rest on S3 that rejects 30 % of requests with 503 SlowDown', () => {
  it('proxy throttles 30 % of S3 requests', () => {
    const share = run.throttled.size / run.s3Requests.length;

    expect(run.s3Requests.length).toBeGreaterThan(MESSAGE_COUNT * 3);
    expect(share).toBeGreaterThan(SLOW_DOWN_SHARE - 0.05);
    expect(share).toBeLessThan(SLOW_DOWN_SHARE + 0.05);
  });

  it('frontend retries throttled S3 requests', () => {
    // The SDK numbers the attempts of one invocation in a header of each request.
    const invocations = invocationsOf(run.s3Requests, run.throttled);
    const retried = invocations.filter((invocation) => invocation.attempts.length > 1);
    const recovered = retried.filter((invocation) => invocation.throttled.at(-1) === false);

    expect(invocations.length).toBeGreaterThan(MESSAGE_COUNT * 3);
    expect(recovered.length).toBeGreaterThan(MESSAGE_COUNT / 4);
    for (const invocation of retried) {
      expect(invocation.attempts).toEqual(invocation.attempts.map((_, index) => index + 1));
      expect(invocation.throttled.slice(0, -1).every(Boolean)).toBe(true);
      expect(invocation.attempts.length).toBeLessThanOrEqual(S3_MAX_ATTEMPTS);
    }
  });

  it('frontend returns 503 with Retry-After when retries run out', async () => {
    const invocations = invocationsOf(run.s3Requests, run.throttled);
    const exhausted = invocations.filter(
      (invocation) =>
        invocation.attempts.length === S3_MAX_ATTEMPTS && invocation.throttled.every(Boolean),
    );
    const faultRecords = jsonRecords(run.frontend.log()).filter(
      (record) => record.msg === 'storage fault',
    );
    // A call that was still running when the window closed may have logged its fault while
    // its response is on the way to queue-rest.
    const serverErrors = await waitFor(
      'the recorder to get each response of a logged fault',
      () => {
        const responses = run.recorder.responses.filter((response) => response.status >= 500);
        return responses.length >= faultRecords.length ? responses : undefined;
      },
    );

    expect(exhausted.length).toBeGreaterThan(0);
    expect(faultRecords.length).toBeGreaterThan(0);
    for (const record of faultRecords) {
      expect((record.err as { message?: unknown }).message).toContain(
        `after ${S3_MAX_ATTEMPTS} attempts`,
      );
    }
    expect(serverErrors.length).toBe(faultRecords.length);
    for (const response of serverErrors) {
      expect(response.status).toBe(503);
      expect(response.retryAfter).toMatch(/^[1-9]\d*$/);
      expect(['storage-unavailable', 'storage-timeout']).toContain(response.errorCode);
    }
  });

  it('SMTP clients get 4xx only for commits that failed', () => {
    const codes = run.results.map((result) => result.reply.code);
    const tempfailed = codes.filter((code) => code !== 250);
    const commitFailures = jsonRecords(run.smtpd.log()).filter(
      (record) => record.msg === 'message commit failed',
    );
    const rejectedBundles = run.recorder.responses.filter(
      (response) =>
        response.method === 'PUT' && response.url.endsWith('/bundle') && response.status === 503,
    );

    expect(codes.filter((code) => code !== 250 && (code < 400 || code > 499))).toEqual([]);
    expect(tempfailed.length).toBeGreaterThan(0);
    expect(tempfailed.length).toBeLessThan(MESSAGE_COUNT / 2);
    // queue-rest's budget is below Retry-After, so each rejected bundle is one failed commit.
    expect(commitFailures).toHaveLength(tempfailed.length);
    for (const record of commitFailures) {
      expect(record).toMatchObject({ status: 503 });
    }
    expect(rejectedBundles.length).toBe(tempfailed.length);
  });

  it('every accepted message is delivered once, byte-identical', async () => {
    const { smtpd, frontend, mails, results } = run;
    const tempfailed = mails.filter((_, index) => results[index]!.reply.code !== 250);

    // Deliveries that failed in the window are retried now, and the senders of the tempfailed
    // messages send them again, as SMTP clients do after a 4xx.
    expect((await smtpd.smtpctl(['schedule', 'all'])).code).toBe(0);
    for (const mail of tempfailed) {
      expect((await send(smtpd.port, mail)).reply.code).toBe(250);
    }
    await waitFor(
      `all ${MESSAGE_COUNT} messages in the maildir`,
      () => smtpd.maildirMessages().length >= MESSAGE_COUNT,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await waitStoreEmpty(frontend.url, { allowOpen: true, timeoutMs: 60_000 });
    const queue = await smtpd.smtpctl(['show', 'queue']);
    expect(queue.code).toBe(0);
    expect(queue.stdout.trim()).toBe('');

    const delivered = smtpd.maildirMessages();
    const counts = countDeliveries(
      delivered.map((message) => ({
        testId: testIdOf(message.data),
        recipients: [message.deliveredTo ?? 'missing Delivered-To'],
      })),
    );
    expect([...counts.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    expect(counts.size).toBe(MESSAGE_COUNT);
    const byTestId = new Map(delivered.map((message) => [testIdOf(message.data), message]));
    for (const mail of mails) {
      const message = byTestId.get(mail.testId);
      expect(message?.deliveredTo, mail.testId).toBe(mail.recipient);
      // Local delivery writes LF line ends.
      const expected = Buffer.from(mail.body.toString('latin1').replaceAll('\r\n', '\n'), 'latin1');
      expect(splitMessage(message!.data).body.equals(expected), mail.testId).toBe(true);
    }
  }, 180_000);

  it('no process exits during or after the window', async () => {
    const { smtpd, frontend } = run;
    const queueRestRecords = jsonRecords(smtpd.log());

    expect(smtpd.isRunning()).toBe(true);
    expect(smtpd.log()).not.toMatch(/queue-proc: exiting|lost child/);
    expect(queueRestRecords.filter((record) => record.msg === 'queue-rest started')).toHaveLength(
      1,
    );
    expect(queueRestRecords.filter((record) => Number(record.level) >= 60)).toEqual([]);
    expect(frontend.pid).toBe(run.frontendPid);
    expect((await fetch(`${frontend.url}/v1/health`)).status).toBe(200);
    expect(jsonRecords(frontend.log()).filter((record) => Number(record.level) >= 50)).toEqual([]);
  });
});
