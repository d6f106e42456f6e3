import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listMessages, readBody, walkEnvelopes } from '../frontend-api.js';
import { splitMessage } from '../maildir.js';
import { stopAllStarted } from '../processes.js';
import { startSink } from '../sink.js';
import { localDomain, relayDomain } from '../smtpd-config.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import {
  prepareRestCases,
  type StoreProvider,
  startRestPair,
  testMessage,
  waitStoreEmpty,
} from './context.js';

/**
 * The basic delivery case alone: a swaks message reaches the maildir with its body intact and
 * the frontend holds nothing afterwards. Frontends with slow test servers run only this one.
 */
export function defineBasicDeliveryCase(provider: StoreProvider): void {
  describe(`queue=rest basic delivery (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    itDeliversSwaksMessage(provider);
  });
}

/** Delivery through queue-rest: what the maildir and the sink get, what the frontend holds. */
export function defineDeliveryCases(provider: StoreProvider): void {
  describe(`queue=rest delivery (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    itDeliversSwaksMessage(provider);

    it('holds relayed mail in the frontend until the sink accepts', async () => {
      const sink = await startSink({ refuse: true });
      const { frontend, smtpd } = await startRestPair(provider, { sink });
      const relayRecipients = [`dave@${relayDomain}`, `erin@${relayDomain}`];
      const body = Buffer.from('Held while the relay refuses.\r\n');
      const data = testMessage('held-1', { to: [...relayRecipients, `bob@${localDomain}`], body });

      const result = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to: [...relayRecipients, `bob@${localDomain}`],
        data,
      });
      expect(result.accepted).toBe(true);
      const msgid = result.msgid!;

      await waitFor('the local copy in the maildir', () => smtpd.maildirMessages().length === 1);
      await waitFor('the sink to refuse the relayed copy', () => sink.refusedRecipients > 0);

      const heldEnvelopes = await waitFor(
        'the walk to hold only the two relayed envelopes',
        async () => {
          const envelopes = await walkEnvelopes(frontend.url);
          return envelopes.length === 2 ? envelopes : undefined;
        },
      );
      for (const envelope of heldEnvelopes) {
        expect(envelope.evpid.slice(0, 8)).toBe(msgid);
      }
      const heldText = heldEnvelopes.map((envelope) => envelope.data.toString('latin1')).join('\n');
      for (const recipient of relayRecipients) {
        expect(heldText).toContain(recipient);
      }
      expect(heldText).not.toContain(`bob@${localDomain}`);

      const storedBody = await readBody(frontend.url, msgid);
      expect(storedBody.toString('latin1')).toMatch(/^Received: from /);
      expect(splitMessage(storedBody).body.toString('latin1')).toBe(
        'Held while the relay refuses.\n',
      );

      const queue = await smtpd.smtpctl(['show', 'queue']);
      expect(queue.code).toBe(0);
      const listed = queue.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('|')[0])
        .sort();
      expect(listed).toEqual(heldEnvelopes.map((envelope) => envelope.evpid).sort());

      sink.accept();
      expect((await smtpd.smtpctl(['schedule', 'all'])).code).toBe(0);
      await waitFor('the sink to accept both recipients', () => {
        const recipients = sink.messages.flatMap((message) => message.to);
        return recipients.length === 2;
      });
      const delivered = sink.messages.flatMap((message) => message.to).sort();
      expect(delivered).toEqual(relayRecipients);
      for (const message of sink.messages) {
        expect(splitMessage(message.data).body.toString('latin1')).toBe(body.toString('latin1'));
      }

      await waitStoreEmpty(frontend.url);
      expect(await listMessages(frontend.url)).toEqual([]);
    });
  });
}

function itDeliversSwaksMessage(provider: StoreProvider): void {
  it('delivers a swaks message to the maildir with its body intact', async () => {
    const { frontend, smtpd } = await startRestPair(provider);
    const body = Buffer.from(
      'First line.\r\n.A line that starts with a dot.\r\n\r\nCaf\u00e9 \u2013 UTF-8 text.\r\n',
    );
    const data = testMessage('maildir-1', { to: [`bob@${localDomain}`], body });

    const result = await sendMail({
      port: smtpd.port,
      from: 'alice@sender.test',
      to: [`bob@${localDomain}`],
      data,
    });
    expect(result.exitCode).toBe(0);
    expect(result.dataReply?.code).toBe(250);

    const [message] = await waitFor('one maildir file', () => {
      const messages = smtpd.maildirMessages();
      return messages.length === 1 ? messages : undefined;
    });
    // smtpd stores and delivers to a maildir with LF line ends.
    const expectedBody = body.toString('latin1').replaceAll('\r\n', '\n');
    expect(splitMessage(message!.data).body.toString('latin1')).toBe(expectedBody);
    expect(message!.deliveredTo).toBe(`bob@${localDomain}`);

    await waitStoreEmpty(frontend.url);
  });
}
