import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

/**
 * A scripted smtpd for tests: it starts dist/main.js with fd 0 on one end of an AF_UNIX
 * stream socketpair, as smtpd's fork_proc_backend does, and speaks imsg on the other end
 * with sendmsg and recvmsg (SCM_RIGHTS for fds). This code is written apart from
 * queue-rest's own transport, so that the two check each other.
 */

export const MAIN_JS = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export type Layout = 'pre-7.7' | '7.7';

export const TYPE = {
  OK: 0,
  INIT: 2,
  CLOSE: 3,
  MESSAGE_CREATE: 4,
  MESSAGE_DELETE: 5,
  MESSAGE_COMMIT: 6,
  MESSAGE_FD_R: 7,
  ENVELOPE_CREATE: 8,
  ENVELOPE_DELETE: 9,
  ENVELOPE_LOAD: 10,
  ENVELOPE_UPDATE: 11,
  ENVELOPE_WALK: 12,
} as const;

const libc = koffi.load('libc.so.6');
const socketpair = libc.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)');
const sendmsg = libc.func('intptr_t sendmsg(int fd, void *msg, int flags)');
const recvmsg = libc.func('intptr_t recvmsg(int fd, void *msg, int flags)');
const closeFd = libc.func('int close(int fd)');

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EAGAIN = 11;

/** struct msghdr (LP64): iov at 16, iovlen 24, control 32, controllen 40, flags 48. */
class NativeMessage {
  readonly pointer: unknown;
  readonly bytes: Buffer;
  private readonly base: bigint;
  static readonly DATA = 256;

  constructor(readonly capacity: number) {
    this.pointer = koffi.alloc('uint8', NativeMessage.DATA + capacity);
    this.bytes = Buffer.from(koffi.view(this.pointer, NativeMessage.DATA + capacity));
    this.base = BigInt(koffi.address(this.pointer));
  }

  /** Lays out msghdr at 0, iovec at 64, control (up to 128 bytes) at 128, data at 256. */
  prepare(dataLength: number, controlLength: number): void {
    this.bytes.fill(0, 0, NativeMessage.DATA);
    this.bytes.writeBigUInt64LE(this.base + 64n, 16);
    this.bytes.writeBigUInt64LE(1n, 24);
    this.bytes.writeBigUInt64LE(controlLength === 0 ? 0n : this.base + 128n, 32);
    this.bytes.writeBigUInt64LE(BigInt(controlLength), 40);
    this.bytes.writeBigUInt64LE(this.base + BigInt(NativeMessage.DATA), 64);
    this.bytes.writeBigUInt64LE(BigInt(dataLength), 72);
  }
}

export function encodeFrame(layout: Layout, type: number, payload: Buffer, hasFd: boolean) {
  const header = Buffer.alloc(16);
  const length = 16 + payload.length;
  header.writeUInt32LE(type, 0);
  if (layout === '7.7') {
    header.writeUInt32LE((length | (hasFd ? 0x80000000 : 0)) >>> 0, 4);
  } else {
    header.writeUInt16LE(length, 4);
    header.writeUInt16LE(hasFd ? 1 : 0, 6);
  }
  header.writeUInt32LE(4242, 12);
  return Buffer.concat([header, payload]);
}

export interface Reply {
  type: number;
  data: Buffer;
  fd: number | undefined;
}

export interface LogRecord {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0, 0);
  return bytes;
}

export function u64(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value, 0);
  return bytes;
}

export function msgidBytes(msgid: string): Buffer {
  return u32(Number.parseInt(msgid, 16));
}

export function evpidBytes(evpid: string): Buffer {
  return u64(BigInt(`0x${evpid}`));
}

/** Reads `int r` at the start of a reply. */
export function result(reply: Reply): number {
  return reply.data.readInt32LE(0);
}

export function closeDescriptor(fd: number): void {
  closeFd(fd);
}

export class SmtpdPeer {
  readonly child: ChildProcess;
  readonly logs: LogRecord[] = [];
  readonly stderrText: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly fd: number;
  private open = true;
  private received = Buffer.alloc(0);
  private readonly fds: number[] = [];
  private readonly sendBuffer = new NativeMessage(65536);
  private readonly receiveBuffer = new NativeMessage(65536);
  private partialLine = '';

