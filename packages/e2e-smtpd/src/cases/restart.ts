import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { walkEnvelopes } from '../frontend-api.js';
import { stopAllStarted } from '../processes.js';
import { startSink } from '../sink.js';
import { type SmtpTransaction, sendSession } from '../smtp-client.js';
import { startSmtpd } from '../smtpd.js';
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

/** Lists the evpids that `smtpctl show queue` prints, one per line before the first `|`. */
function queueEvpids(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.includes('|'))
    .map((line) => line.split('|')[0]!)
    .sort();
}

/** Messages with several recipients each, ids `${prefix}-N`. */
function transactions(prefix: string, count: number, to: (index: number) => string[]) {
  const list: SmtpTransaction[] = [];
  for (let index = 0; index < count; index += 1) {
    const recipients = to(index);
    list.push({
      from: 'alice@sender.test',
      to: recipients,
      data: testMessage(`${prefix}-${index}`, { to: recipients }),
    });
  }
  return list;
}

/** smtpd restarts with an empty spool: the walk brings the queue back from the frontend. */
export function defineRestartCases(provider: StoreProvider): void {
  describe(`queue=rest restart (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    it('walks every queued envelope back after a restart with an empty spool', async () => {
      const sink = await startSink({ refuse: true });
      const { frontend, smtpd: first } = await startRestPair(provider, { sink });
      const mail = transactions('restart', 12, (index) => [
        `r${index}a@${relayDomain}`,
        `r${index}b@${relayDomain}`,
        `r${index}c@${relayDomain}`,
      ]);

      const results = await sendSession(first.port, mail);
      expect(results.map((result) => result.reply.code)).toEqual(mail.map(() => 250));
      await waitFor('the sink to refuse a recipient', () => sink.refusedRecipients > 0);

      const queued = (await walkEnvelopes(frontend.url)).map((envelope) => envelope.evpid).sort();
      expect(queued).toHaveLength(36);
      expect(queueEvpids((await first.smtpctl(['show', 'queue'])).stdout)).toEqual(queued);

      await first.stop();
      const second = await startSmtpd({
        queue: { restArg: frontend.url },
        relay: { host: '127.0.0.1', port: sink.port },
      });
      expect(second.dir).not.toBe(first.dir);

      await waitFor('the restarted smtpd to list every walked envelope', async () => {
        const listed = queueEvpids((await second.smtpctl(['show', 'queue'])).stdout);
        return listed.length === queued.length ? listed : undefined;
      });
      expect(queueEvpids((await second.smtpctl(['show', 'queue'])).stdout)).toEqual(queued);

      sink.accept();
      expect((await second.smtpctl(['schedule', 'all'])).code).toBe(0);
      await waitFor(
        'the sink to accept all 36 recipients',
        () => sink.messages.flatMap((message) => message.to).length >= 36,
        { timeoutMs: 60_000 },
      );
      await waitStoreEmpty(frontend.url);

      const counts = countDeliveries(
        sink.messages.map((message) => ({
          testId: testIdOf(message.data),
          recipients: message.to,
        })),
      );
      expect(counts.size).toBe(36);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
    }, 120_000);

    it('delivers the queue once a frontend that was down at start comes up', async () => {
      const sink = await startSink();
      // The first smtpd only accepts: with mta and mda paused, its mail stays queued untried.
      const { frontend, smtpd: first } = await startRestPair(provider, {
        sink,
        smtpd: { pause: ['mta', 'mda'] },
      });
      const mail = transactions('late-frontend', 10, (index) => [
        `l${index}a@${relayDomain}`,
        `l${index}b@${relayDomain}`,
        `l${index}@${localDomain}`,
      ]);
      const results = await sendSession(first.port, mail);
      expect(results.map((result) => result.reply.code)).toEqual(mail.map(() => 250));
      expect(await walkEnvelopes(frontend.url)).toHaveLength(30);
      await first.stop();

      await frontend.stop();
      const second = await startSmtpd({
        queue: { restArg: frontend.url },
        relay: { host: '127.0.0.1', port: sink.port },
      });
      // The operator's outage, scaled down from minutes.
      await sleep(15_000);
      expect(second.isRunning()).toBe(true);
      expect(sink.messages).toHaveLength(0);

      await frontend.start();
      await waitFor(
        'the sink and the maildir to get all 30 recipients',
        () =>
          sink.messages.flatMap((message) => message.to).length >= 20 &&
          second.maildirMessages().length >= 10,
        { timeoutMs: 90_000 },
      );
      await waitStoreEmpty(frontend.url);
      expect(second.isRunning()).toBe(true);

      const counts = countDeliveries([
        ...sink.messages.map((message) => ({
          testId: testIdOf(message.data),
          recipients: message.to,
        })),
        ...second.maildirMessages().map((message) => ({
          testId: testIdOf(message.data),
          recipients: [message.deliveredTo ?? 'missing Delivered-To'],
        })),
      ]);
      expect(counts.size).toBe(30);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
    }, 180_000);
  });
}
