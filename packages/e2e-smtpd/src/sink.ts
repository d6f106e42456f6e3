import net from 'node:net';
import { type Stoppable, track, untrack } from './processes.js';

/** One message the sink accepted. */
export interface SinkMessage {
  from: string;
  to: string[];
  /** The DATA content with dot-stuffing removed, without the final `.` line. */
  data: Buffer;
  /** Address the sending client connected from. */
  remoteAddress: string;
}

/** A small SMTP server on 127.0.0.1 that records what smtpd relays to it. */
export interface SmtpSink extends Stoppable {
  readonly port: number;
  /** Every accepted message, in order of acceptance. */
  readonly messages: SinkMessage[];
  /** Number of recipients rejected with 451 while the sink rejected mail. */
  readonly refusedRecipients: number;
  /** Rejects every RCPT TO with 451 from now on. */
  refuse(): void;
  /** Accepts mail from now on. */
  accept(): void;
}

const terminator = Buffer.from('\r\n.\r\n');

/**
 * Starts a sink. With `refuse: true` it rejects every RCPT TO with `451 4.3.0` until
 * `accept()`, so that smtpd keeps the mail queued and retries later.
 */
export async function startSink(options: { refuse?: boolean } = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const sockets = new Set<net.Socket>();
  let refusing = options.refuse ?? false;
  let refusedRecipients = 0;

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serveSession(socket, {
      isRefusing: () => refusing,
      onRefused: () => {
        refusedRecipients += 1;
      },
      onMessage: (message) =>
        messages.push({ ...message, remoteAddress: socket.remoteAddress ?? '' }),
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const sink: SmtpSink = {
    name: `SMTP sink on 127.0.0.1:${port}`,
    port,
    messages,
    get refusedRecipients() {
      return refusedRecipients;
    },
    refuse: () => {
      refusing = true;
    },
    accept: () => {
      refusing = false;
    },
    stop: async () => {
      untrack(sink);
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(sink);
  return sink;
}

interface SessionHooks {
  isRefusing(): boolean;
  onRefused(): void;
  onMessage(message: Omit<SinkMessage, 'remoteAddress'>): void;
}

/** Speaks the server side of one SMTP session: no PIPELINING, no STARTTLS, no CHUNKING. */
function serveSession(socket: net.Socket, hooks: SessionHooks): void {
  let pending: Buffer = Buffer.alloc(0);
  let from = '';
  let to: string[] = [];
  // While DATA is open: the content received so far, after a leading CRLF so that the
  // terminator CRLF.CRLF also matches a message whose first line is the final dot.
  let dataChunks: Buffer[] | null = null;
  let dataLength = 0;

  const reply = (line: string) => socket.write(`${line}\r\n`);
  reply('220 sink.test ESMTP smtpq e2e sink');

  const command = (line: string) => {
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'EHLO') {
      socket.write('250-sink.test\r\n250-8BITMIME\r\n250 SIZE 134217728\r\n');
    } else if (verb === 'HELO') {
      reply('250 sink.test');
    } else if (verb === 'MAIL') {
      from = addressOf(line);
      to = [];
      reply('250 2.1.0 Ok');
    } else if (verb === 'RCPT') {
      if (hooks.isRefusing()) {
        hooks.onRefused();
        reply('451 4.3.0 the sink refuses mail for now');
      } else {
        to.push(addressOf(line));
        reply('250 2.1.5 Ok');
      }
    } else if (verb === 'DATA') {
      if (to.length === 0) {
        reply('503 5.5.1 no valid recipient');
      } else {
        dataChunks = [Buffer.from('\r\n')];
        dataLength = 2;
        reply('354 end with <CRLF>.<CRLF>');
      }
    } else if (verb === 'RSET') {
      from = '';
      to = [];
      reply('250 2.0.0 Ok');
    } else if (verb === 'NOOP') {
      reply('250 2.0.0 Ok');
    } else if (verb === 'QUIT') {
      reply('221 2.0.0 Bye');
      socket.end();
    } else {
      reply('502 5.5.2 command not implemented');
    }
  };

  // Returns the bytes after the terminator once the DATA content is complete, else null.
  const takeData = (chunk: Buffer): Buffer | null => {
    const chunks = dataChunks!;
    chunks.push(chunk);
    dataLength += chunk.length;

    const region = lastBytes(chunks, chunk.length + terminator.length - 1);
    const found = region.indexOf(terminator);
    if (found === -1) {
      return null;
    }

    const all = Buffer.concat(chunks, dataLength);
    const end = dataLength - region.length + found;
    hooks.onMessage({ from, to, data: unstuffDots(all.subarray(2, end + 2)) });
    reply('250 2.0.0 Ok: queued by the sink');
    dataChunks = null;
    from = '';
    to = [];
    return all.subarray(end + terminator.length);
  };

  socket.on('data', (chunk: Buffer) => {
    let input: Buffer = chunk;
    if (dataChunks !== null) {
      const rest = takeData(chunk);
      if (rest === null) {
        return;
      }
      input = rest;
    }
    pending = pending.length === 0 ? input : Buffer.concat([pending, input]);

    for (;;) {
      const newline = pending.indexOf('\r\n');
      if (newline === -1) {
        return;
      }
      const line = pending.subarray(0, newline).toString('latin1');
      pending = pending.subarray(newline + 2);
      command(line);

      if (dataChunks !== null && pending.length > 0) {
        const rest = takeData(pending);
        pending = rest ?? Buffer.alloc(0);
        if (rest === null) {
          return;
        }
      }
    }
  });
}

/** Copies the last `count` bytes of a list of chunks. */
function lastBytes(chunks: Buffer[], count: number): Buffer {
  const parts: Buffer[] = [];
  let remaining = count;
  for (let i = chunks.length - 1; i >= 0 && remaining > 0; i -= 1) {
    const chunk = chunks[i]!;
    const part = chunk.length <= remaining ? chunk : chunk.subarray(chunk.length - remaining);
    parts.unshift(part);
    remaining -= part.length;
  }
  return Buffer.concat(parts);
}

function addressOf(line: string): string {
  const match = /<([^>]*)>/.exec(line);
  return match?.[1] ?? '';
}

/** Removes the dot that SMTP adds before each line that starts with a dot (RFC 5321 4.5.2). */
function unstuffDots(content: Buffer): Buffer {
  const parts: Buffer[] = [];
  let lineStart = 0;

  while (lineStart < content.length) {
    const newline = content.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? content.length : newline + 1;
    const skip = content[lineStart] === 0x2e ? 1 : 0;
    parts.push(content.subarray(lineStart + skip, lineEnd));
    lineStart = lineEnd;
  }
  return Buffer.concat(parts);
}
