import { epochNow } from './probes/event-log.js';
import { SmtpConnection, type SmtpReply } from './smtp-connection.js';

export interface LoadOptions {
  /** SMTP port on 127.0.0.1. */
  port: number;
  /** Messages to send in all. */
  messages: number;
  /** SMTP sessions open at the same time. */
  sessions: number;
  /** Messages sent over one connection before it is closed and a new one opened. */
  messagesPerConnection: number;
  from: string;
  recipientOf(index: number): string;
  /** Returns the bytes of message `index`, CRLF line ends, no line starting with a dot. */
  messageOf(index: number): Buffer;
}

export interface LoadResult {
  /** Messages whose final dot got a 250 reply. */
  accepted: number;
  /** Messages that got any other reply at some step. */
  failed: number;
  /** Every reply received, by code. */
  replies: Record<string, number>;
  /** The first rejecting reply of each failed message, at most 10. */
  failureSamples: string[];
  connections: number;
  /** Epoch ms, fractional: when the first connection was opened. */
  startedAt: number;
  /** Epoch ms, fractional: when the last message was accepted, or `startedAt`. */
  lastAcceptedAt: number;
}

const MAX_FAILURE_SAMPLES = 10;

/**
 * Sends `messages` messages over `sessions` concurrent SMTP sessions, one command at a time
 * (no pipelining), one recipient per message. Each session takes the next message number
 * from a shared counter, so the sessions stay busy until the last message. A failed message
 * is counted, not sent again; a connection that the server closed is replaced.
 */
export async function sendLoad(options: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    accepted: 0,
    failed: 0,
    replies: {},
    failureSamples: [],
    connections: 0,
    startedAt: epochNow(),
    lastAcceptedAt: 0,
  };
  let next = 0;
  const takeIndex = () => (next < options.messages ? next++ : null);

  const count = (reply: SmtpReply) => {
    result.replies[reply.code] = (result.replies[reply.code] ?? 0) + 1;
    return reply;
  };
  const fail = (reply: SmtpReply) => {
    result.failed += 1;
    if (result.failureSamples.length < MAX_FAILURE_SAMPLES) result.failureSamples.push(reply.line);
  };

  const session = async () => {
    for (let index = takeIndex(); index !== null; ) {
      result.connections += 1;
      const { connection, greeting } = await SmtpConnection.open(options.port);
      try {
        count(greeting);
        const ehlo = count(await connection.command('EHLO client.test'));
        if (greeting.code !== 220 || ehlo.code !== 250) {
          throw new Error(
            `the SMTP server at port ${options.port} rejected the session: ${ehlo.line}`,
          );
        }

        for (let sent = 0; index !== null && sent < options.messagesPerConnection; sent++) {
          const reply = await sendOne(connection, options, index, count);
          if (reply.code === 250) {
            result.accepted += 1;
            result.lastAcceptedAt = epochNow();
          } else {
            fail(reply);
          }
          index = takeIndex();
          if (connection.closed) break;
        }
        if (!connection.closed) count(await connection.command('QUIT'));
      } finally {
        connection.close();
      }
    }
  };

  await Promise.all(Array.from({ length: options.sessions }, session));
  if (result.lastAcceptedAt === 0) result.lastAcceptedAt = result.startedAt;
  return result;
}

/** Runs MAIL, RCPT, DATA and the message; returns the final reply or the first refusal. */
async function sendOne(
  connection: SmtpConnection,
  options: LoadOptions,
  index: number,
  count: (reply: SmtpReply) => SmtpReply,
): Promise<SmtpReply> {
  const mail = count(await connection.command(`MAIL FROM:<${options.from}>`));
  if (mail.code !== 250) return mail;

  const rcpt = count(await connection.command(`RCPT TO:<${options.recipientOf(index)}>`));
  if (rcpt.code !== 250) {
    if (!connection.closed) count(await connection.command('RSET'));
    return rcpt;
  }

  const data = count(await connection.command('DATA'));
  if (data.code !== 354) return data;

  const message = options.messageOf(index);
  return count(await connection.send(Buffer.concat([message, Buffer.from('.\r\n')])));
}