  constructor(
    readonly layout: Layout,
    args: string[],
  ) {
    const pair = new Int32Array(2);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) !== 0) {
      throw new Error(`socketpair failed with errno ${koffi.errno()}`);
    }
    this.fd = pair[0]!;
    const childEnd = pair[1]!;

    this.child = spawn(process.execPath, [MAIN_JS, ...args], {
      stdio: [childEnd, 'ignore', 'pipe'],
    });
    closeFd(childEnd);

    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => this.collectLog(text));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Sends bytes in one sendmsg, with `fd` as SCM_RIGHTS when given. */
  sendRaw(bytes: Buffer, fd?: number): void {
    const message = this.sendBuffer;
    const controlLength = fd === undefined ? 0 : 24;
    message.prepare(bytes.length, controlLength);
    if (fd !== undefined) {
      message.bytes.writeBigUInt64LE(20n, 128);
      message.bytes.writeInt32LE(1, 136);
      message.bytes.writeInt32LE(1, 140);
      message.bytes.writeInt32LE(fd, 144);
    }
    bytes.copy(message.bytes, NativeMessage.DATA);

    const sent = Number(sendmsg(this.fd, message.pointer, 0));
    if (sent !== bytes.length) {
      throw new Error(`sendmsg sent ${sent} of ${bytes.length} bytes (errno ${koffi.errno()})`);
    }
  }

  frame(type: number, payload: Buffer = Buffer.alloc(0), hasFd = false): Buffer {
    return encodeFrame(this.layout, type, payload, hasFd);
  }

  /** Sends one request and waits for its reply. */
  async call(type: number, payload: Buffer = Buffer.alloc(0), fd?: number): Promise<Reply> {
    this.sendRaw(this.frame(type, payload, fd !== undefined), fd);
    return this.reply();
  }

  /** Waits for the next reply frame. */
  async reply(timeoutMs = 30_000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.takeFrame();
      if (frame !== null) return frame;
      if (!this.receive()) {
        if (Date.now() > deadline) throw new Error('no reply from queue-rest in time');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  }

  /** Closes smtpd's end of the socket, so queue-rest reads end of file. */
  endOfFile(): void {
    if (!this.open) return;
    this.open = false;
    closeFd(this.fd);
  }

  async stop(): Promise<void> {
    this.endOfFile();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
    await this.exited;
    for (const fd of this.fds.splice(0)) closeFd(fd);
  }

  /** Waits until a log record matches, and returns it. */
  async waitForLog(match: (record: LogRecord) => boolean, timeoutMs = 30_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching log line; log so far:\n${this.stderrText.join('')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private collectLog(text: string): void {
    this.stderrText.push(text);
    const lines = (this.partialLine + text).split('\n');
    this.partialLine = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        this.logs.push(JSON.parse(line) as LogRecord);
      } catch {
        this.logs.push({ level: 'unparsed', msg: line });
      }
    }
  }

  private takeFrame(): Reply | null {
    if (this.received.length < 16) return null;

    const type = this.received.readUInt32LE(0);
    let length: number;
    let hasFd: boolean;
    if (this.layout === '7.7') {
      const field = this.received.readUInt32LE(4);
      length = field & 0x7fffffff;
      hasFd = (field & 0x80000000) !== 0;
    } else {
      length = this.received.readUInt16LE(4);
      hasFd = (this.received.readUInt16LE(6) & 1) !== 0;
    }
    if (this.received.length < length) return null;

    const data = Buffer.from(this.received.subarray(16, length));
    this.received = this.received.subarray(length);
    let fd: number | undefined;
    if (hasFd) {
      fd = this.fds.shift();
      if (fd === undefined) throw new Error('reply flagged with an fd, but no fd arrived');
    }
    return { type, data, fd };
  }

  /** One non-blocking recvmsg; returns whether it read anything. */
  private receive(): boolean {
    const message = this.receiveBuffer;
    message.prepare(message.capacity, 64);
    const n = Number(recvmsg(this.fd, message.pointer, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
    if (n < 0) {
      const code = koffi.errno();
      if (code === EAGAIN) return false;
      throw new Error(`recvmsg failed with errno ${code}`);
    }
    if (n === 0) throw new Error('queue-rest closed the socket');

    const controlLength = Number(message.bytes.readBigUInt64LE(40));
    if (controlLength >= 20) {
      const cmsgLength = Number(message.bytes.readBigUInt64LE(128));
      for (let at = 144; at + 4 <= 128 + cmsgLength; at += 4) {
        this.fds.push(message.bytes.readInt32LE(at));
      }
    }
    const bytes = Buffer.from(message.bytes.subarray(NativeMessage.DATA, NativeMessage.DATA + n));
    this.received = Buffer.concat([this.received, bytes]);
    return true;
  }
}
