import type { DecodedWalkEntry, Evpid, MessageInfo, Msgid, QueueClient } from '@smtpq/protocol';
import { QueueError } from '@smtpq/protocol';
import type { Command } from 'commander';
import {
  addFrontendOptions,
  CommandError,
  type FrontendFlags,
  messageEnvelopes,
  openClient,
  parseEvpid,
  parseMsgid,
  rejectionReason,
  runReporting,
} from './frontend-access.js';
import { writeLine, writeTable } from './output.js';

/** Messages whose envelopes `queue ls` counts at the same time, one request each. */
const COUNT_CONCURRENCY = 8;

/** Messages asked for per page of the message list. */
const MESSAGE_PAGE_LIMIT = 1000;

interface QueueFlags extends FrontendFlags {
  json?: boolean;
}

/** One message of `queue ls`, with the counts of its envelopes. */
interface MessageSummary {
  msgid: Msgid;
  state: MessageInfo['state'];
  createdAt: string;
  ageSeconds: number;
  bodySize: number | null;
  envelopes: number;
  /** Envelopes that queue-rest rejects and never hands to smtpd. */
  rejected: number;
}

/** One envelope of `queue ls MSGID`. */
interface EnvelopeSummary {
  evpid: Evpid;
  bytes: number;
  etag: string;
  /** The `dest:` (else `rcpt:`) line of a text envelope, or null. */
  recipient: string | null;
  /** Reason queue-rest rejects it and never hands it to smtpd, or null. */
  rejected: string | null;
}

/** Adds `smtpq queue ls` and `smtpq queue show` to the command line. */
export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('Inspect the queue that a frontend stores: messages, envelopes, their bytes.');

  addFrontendOptions(
    queue
      .command('ls')
      .argument('[msgid]', 'list the envelopes of this message instead', parseMsgid)
      .description(
        'List every message with its state, age, body size and envelope count (one request ' +
          'per message for the count), or the envelopes of one message, uncommitted ones ' +
          'included. Envelopes that queue-rest rejects and never hands to smtpd (larger than ' +
          "smtpd's envelope buffer, or not text) are marked with the reason.",
      )
      .option('--json', 'print JSON instead of a table'),
  ).action(async (msgid: Msgid | undefined, flags: QueueFlags) => {
    await runReporting(flags.url, async () => {
      const client = await openClient(flags);
      try {
        if (msgid === undefined) await listMessages(client, flags);
        else await listEnvelopes(client, msgid, flags);
      } finally {
        await client.close();
      }
    });
  });

  addFrontendOptions(
    queue
      .command('show')
      .argument('<evpid>', 'the envelope to print', parseEvpid)
      .description(
        'Print the bytes of one envelope on stdout exactly as stored (pipe them to xxd when ' +
          'they are binary), and its size, ETag and any reason queue-rest rejects it on stderr.',
      )
      .option('--json', 'print JSON with the bytes in base64 instead'),
  ).action(async (evpid: Evpid, flags: QueueFlags) => {
    await runReporting(flags.url, async () => {
      const client = await openClient(flags);
      try {
        await showEnvelope(client, evpid, flags);
      } finally {
        await client.close();
      }
    });
  });
}

async function listMessages(client: QueueClient, flags: QueueFlags): Promise<void> {
  const messages: MessageInfo[] = [];
  for (let cursor: string | undefined, end = false; !end; ) {
    const page = await client.messageList({ cursor, limit: MESSAGE_PAGE_LIMIT });
    messages.push(...page.messages);
    cursor = page.next ?? undefined;
    end = page.end;
  }

  const now = Date.now();
  const summaries = await mapConcurrently(messages, COUNT_CONCURRENCY, (message) =>
    summarizeMessage(client, message, now, flags),
  );
  const listed = summaries.filter((summary): summary is MessageSummary => summary !== null);

  if (flags.json) {
    writeLine(JSON.stringify(listed, null, 2));
    return;
  }
  const rows = listed.map((summary) => [
    summary.msgid,
    summary.state,
    formatAge(summary.ageSeconds),
    summary.bodySize === null ? '-' : String(summary.bodySize),
    String(summary.envelopes),
    summary.rejected === 0 ? '' : `${summary.rejected} rejected by queue-rest`,
  ]);
  writeTable(['MSGID', 'STATE', 'AGE', 'BODY', 'ENVELOPES', 'NOTE'], rows);
}

