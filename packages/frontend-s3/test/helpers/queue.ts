import { createHash } from 'node:crypto';
import { QueueError } from '@smtpq/protocol';
import type { QueueStore } from '@smtpq/store';

/** Returns a body upload of `bytes` with its digest and length, as the server passes it on. */
export function upload(bytes: Buffer) {
  return {
    source: (async function* () {
      yield bytes;
    })(),
    sha256: createHash('sha256').update(bytes).digest(),
    length: bytes.length,
  };
}

/** Returns the QueueError code a call ends with, or `no error`. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof QueueError) return error.code;
    throw error;
  }
  return 'no error';
}

export async function walkAll(store: QueueStore, limit = 1000): Promise<string[]> {
  const evpids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.walk({ cursor, limit });
    evpids.push(...page.envelopes.map((entry) => entry.evpid));
    if (page.end) return evpids;
    cursor = page.next ?? undefined;
  }
}

/** Creates a committed message with `envelopes` envelopes `rcpt N` and a small body. */
export async function committedMessage(store: QueueStore, msgid: string, envelopes: number) {
  await store.messageCreate({ msgid });
  for (let i = 1; i <= envelopes; i++) {
    await store.envelopeCreate(msgid, Buffer.from(`rcpt ${i}`), {
      evpid: msgid + i.toString(16).padStart(8, '0'),
    });
  }
  await store.bodyPut(msgid, upload(Buffer.from(`Subject: ${msgid}\r\n\r\nbody\r\n`)));
  await store.messageCommit(msgid);
}
