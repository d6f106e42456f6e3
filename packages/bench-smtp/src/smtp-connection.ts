import net from 'node:net';

/** One SMTP reply: its code and its last line. */
export interface SmtpReply {
  code: number;
  line: string;
}

/** The reply a command gets when the server has closed the connection. */
export const CLOSED_REPLY: SmtpReply = { code: 421, line: '421 connection closed' };

/**
 * The client side of one SMTP connection without pipelining: each command is written only
 * after the reply to the previous one, so at most one reply is awaited at a time.
 */
export class SmtpConnection {
  closed = false;
  private buffer = '';
  private waiting: ((reply: SmtpReply) => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      this.deliver();
    });
    socket.on('close', () => {
      this.closed = true;
      this.resolve(CLOSED_REPLY);
    });
    socket.on('error', () => socket.destroy());
  }

  /** Connects to 127.0.0.1:port and returns the connection and the server's greeting. */
  static async open(port: number): Promise<{ connection: SmtpConnection; greeting: SmtpReply }> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });

    const connection = new SmtpConnection(socket);
    return { connection, greeting: await connection.read() };
  }

  /** Writes one command line and returns its reply. */
  command(line: string): Promise<SmtpReply> {
    return this.send(`${line}\r\n`);
  }

  /** Writes `bytes` as they are (a message after 354, with its final dot) and returns the reply. */
  send(bytes: string | Buffer): Promise<SmtpReply> {
    if (this.closed) return Promise.resolve(CLOSED_REPLY);

    const reply = this.read();
    this.socket.write(bytes);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  private read(): Promise<SmtpReply> {
    if (this.closed) return Promise.resolve(CLOSED_REPLY);

    return new Promise((resolve) => {
      this.waiting = resolve;
      this.deliver();
    });
  }

  /** Hands the next complete reply to the reader; a reply ends at a line without `-`. */
  private deliver(): void {
    while (this.waiting !== null) {
      const newline = this.buffer.indexOf('\r\n');
      if (newline === -1) return;

      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 2);
      if (line[3] !== '-') this.resolve({ code: Number(line.slice(0, 3)), line });
    }
  }

  private resolve(reply: SmtpReply): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(reply);
  }
}
