import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listMessages, walkEnvelopes } from '../frontend-api.js';
import { portAccepts } from '../ports.js';
import { stopAllStarted } from '../processes.js';
import { SmtpClientSession } from '../smtp-client.js';
import { startSmtpd } from '../smtpd.js';
import { localDomain } from '../smtpd-config.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import {
  prepareRestCases,
  type StoreProvider,
  startRestPair,
  testIdOf,
  testMessage,
  waitStoreEmpty,
} from './context.js';

/** Returns the first reply code that is neither 2xx nor 3xx: where the server rejected. */
function firstRefusal(codes: number[]): number | undefined {
  return codes.find((code) => code >= 400);
}

/** Defines the cases where the frontend stops in the middle of SMTP traffic and comes back. */
export function defineFrontendDownCases(provider: StoreProvider): void {
  describe(`queue=rest with the frontend down (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    it('tempfails mail while the frontend is down and loses nothing', async () => {
      const { frontend, smtpd } = await startRestPair(provider);
      const to = (name: string) => [`${name}@${localDomain}`];

      const before = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to: to('before'),
        data: testMessage('before', { to: to('before') }),
      });
      expect(before.accepted).toBe(true);
      // Delivered and deleted first: a delete that fails while the frontend is down leaves the
      // envelope in the store, and the next smtpd would deliver it again.
      await waitFor('the first message in the maildir', () => smtpd.maildirMessages().length === 1);
      await waitStoreEmpty(frontend.url);

      // A transaction in flight when the frontend dies: it got as far as RCPT TO.
      const session = await SmtpClientSession.open(smtpd.port);
      expect((await session.read()).code).toBe(220);
      expect((await session.command('EHLO client.test')).code).toBe(250);
      expect((await session.command('MAIL FROM:<alice@sender.test>')).code).toBe(250);
      expect((await session.command(`RCPT TO:<in-flight@${localDomain}>`)).code).toBe(250);
      expect((await session.command(`RCPT TO:<in-flight2@${localDomain}>`)).code).toBe(250);
      await frontend.kill();

      const dataReply = await session.command('DATA');
      const endReply =
        dataReply.code === 354
          ? await session.data(testMessage('in-flight', { to: to('in-flight') }))
          : dataReply;
      session.close();
      expect(endReply.code).toBeGreaterThanOrEqual(400);
      expect(endReply.code).toBeLessThan(500);

      const during = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to: to('during'),
        data: testMessage('during', { to: to('during') }),
      });
      expect(during.accepted).toBe(false);
      const duringRefusal = firstRefusal(during.replies.map((reply) => reply.code));
      expect(duringRefusal).toBeGreaterThanOrEqual(400);
      expect(duringRefusal).toBeLessThan(500);

      expect(smtpd.isRunning()).toBe(true);
      expect(await portAccepts(smtpd.port)).toBe(true);

      await frontend.start();
      const after = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to: to('after'),
        data: testMessage('after', { to: to('after') }),
      });
      expect(after.accepted).toBe(true);

      await waitFor('both accepted messages in the maildir', () => {
        const ids = smtpd.maildirMessages().map((message) => testIdOf(message.data));
        return ids.includes('before') && ids.includes('after');
      });
      await waitStoreEmpty(frontend.url, { allowOpen: true });
      // Time for a wrongly scheduled envelope of the failed transactions to show up.
      await sleep(2_000);
      const delivered = smtpd.maildirMessages().map((message) => testIdOf(message.data));
      expect(delivered.sort()).toEqual(['after', 'before']);

      // A new smtpd walks the store: nothing of the failed transactions comes back.
      await smtpd.stop();
      const next = await startSmtpd({ queue: { restArg: frontend.url } });
      await next.waitForLog(/walk finished/);
      const queue = await next.smtpctl(['show', 'queue']);
      expect(queue.code).toBe(0);
      expect(queue.stdout.trim()).toBe('');
      expect(await walkEnvelopes(frontend.url)).toEqual([]);
      expect((await listMessages(frontend.url)).filter((m) => m.state === 'committed')).toEqual([]);
      await sleep(1_000);
      expect(next.maildirMessages()).toEqual([]);
    }, 120_000);
  });
}
