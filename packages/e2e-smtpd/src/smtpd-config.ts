import { testUser } from './system.js';

/** Mail for this domain is delivered to the instance's maildir, as the test user. */
export const localDomain = 'local.test';

/** Mail for this domain is relayed to the sink given in `relay`. */
export const relayDomain = 'relay.test';

export interface SmtpdConfigOptions {
  listenPort: number;
  /** Loopback address smtpd listens on; 127.0.0.1 when absent. */
  listenAddress?: string;
  maildir: string;
  /**
   * Relay host for mail to relay.test. With `source`, smtpd connects to it from that local
   * address, so the relay can tell which smtpd delivered a message.
   */
  relay?: { host: string; port: number; source?: string };
  /** Lines placed before the listen line, e.g. `queue ttl 1h`. */
  extraConfig?: string[];
}

/** Renders the smtpd.conf of one test instance: it listens on one loopback address only. */
export function renderSmtpdConfig(options: SmtpdConfigOptions): string {
  const lines = [
    '# Written by the smtpq end-to-end harness.',
    `table recipients { "@${localDomain}" = "${testUser}" }`,
    ...(options.extraConfig ?? []),
    `listen on ${options.listenAddress ?? '127.0.0.1'} port ${options.listenPort}`,
    `action "local" maildir "${options.maildir}" virtual <recipients>`,
    `match from any for domain "${localDomain}" action "local"`,
  ];

  if (options.relay !== undefined) {
    const { host, port, source } = options.relay;
    const sourceOption = source === undefined ? '' : ` src "${source}"`;
    lines.push(`action "relay" relay host "smtp://${host}:${port}"${sourceOption}`);
    lines.push(`match from any for domain "${relayDomain}" action "relay"`);
  }
  return `${lines.join('\n')}\n`;
}
