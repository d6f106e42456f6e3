import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFrontend } from '../frontend.js';
import { startOutageProxy } from '../outage-proxy.js';
import { portAccepts } from '../ports.js';
import { stopAllStarted, track } from '../processes.js';
import { startSink } from '../sink.js';
import { startSmtpd } from '../smtpd.js';
import { localDomain, relayDomain } from '../smtpd-config.js';
import { type MailResult, sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import {
  countDeliveries,
  prepareRestCases,
  type StoreProvider,
  testIdOf,
  testMessage,
  waitStoreEmpty,
} from './context.js';

/** The operator's 60 s outage, scaled down: one message a second for this long. */
const OUTAGE_MS = 15_000;

/**
 * queue-rest's retry budget for this case, in ms. The proxy's 503 carries Retry-After: 1,
 * which exceeds it, so each failed commit returns at once instead of blocking smtpd's queue
 * process for the default 4 s.
 */
const RETRY_BUDGET_MS = 500;

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

function send(port: number, testId: string, recipient: string): Promise<MailResult> {
  return sendMail({
    port,
    from: 'alice@sender.test',
    to: [recipient],
    data: testMessage(testId, { to: [recipient] }),
  });
}

/** Defines the cases where the store becomes unwritable under SMTP traffic, then writable. */
export function defineStoreOutageCases(provider: StoreProvider): void {
  describe(`queue=rest with an unwritable store (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    // Field case FC-10: a store outage under SMTP load tempfails and loses nothing.
    it('tempfails mail while the store is unwritable and recovers without a restart', async () => {
      const sink = await startSink({ refuse: true });
      const frontend = await startFrontend(await provider.createStore());
      const proxy = await startOutageProxy(frontend.url);
      const smtpd = await startSmtpd({
        queue: {
          restArg: writeQueueRestConfig({ url: proxy.url, retryBudgetMs: RETRY_BUDGET_MS }),
        },
        relay: { host: '127.0.0.1', port: sink.port },
      });
      await smtpd.waitForLog(/"msg":"walk finished"/);

      // Before the outage: mail for the relay, held in the store while the sink refuses it.
      for (let index = 0; index < 3; index += 1) {
        const before = await send(smtpd.port, `before-${index}`, `before${index}@${relayDomain}`);
        expect(before.accepted).toBe(true);
      }
      await waitFor('the sink to refuse the held mail', () => sink.refusedRecipients >= 3);

      proxy.startOutage();
      // Reads still work, so smtpd delivers the held mail; the deletes after it fail.
      sink.accept();
      expect((await smtpd.smtpctl(['schedule', 'all'])).code).toBe(0);

      const during: Array<Promise<MailResult>> = [];
      for (let index = 0; index * 1000 < OUTAGE_MS; index += 1) {
        during.push(send(smtpd.port, `during-${index}`, `during${index}@${localDomain}`));
        await sleep(1000);
      }
      const duringResults = await Promise.all(during);
      await waitFor('the sink to get the held mail', () => sink.messages.length >= 3);
      await smtpd.waitForLog(/envelope delete failed; retrying it in the background/);
      expect(smtpd.isRunning()).toBe(true);
      proxy.endOutage();

      // Each message sent during the outage got a 4xx, never a 5xx.
      for (const result of duringResults) {
        const codes = result.replies.map((reply) => reply.code);
        expect(result.accepted, result.transcript).toBe(false);
        expect(codes.filter((code) => code >= 500)).toEqual([]);
        expect(codes.some((code) => code >= 400)).toBe(true);
      }
      expect(proxy.refusedWrites).toBeGreaterThanOrEqual(duringResults.length);
      await smtpd.waitForLog(/"code":"storage-read-only".*"msg":"message commit failed"/);

      // Afterwards the next message is accepted, without a restart of anything.
      expect(await portAccepts(smtpd.port)).toBe(true);
      for (let index = 0; index < 2; index += 1) {
        const after = await send(smtpd.port, `after-${index}`, `after${index}@${localDomain}`);
        expect(after.accepted).toBe(true);
      }

      // Every message that got 250 is delivered once, and the deletes of the held mail,
      // retried in the background, leave nothing in the store.
      await waitFor(
        'the maildir to get the mail sent after the outage',
        () => smtpd.maildirMessages().length >= 2,
      );
      await waitStoreEmpty(frontend.url);
      await smtpd.waitForLog(/"msg":"pending envelope deletes done"/);
      const counts = countDeliveries([
        ...sink.messages.map((message) => ({
          testId: testIdOf(message.data),
          recipients: message.to,
        })),
        ...smtpd.maildirMessages().map((message) => ({
          testId: testIdOf(message.data),
          recipients: [message.deliveredTo ?? 'missing Delivered-To'],
        })),
      ]);
      expect([...counts.entries()].sort()).toEqual([
        [`after-0/after0@${localDomain}`, 1],
        [`after-1/after1@${localDomain}`, 1],
        [`before-0/before0@${relayDomain}`, 1],
        [`before-1/before1@${relayDomain}`, 1],
        [`before-2/before2@${relayDomain}`, 1],
      ]);
      expect(smtpd.isRunning()).toBe(true);
    }, 180_000);
  });
}
