import net from 'node:net';
import { track } from '@smtpq/e2e-smtpd';
import { epochNow } from './probes/event-log.js';
import { setQuickAck } from './tcp-quickack.js';

/** An SMTP server on 127.0.0.1 that accepts every message and counts it, keeping no content. */
export interface CountingSink {
  readonly port: number;
  /** Messages accepted: their final dot got a 250 reply. */
  readonly messages: number;
  /** Epoch ms, fractional, of the last message accepted; 0 before the first. */
  readonly lastMessageAt: number;
  /** Resolves once `count` messages were accepted; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

const TERMINATOR = '\r\n.\r\n';

/**
 * Starts the sink that smtpd relays to. It advertises PIPELINING, as most MX peers do, and
 * replies to commands in the order they arrive. It accepts every message.
 */
export async function startCountingSink(): Promise<CountingSink> {
  const sockets = new Set<net.Socket>();
  const state = { messages: 0, lastMessageAt: 0 };
  const waiters = new Set<() => void>();
  let stopped = false;

  const onMessage = () => {
    state.messages += 1;
    state.lastMessageAt = epochNow();
    for (const waiter of waiters) waiter();
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serveConnection(socket, onMessage);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const sink = {
    name: `benchmark SMTP sink on 127.0.0.1:${port}`,
    port,
    get messages() {
      return state.messages;
    },
    get lastMessageAt() {
      return state.lastMessageAt;
    },
    waitForMessages: (count: number, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (state.messages < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `the sink received ${state.messages} of ${count} messages in ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(sink);
  return sink;
}

/** Serves one connection: line commands, and DATA content up to CRLF.CRLF, which is discarded. */
function serveConnection(socket: net.Socket, onMessage: () => void): void {
  socket.setNoDelay(true);
  setQuickAck(socket);
  let pending = '';
  // While DATA is open: the end of the content so far, starting with the CRLF that precedes
  // the content, so that a terminator split over two reads is still found.
  let dataTail: string | null = null;

  const reply = (line: string) => socket.write(`${line}\r\n`);
  reply('220 sink.test ESMTP smtpq benchmark sink');

  const command = (line: string) => {
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'EHLO') {
      socket.write('250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 134217728\r\n');
    } else if (verb === 'HELO') {
      reply('250 sink.test');
    } else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') {
      reply('250 2.0.0 Ok');
    } else if (verb === 'DATA') {
      dataTail = '\r\n';
      reply('354 end with <CRLF>.<CRLF>');
    } else if (verb === 'QUIT') {
      reply('221 2.0.0 Bye');
      socket.end();
    } else {
      reply('502 5.5.2 command not implemented');
    }
  };

  socket.on('data', (chunk: Buffer) => {
    setQuickAck(socket);
    let input = chunk.toString('latin1');
    for (;;) {
      if (dataTail !== null) {
        const text = dataTail + input;
        const end = text.indexOf(TERMINATOR);
        if (end === -1) {
          dataTail = text.slice(-(TERMINATOR.length - 1));
          return;
        }
        dataTail = null;
        onMessage();
        reply('250 2.0.0 Ok: counted by the sink');
        input = text.slice(end + TERMINATOR.length);
      }

      pending += input;
      input = '';
      const newline = pending.indexOf('\r\n');
      if (newline === -1) return;

      const line = pending.slice(0, newline);
      input = pending.slice(newline + 2);
      pending = '';
      command(line);
    }
  });
}
