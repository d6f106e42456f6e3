import { testUser } from './system.js';

/** Mail for this domain is delivered to the instance's maildir, as the test user. */
export const localDomain = 'local.test';

/** Mail for this domain is relayed to the sink given in `relay`. */
export const relayDomain = 'relay.test';

export interface SmtpdConfigOptions {
  listenPort: number;
  maildir: string;
  relay?: { host: string; port: number };
  /** Lines placed before the listen line, e.g. `queue ttl 1h`. */
  extraConfig?: string[];
}

/** Renders the smtpd.conf of one test instance: it listens only on 127.0.0.1. */
export function renderSmtpdConfig(options: SmtpdConfigOptions): string {
  const lines = [
    '# Written by the smtpq end-to-end harness.',
    `table recipients { "@${localDomain}" = "${testUser}" }`,
    ...(options.extraConfig ?? []),
    `listen on 127.0.0.1 port ${options.listenPort}`,
    `action "local" maildir "${options.maildir}" virtual <recipients>`,
    `match from any for domain "${localDomain}" action "local"`,
  ];

  if (options.relay !== undefined) {
    const { host, port } = options.relay;
    lines.push(`action "relay" relay host "smtp://${host}:${port}"`);
    lines.push(`match from any for domain "${relayDomain}" action "relay"`);
  }
  return `${lines.join('\n')}\n`;
}
