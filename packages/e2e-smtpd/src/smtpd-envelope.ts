export interface SmtpdEnvelopeOptions {
  sender: string;
  /** A recipient of relay.test, which the harness relays to its sink. */
  recipient: string;
  /** Creation time in seconds since the epoch; now when absent. */
  ctime?: number;
}

/**
 * Returns a relay envelope as Debian's smtpd 6.8.0p2 writes it to its queue backend for a
 * message accepted from 127.0.0.1 (read from a real queue=rest store), for tests that write
 * mail into the store the way another MX would. Its dispatcher is the harness's `relay`
 * action: smtpd rejects an envelope whose dispatcher is not an action of its smtpd.conf.
 */
export function smtpdEnvelope(options: SmtpdEnvelopeOptions): Buffer {
  const lines = [
    'version: 3',
    'dispatcher: relay',
    'type: mta',
    'smtpname: localhost',
    'helo: client.test',
    'hostname: localhost',
    'sockaddr: 127.0.0.1',
    `sender: ${options.sender}`,
    `rcpt: ${options.recipient}`,
    `dest: ${options.recipient}`,
    `ctime: ${options.ctime ?? Math.floor(Date.now() / 1000)}`,
    'last-try: 0',
    'last-bounce: 0',
    'ttl: 0',
    'retry: 0',
    'dsn-notify: 0',
    'esc-class: 0',
    'esc-code: 0',
  ];
  return Buffer.from(`${lines.join('\n')}\n`);
}