/** Counts the envelopes of a message; returns null when it was deleted meanwhile. */
async function summarizeMessage(
  client: QueueClient,
  message: MessageInfo,
  now: number,
  flags: FrontendFlags,
): Promise<MessageSummary | null> {
  let envelopes: DecodedWalkEntry[];
  try {
    envelopes = await messageEnvelopes(client, message.msgid, { includeUncommitted: true });
  } catch (error) {
    if (error instanceof QueueError && error.code === 'message-not-found') return null;
    throw error;
  }

  return {
    msgid: message.msgid,
    state: message.state,
    createdAt: message.createdAt,
    ageSeconds: ageSeconds(message.createdAt, now),
    bodySize: message.bodySize,
    envelopes: envelopes.length,
    rejected: envelopes.filter((envelope) => rejectionReason(envelope.data, flags) !== null).length,
  };
}

async function listEnvelopes(client: QueueClient, msgid: Msgid, flags: QueueFlags) {
  const message = await messageOrFail(client, msgid, flags.url);
  const envelopes = (await messageEnvelopes(client, msgid, { includeUncommitted: true })).map(
    (envelope): EnvelopeSummary => ({
      evpid: envelope.evpid,
      bytes: envelope.data.length,
      etag: envelope.etag,
      recipient: recipientOf(envelope.data),
      rejected: rejectionReason(envelope.data, flags),
    }),
  );

  if (flags.json) {
    writeLine(JSON.stringify({ message, envelopes }, null, 2));
    return;
  }
  const body = message.bodySize === null ? 'no body yet' : `body ${message.bodySize} bytes`;
  const age = formatAge(ageSeconds(message.createdAt, Date.now()));
  writeLine(
    `message ${msgid}: ${message.state}, created ${message.createdAt} (${age} ago), ${body}, ` +
      plural(envelopes.length, 'envelope'),
  );
  const rows = envelopes.map((envelope) => [
    envelope.evpid,
    String(envelope.bytes),
    envelope.recipient ?? '-',
    envelope.rejected === null ? '' : `rejected by queue-rest: ${envelope.rejected}`,
  ]);
  writeTable(['EVPID', 'BYTES', 'RECIPIENT', 'NOTE'], rows);
}

async function showEnvelope(client: QueueClient, evpid: Evpid, flags: QueueFlags) {
  let envelope: { data: Buffer; etag: string };
  try {
    envelope = await client.envelopeGet(evpid);
  } catch (error) {
    if (error instanceof QueueError && error.code === 'envelope-not-found') {
      throw new CommandError(`envelope ${evpid} not found in the frontend at ${flags.url}`);
    }
    throw error;
  }
  const rejected = rejectionReason(envelope.data, flags);

  if (flags.json) {
    const shown = { evpid, etag: envelope.etag, bytes: envelope.data.length, rejected };
    writeLine(JSON.stringify({ ...shown, data: envelope.data.toString('base64') }, null, 2));
    return;
  }
  process.stderr.write(`envelope ${evpid}: ${envelope.data.length} bytes, ETag ${envelope.etag}\n`);
  if (rejected !== null) {
    process.stderr.write(
      `queue-rest rejects this envelope and never hands it to smtpd: ${rejected}\n`,
    );
  }
  await writeBytes(envelope.data);
}

async function messageOrFail(client: QueueClient, msgid: Msgid, url: string): Promise<MessageInfo> {
  try {
    return await client.messageInfo(msgid);
  } catch (error) {
    if (error instanceof QueueError && error.code === 'message-not-found') {
      throw new CommandError(`message ${msgid} not found in the frontend at ${url}`);
    }
    throw error;
  }
}

/** Returns the recipient of a text envelope as smtpd writes it (`dest:`, else `rcpt:`). */
function recipientOf(data: Buffer): string | null {
  const text = data.toString('utf8');
  const line = /^dest: *(.+)$/m.exec(text) ?? /^rcpt: *(.+)$/m.exec(text);
  return line?.[1]?.trim() ?? null;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function ageSeconds(createdAt: string, now: number): number {
  return Math.max(0, Math.floor((now - Date.parse(createdAt)) / 1000));
}

/** Formats an age in its largest whole unit: 45s, 12m, 3h, 2d. */
function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function writeBytes(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Maps `items` with at most `limit` calls of `work` in flight, keeping their order. */
async function mapConcurrently<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
