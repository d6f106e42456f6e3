// The harness itself, with smtpd's own queue (no -B): if these fail, the queue=rest cases
// cannot tell anything about queue-rest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureSystemPackages,
  localDomain,
  relayDomain,
  sendMail,
  splitMessage,
  startSink,
  startSmtpd,
  stopAllStarted,
  waitFor,
} from '../src/index.js';

beforeAll(async () => {
  await ensureSystemPackages();
}, 600_000);

afterAll(async () => {
  await stopAllStarted();
});

describe('harness with queue=fs', () => {
  it('delivers a swaks message to the maildir', async () => {
    const smtpd = await startSmtpd({ queue: 'fs' });

    const result = await sendMail({
      port: smtpd.port,
      from: 'alice@sender.test',
      to: [`bob@${localDomain}`, `carol@${localDomain}`],
      body: 'hello from the harness',
    });
    expect(result.exitCode).toBe(0);
    expect(result.dataReply?.code).toBe(250);
    expect(result.msgid).toMatch(/^[0-9a-f]{8}$/);

    const delivered = await waitFor('two maildir files', () => {
      const messages = smtpd.maildirMessages();
      return messages.length === 2 ? messages : undefined;
    });
    const recipients = delivered.map((message) => message.deliveredTo).sort();
    expect(recipients).toEqual([`bob@${localDomain}`, `carol@${localDomain}`]);
    for (const message of delivered) {
      expect(splitMessage(message.data).body.toString().trimEnd()).toBe('hello from the harness');
    }

    await smtpd.stop();
    expect(smtpd.isRunning()).toBe(false);
  });

  it('keeps relayed mail queued until the sink accepts', async () => {
    const sink = await startSink({ refuse: true });
    const smtpd = await startSmtpd({
      queue: 'fs',
      relay: { host: '127.0.0.1', port: sink.port },
    });

    const result = await sendMail({
      port: smtpd.port,
      from: 'alice@sender.test',
      to: [`dave@${relayDomain}`],
      body: 'relayed body',
    });
    expect(result.accepted).toBe(true);

    await waitFor('the sink to refuse a recipient', () => sink.refusedRecipients > 0);
    const queue = await smtpd.smtpctl(['show', 'queue']);
    expect(queue.code).toBe(0);
    expect(queue.stdout).toContain(`dave@${relayDomain}`);
    expect(queue.stdout).toContain(result.msgid);

    sink.accept();
    const schedule = await smtpd.smtpctl(['schedule', 'all']);
    expect(schedule.code).toBe(0);
    await waitFor('the sink to accept the message', () => sink.messages.length === 1, {
      timeoutMs: 60_000,
    });
    const [message] = sink.messages;
    expect(message?.to).toEqual([`dave@${relayDomain}`]);
    expect(message?.from).toBe('alice@sender.test');
    expect(splitMessage(message!.data).body.toString().trimEnd()).toBe('relayed body');

    await waitFor('the queue to be empty', async () => {
      const after = await smtpd.smtpctl(['show', 'queue']);
      return after.stdout.trim() === '';
    });
  });

  it('runs as a daemon with its log in syslog', async () => {
    const smtpd = await startSmtpd({ queue: 'fs', daemon: true });

    const result = await sendMail({
      port: smtpd.port,
      from: 'alice@sender.test',
      to: [`erin@${localDomain}`],
      body: 'daemon body',
    });
    expect(result.accepted).toBe(true);

    await waitFor('the maildir file', () => smtpd.maildirMessages().length === 1);
    const line = await smtpd.waitForLog(/mda delivery evpid=.* result=Ok/);
    expect(line).toContain(`to=<erin@${localDomain}>`);
    expect(line).toMatch(/smtpd\[\d+\]:/);

    await smtpd.stop();
    expect(smtpd.isRunning()).toBe(false);
  });
});
