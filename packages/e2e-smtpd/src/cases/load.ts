import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stopAllStarted } from '../processes.js';
import { startSink } from '../sink.js';
import { type SmtpTransaction, sendSession } from '../smtp-client.js';
import { localDomain, relayDomain } from '../smtpd-config.js';
import { waitFor } from '../wait.js';
import {
  countDeliveries,
  prepareRestCases,
  type StoreProvider,
  startRestPair,
  testIdOf,
  testMessage,
  waitStoreEmpty,
} from './context.js';

const messageCount = 200;
const sessionCount = 8;

/** Many messages over concurrent SMTP sessions: each recipient gets each message once. */
export function defineLoadCases(provider: StoreProvider): void {
  describe(`queue=rest under load (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    it(`delivers ${messageCount} messages over ${sessionCount} sessions exactly once`, async () => {
      const sink = await startSink();
      const { frontend, smtpd } = await startRestPair(provider, { sink });

      const sessions: SmtpTransaction[][] = Array.from({ length: sessionCount }, () => []);
      for (let index = 0; index < messageCount; index += 1) {
        const to = [
          `m${index}@${localDomain}`,
          `m${index}a@${relayDomain}`,
          `m${index}b@${relayDomain}`,
        ];
        sessions[index % sessionCount]!.push({
          from: 'alice@sender.test',
          to,
          data: testMessage(`load-${index}`, { to }),
        });
      }

      const results = await Promise.all(
        sessions.map((transactions) => sendSession(smtpd.port, transactions)),
      );
      const codes = results.flat().map((result) => result.reply.code);
      expect(codes).toHaveLength(messageCount);
      expect(codes.filter((code) => code !== 250)).toEqual([]);
      const msgids = new Set(results.flat().map((result) => result.msgid));
      expect(msgids.size).toBe(messageCount);

      await waitFor(
        'every recipient to get its message',
        () =>
          smtpd.maildirMessages().length >= messageCount &&
          sink.messages.flatMap((message) => message.to).length >= 2 * messageCount,
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      await waitStoreEmpty(frontend.url, { timeoutMs: 60_000 });

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
      expect(counts.size).toBe(3 * messageCount);
      const repeated = [...counts.entries()].filter(([, count]) => count !== 1);
      expect(repeated).toEqual([]);
      for (let index = 0; index < messageCount; index += 1) {
        expect(counts.get(`load-${index}/m${index}@${localDomain}`)).toBe(1);
        expect(counts.get(`load-${index}/m${index}a@${relayDomain}`)).toBe(1);
        expect(counts.get(`load-${index}/m${index}b@${relayDomain}`)).toBe(1);
      }
    }, 240_000);
  });
}
