import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFrontend } from '../frontend.js';
import { splitMessage } from '../maildir.js';
import { stopAllStarted, track } from '../processes.js';
import { startSmtpd } from '../smtpd.js';
import { localDomain } from '../smtpd-config.js';
import { sendMail } from '../swaks.js';
import { waitFor } from '../wait.js';
import { prepareRestCases, type StoreProvider, testMessage, waitStoreEmpty } from './context.js';

/** Writes a queue-rest configuration file and returns its path. */
function writeQueueRestConfig(settings: object): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'smtpq-e2e-config-'));
  track({
    name: `config folder ${dir}`,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  });
  const file = path.join(dir, 'queue-rest.json');
  writeFileSync(file, JSON.stringify(settings), { mode: 0o600 });
  return file;
}

/** smtpd as operators run it: detached, with queue-rest's log in syslog. */
export function defineDaemonCases(provider: StoreProvider): void {
  describe(`queue=rest with smtpd as a daemon (${provider.name} frontend)`, () => {
    beforeAll(prepareRestCases, 600_000);
    afterEach(stopAllStarted);

    it('delivers mail and logs queue-rest lines to syslog', async () => {
      const frontend = await startFrontend(await provider.createStore());
      const configPath = writeQueueRestConfig({ url: frontend.url, logLevel: 'info' });
      const smtpd = await startSmtpd({ queue: { restArg: configPath }, daemon: true });

      const to = [`daemon@${localDomain}`];
      const result = await sendMail({
        port: smtpd.port,
        from: 'alice@sender.test',
        to,
        data: testMessage('daemon', { to, body: 'Sent to a detached smtpd.\r\n' }),
      });
      expect(result.accepted).toBe(true);

      const [message] = await waitFor('the maildir file', () => {
        const messages = smtpd.maildirMessages();
        return messages.length === 1 ? messages : undefined;
      });
      expect(splitMessage(message!.data).body.toString()).toBe('Sent to a detached smtpd.\n');
      await waitStoreEmpty(frontend.url);

      const started = await smtpd.waitForLog(/queue-rest\[\d+\]: .*queue-rest started/);
      expect(started).toContain(frontend.url);
      const delivery = await smtpd.waitForLog(/smtpd\[\d+\]: .*mda delivery evpid=/);
      expect(delivery).toContain(`${result.msgid}`);

      await smtpd.stop();
      expect(smtpd.isRunning()).toBe(false);
    });
  });
}
