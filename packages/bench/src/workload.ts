import { randomBytes } from 'node:crypto';
import { type Evpid, type Msgid, randomEvpid, randomMsgid } from '@smtpq/protocol';

export interface BundleContent {
  msgid: Msgid;
  envelopes: Array<{ evpid: Evpid; data: Buffer }>;
  body: Buffer;
}

/**
 * Returns an envelope of the size and shape smtpd writes (text `key: value` lines, about 500
 * bytes), for the recipient `index`.
 */
export function envelopeText(evpid: Evpid, index: number): Buffer {
  const lines = [
    'version: 3',
    `msgid: ${evpid.slice(0, 8)}`,
    'type: mta',
    'smtpname: mx1.example.org',
    'helo: client.example.net',
    'hostname: client.example.net',
    'sockaddr: 192.0.2.10',
    'sender: alice@example.net',
    `rcpt: user${index}@example.org`,
    `dest: user${index}@example.org`,
    'ctime: 1733300000',
    'last-try: 0',
    'last-bounce: 0',
    'ttl: 345600',
    'retry: 0',
    'flags: authenticated',
    'dsn-notify: 0',
    'dsn-ret: 0',
    `errorline: ${'-'.repeat(120)}`,
  ];
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** Returns a new message: a random msgid, `envelopeCount` envelopes and the given body. */
export function bundleOf(envelopeCount: number, body: Buffer): BundleContent {
  const msgid = randomMsgid();
  const evpids = new Set<Evpid>();
  while (evpids.size < envelopeCount) evpids.add(randomEvpid(msgid));

  const envelopes = [...evpids].map((evpid, index) => ({
    evpid,
    data: envelopeText(evpid, index),
  }));
  return { msgid, envelopes, body };
}

/** Returns a body of `size` bytes of mail-like text lines. */
export function mailBody(size: number): Buffer {
  const line = `${randomBytes(36).toString('base64')}\r\n`;
  const text = Buffer.from(line.repeat(Math.ceil(size / line.length)));
  return text.subarray(0, size);
}
