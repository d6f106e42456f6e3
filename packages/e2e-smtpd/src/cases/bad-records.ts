import { QueueClient } from '@smtpq/protocol';
import { ENVELOPE_BUFFER_BYTES } from '@smtpq/queue-rest';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFrontend } from '../frontend.js';
import { walkEnvelopes } from '../frontend-api.js';
import { stopAllStarted } from '../processes.js';
import { startSink } from '../sink.js';
import { startSmtpd } from '../smtpd.js';
import { relayDomain } from '../smtpd-config.js';
import { runSmtpq } from '../smtpq-command.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import { prepareRestCases, type StoreProvider, testMessage } from './context.js';
import { seedRelayMessage } from './seed.js';

const goodEnvelopes = 999;
const messages = 37;
const perMessage = goodEnvelopes / messages;

/** Returns queue-rest's JSON log records from smtpd's log (queue-rest writes to smtpd's stderr). */
function queueRestRecords(log: string): Array<Record<string, unknown>> {
  return log
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Records in the store that smtpd cannot read never stop it from serving the rest. */
export function defineBadRecordCases(provider: StoreProvider): void {
  describe(`queue=rest with unreadable records in the store (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    // Field case FC-08: one bad record in the store must not stop the MTA.
    it('delivers 999 good envelopes beside a binary and an oversize one', async () => {
      const sink = await startSink();
      // The store is seeded before smtpd starts, so its start-up walk finds everything.
      const frontend = await startFrontend(await provider.createStore());
      const client = new QueueClient({ url: frontend.url });
      const binary = Buffer.alloc(300, 0xff);
      const oversize = Buffer.from(
        `version: 3\nerrorline: ${'x'.repeat(ENVELOPE_BUFFER_BYTES)}\n`,
        'latin1',
      );
      const recipients: string[] = [];
      const badEvpids: Record<string, string> = {};
      try {
        for (let m = 0; m < messages; m += 1) {
          const to = Array.from({ length: perMessage }, (_, r) => `m${m}r${r}@${relayDomain}`);
          recipients.push(...to);
          const extra: Buffer[] = [];
          if (m === 0) extra.push(binary);
          if (m === 1) extra.push(oversize);
          const seeded = await seedRelayMessage(client, `bad-records-${m}`, to, extra);
          if (m === 0) badEvpids.binary = seeded.extraEvpids[0]!;
          if (m === 1) badEvpids.oversize = seeded.extraEvpids[0]!;
        }
      } finally {
        await client.close();
      }
      expect(await walkEnvelopes(frontend.url)).toHaveLength(goodEnvelopes + 2);

      const smtpd = await startSmtpd({
        queue: { restArg: frontend.url },
        relay: { host: '127.0.0.1', port: sink.port },
      });
      await smtpd.waitForLog(/"msg":"walk finished"/, 60_000);
      await waitFor(
        `the sink to get all ${goodEnvelopes} recipients`,
        () => sink.messages.flatMap((message) => message.to).length >= goodEnvelopes,
        { timeoutMs: 120_000, intervalMs: 500 },
      );

      // Each good envelope was delivered once, and smtpd still runs and accepts mail.
      const delivered = sink.messages.flatMap((message) => message.to).sort();
      expect(delivered).toEqual([...recipients].sort());
      expect(smtpd.isRunning()).toBe(true);
      const after = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to: [`after@${relayDomain}`],
        data: testMessage('bad-records-after', { to: [`after@${relayDomain}`] }),
      });
      expect(after.accepted).toBe(true);

      // The bad ones stay in the store, logged by queue-rest, listed by `smtpq queue ls`.
      const left = await waitFor('the store to hold only the two bad envelopes', async () => {
        const envelopes = await walkEnvelopes(frontend.url);
        return envelopes.length === 2 ? envelopes : undefined;
      });
      expect(left.map((envelope) => envelope.evpid).sort()).toEqual(
        [badEvpids.binary, badEvpids.oversize].sort(),
      );

      const records = queueRestRecords(smtpd.log());
      const walk = records.find((record) => record.msg === 'walk finished');
      expect(walk).toMatchObject({ walked: goodEnvelopes, skipped: 2 });
      const skipped = records.filter(
        (record) => record.msg === 'walk skipped an envelope that smtpd cannot read',
      );
      expect(skipped.map((record) => record.evpid).sort()).toEqual(
        [badEvpids.binary, badEvpids.oversize].sort(),
      );

      const listing = await runSmtpq(['queue', 'ls', '--url', frontend.url, '--json']);
      expect(listing.code, listing.stderr).toBe(0);
      const listed = JSON.parse(listing.stdout) as Array<{ msgid: string; rejected: number }>;
      expect(listed.map((message) => message.msgid).sort()).toEqual(
        [badEvpids.binary!.slice(0, 8), badEvpids.oversize!.slice(0, 8)].sort(),
      );
      expect(listed.every((message) => message.rejected === 1)).toBe(true);

      const binaryListing = await runSmtpq([
        'queue',
        'ls',
        badEvpids.binary!.slice(0, 8),
        '--url',
        frontend.url,
      ]);
      expect(binaryListing.code, binaryListing.stderr).toBe(0);
      expect(binaryListing.stdout).toMatch(
        new RegExp(
          `${badEvpids.binary} +300 +- +rejected by queue-rest: the envelope is not UTF-8 text`,
        ),
      );
      const oversizeListing = await runSmtpq([
        'queue',
        'ls',
        badEvpids.oversize!.slice(0, 8),
        '--url',
        frontend.url,
      ]);
      expect(oversizeListing.stdout).toContain(
        `more than smtpd's envelope buffer of ${ENVELOPE_BUFFER_BYTES} bytes`,
      );
    }, 240_000);
  });
}
