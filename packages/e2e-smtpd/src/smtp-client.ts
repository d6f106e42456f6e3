import net from 'node:net';
import { acceptedMsgid, dotStuff } from './smtp-data.js';
import type { SmtpReply } from './swaks.js';

/** One mail transaction of a session. */
export interface SmtpTransaction {
  from: string;
  to: string[];
  /** The whole message; the client dot-stuffs it. */
  data: Buffer;
}

export interface TransactionResult {
  /** Whether the reply to the end of DATA was 250. */
  accepted: boolean;
  /** The reply that ended the transaction: the DATA reply, or the first refusal. */
  reply: SmtpReply;
  msgid: string | undefined;
}

/**
 * Sends several transactions over one SMTP session to host:port (127.0.0.1 by default), one
 * after the other. A transaction that gets no reply because the server closed the session
 * (after a 421) gets the reply `421 session closed`.
 */
export async function sendSession(
  port: number,
  transactions: SmtpTransaction[],
  host = '127.0.0.1',
): Promise<TransactionResult[]> {
  const session = await SmtpClientSession.open(port, host);
  const results: TransactionResult[] = [];

  try {
    await session.expect(await session.read(), 220);
    await session.expect(await session.command('EHLO client.test'), 250);

    for (const transaction of transactions) {
      if (session.closed) {
        results.push(closedResult());
        continue;
      }
      results.push(await session.transaction(transaction));
    }
    if (!session.closed) {
      await session.command('QUIT');
    }
  } finally {
    session.close();
  }
  return results;
}

function closedResult(): TransactionResult {
  return { accepted: false, reply: { code: 421, text: '421 session closed' }, msgid: undefined };
}

/**
 * One SMTP session driven step by step, for tests that act between two commands (stop the
 * frontend after RCPT TO, say).
 */
export class SmtpClientSession {
  closed = false;
  private buffer = '';
  private waiting: ((reply: SmtpReply) => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.deliver();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.({ code: 421, text: '421 session closed' });
      this.waiting = null;
    });
    socket.on('error', () => socket.destroy());
  }

  /** Connects to host:port (127.0.0.1 by default); the greeting is left for `read()`. */
  static async open(port: number, host = '127.0.0.1'): Promise<SmtpClientSession> {
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new SmtpClientSession(socket);
  }

  /** Runs MAIL, RCPT, DATA for one message; stops at the first refusal. */
  async transaction(transaction: SmtpTransaction): Promise<TransactionResult> {
    const mail = await this.command(`MAIL FROM:<${transaction.from}>`);
    if (mail.code !== 250) {
      return { accepted: false, reply: mail, msgid: undefined };
    }

    let accepted = 0;
    let refusal: SmtpReply | undefined;
    for (const recipient of transaction.to) {
      const rcpt = await this.command(`RCPT TO:<${recipient}>`);
      if (rcpt.code === 250) {
        accepted += 1;
      } else {
        refusal ??= rcpt;
      }
      if (this.closed) {
        return { accepted: false, reply: rcpt, msgid: undefined };
      }
    }
    if (accepted === 0) {
      await this.command('RSET');
      return { accepted: false, reply: refusal!, msgid: undefined };
    }

    const data = await this.command('DATA');
    if (data.code !== 354) {
      return { accepted: false, reply: data, msgid: undefined };
    }
    const end = await this.data(transaction.data);
    return { accepted: end.code === 250, reply: end, msgid: acceptedMsgid(end.text) };
  }

  /** Sends the message after a 354 reply, then the final dot, and returns the reply. */
  async data(message: Buffer): Promise<SmtpReply> {
    if (this.closed) {
      return { code: 421, text: '421 session closed' };
    }
    this.socket.write(dotStuff(message));
    return this.command('.');
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<SmtpReply> {
    if (this.closed) {
      return { code: 421, text: '421 session closed' };
    }
    this.socket.write(`${line}\r\n`);
    return this.read();
  }

  /** Reads the next reply; a closed session reads `421 session closed`. */
  read(): Promise<SmtpReply> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
      if (this.closed && this.waiting !== null) {
        this.waiting = null;
        resolve({ code: 421, text: '421 session closed' });
      }
    });
  }

  /** Throws unless the reply has `code`. */
  async expect(reply: SmtpReply, code: number): Promise<void> {
    if (reply.code !== code) {
      throw new Error(`expected an SMTP ${code} reply, got: ${reply.text}`);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** Hands the next complete reply (its last line decides) to the waiting reader. */
  private deliver(): void {
    if (this.waiting === null) {
      return;
    }
    let offset = 0;
    for (;;) {
      const newline = this.buffer.indexOf('\r\n', offset);
      if (newline === -1) {
        return;
      }
      const line = this.buffer.slice(offset, newline);
      offset = newline + 2;
      if (line[3] !== '-') {
        this.buffer = this.buffer.slice(offset);
        const resolve = this.waiting;
        this.waiting = null;
        resolve({ code: Number(line.slice(0, 3)), text: line });
        return;
      }
    }
  }
}
