import { QueueClient } from '@smtpq/protocol';
import type { SinkMessage } from './sink.js';
import type { SmtpdInstance } from './smtpd.js';

/** Reads the owner of every message of a frontend (`GET /v1/messages`), by msgid. */
export async function messageOwners(frontendUrl: string): Promise<Map<string, string | null>> {
  const client = new QueueClient({ url: frontendUrl });
  const owners = new Map<string, string | null>();
  try {
    let cursor: string | undefined;
    for (;;) {
      const page = await client.messageList({ limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const message of page.messages) {
        owners.set(message.msgid, message.owner);
      }
      if (page.end || page.next === null) {
        return owners;
      }
      cursor = page.next;
    }
  } finally {
    await client.close();
  }
}

/**
 * Lists the evpids in an smtpd's queue now (`smtpctl show queue`, whose lines start with the
 * evpid and a `|`). smtpd loads each envelope through queue-rest to print it.
 */
export async function queuedEvpids(smtpd: SmtpdInstance): Promise<string[]> {
  const result = await smtpd.smtpctl(['show', 'queue']);
  if (result.code !== 0) {
    throw new Error(`smtpctl show queue failed with status ${result.code}: ${result.stderr}`);
  }
  const evpids: string[] = [];
  for (const line of result.stdout.split('\n')) {
    const match = /^([0-9a-f]{16})\|/.exec(line);
    if (match !== null) {
      evpids.push(match[1]!);
    }
  }
  return evpids;
}

/** One recipient's copy of a message, as the relay sink received it. */
export interface RelayedCopy {
  /** `testId/recipient`. */
  key: string;
  /** Address of the smtpd that delivered it. */
  from: string;
}

/** Splits each sink message into one copy per recipient, named by `testIdOf` of its data. */
export function relayedCopies(
  messages: SinkMessage[],
  testIdOf: (data: Buffer) => string | null,
): RelayedCopy[] {
  return messages.flatMap((message) =>
    message.to.map((recipient) => ({
      key: `${testIdOf(message.data)}/${recipient}`,
      from: message.remoteAddress,
    })),
  );
}
