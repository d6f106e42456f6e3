import { setTimeout as sleep } from 'node:timers/promises';
import { QueueClient } from '@smtpq/protocol';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { walkEnvelopes } from '../frontend-api.js';
import { portAccepts } from '../ports.js';
import { stopAllStarted } from '../processes.js';
import { startSink } from '../sink.js';
import { relayDomain } from '../smtpd-config.js';
import { runSmtpq, writeSmtpctlWrapper } from '../smtpq-command.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import {
  countDeliveries,
  prepareRestCases,
  type StoreProvider,
  startRestPair,
  testIdOf,
  testMessage,
} from './context.js';
import { seedRelayMessage } from './seed.js';

/** Time for a wrongly repeated delivery to show up before the counts are checked. */
const SETTLE_MS = 2_000;

/** `smtpctl discover` of envelopes that another MX wrote while this smtpd runs. */
export function defineDiscoverCases(provider: StoreProvider): void {
  describe(`queue=rest smtpctl discover (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    // Field case FC-09: discover by evpid loads what another node wrote, once.
    it('discovers an envelope another node wrote and delivers it once', async () => {
      const sink = await startSink();
      const { frontend, smtpd } = await startRestPair(provider, { sink });
      await smtpd.waitForLog(/"msg":"walk finished"/);
      const client = new QueueClient({ url: frontend.url });
      const deliveries = () =>
        countDeliveries(
          sink.messages.map((message) => ({
            testId: testIdOf(message.data),
            recipients: message.to,
          })),
        );

      try {
        // Another node writes a message while this smtpd runs: its walk is over, so smtpd
        // does not know it.
        const one = await seedRelayMessage(client, 'discover-one', [`one@${relayDomain}`]);
        await sleep(SETTLE_MS);
        expect(sink.messages).toEqual([]);

        const discovered = await smtpd.smtpctl(['discover', one.evpids[0]!]);
        expect(discovered.code).toBe(0);
        expect(discovered.stdout.trim()).toBe('1 envelope discovered');
        await waitFor('the sink to get the discovered envelope', () => sink.messages.length > 0);
        await waitFor('the frontend to delete the delivered message', async () =>
          (await walkEnvelopes(frontend.url)).every(
            (envelope) => !envelope.evpid.startsWith(one.msgid),
          ),
        );
        await sleep(SETTLE_MS);
        expect(deliveries().get(`discover-one/one@${relayDomain}`)).toBe(1);
        expect(deliveries().size).toBe(1);

        // An evpid that does not exist: an empty load, smtpctl reports it, smtpd runs on.
        const missing = `${one.msgid}7fffffff`;
        const none = await smtpd.smtpctl(['discover', missing]);
        expect(none.stdout.trim()).toBe('0 envelopes discovered');
        await smtpd.waitForLog(new RegExp(`"evpid":"${missing}".*"msg":"envelope load failed"`));
        await smtpd.waitForLog(new RegExp(`discover: failed to load envelope ${missing}`));
        expect(smtpd.isRunning()).toBe(true);
        expect(await portAccepts(smtpd.port)).toBe(true);
        const after = await sendMail({
          port: smtpd.port,
          from: 'alice@sender.test',
          to: [`after@${relayDomain}`],
          data: testMessage('discover-after', { to: [`after@${relayDomain}`] }),
        });
        expect(after.accepted).toBe(true);

        // `smtpq discover MSGID` discovers each envelope of a message, one by one.
        const recipients = ['x', 'y', 'z'].map((name) => `${name}@${relayDomain}`);
        const three = await seedRelayMessage(client, 'discover-three', recipients);
        const run = await runSmtpq([
          'discover',
          three.msgid,
          '--url',
          frontend.url,
          '--smtpctl',
          writeSmtpctlWrapper(smtpd),
        ]);
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout.trim().split('\n')).toEqual([
          ...three.evpids.map((evpid) => `${evpid}: 1 envelope discovered`),
          `discovered 3 of 3 envelopes of message ${three.msgid}`,
        ]);
        await waitFor('the sink to get the three discovered envelopes', () =>
          recipients.every((recipient) => deliveries().has(`discover-three/${recipient}`)),
        );
        await sleep(SETTLE_MS);
        for (const recipient of recipients) {
          expect(deliveries().get(`discover-three/${recipient}`)).toBe(1);
        }
        expect(smtpd.isRunning()).toBe(true);
      } finally {
        await client.close();
      }
    }, 120_000);
  });
}
