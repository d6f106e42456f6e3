import {
  allocNative,
  CMSGHDR,
  cmsgSpace,
  EAGAIN,
  EINTR,
  errno,
  IOVEC_SIZE,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  MSGHDR,
  type NativeBuffer,
  type PollHandle,
  pollReadable,
  recvmsg,
  SCM_RIGHTS,
  SOL_SOCKET,
  sendmsg,
} from './libc.js';

/** Bytes read per recvmsg; smtpd's own imsg reader uses 65535. */
const RECEIVE_BYTES = 65536;

/** Passed fds accepted per recvmsg; smtpd sends at most one per sendmsg. */
const RECEIVE_MAX_FDS = 16;

/** Largest frame sent in one sendmsg: an imsg frame is at most 16384 bytes. */
const SEND_BYTES = 16384;

/** Delay in ms before a sendmsg that found the socket buffer full is tried again. */
const SEND_RETRY_MS = 1;

/** A failure of the socket to smtpd itself; queue-rest cannot go on without it. */
export class TransportFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportFault';
  }
}

export interface TransportHandlers {
  /** Bytes of one recvmsg, with the fds that came with them, in order. */
  data(bytes: Buffer, fds: number[]): void;
  /** The peer closed its end. */
  end(): void;
  error(error: Error): void;
}

interface MessageBuffers {
  native: NativeBuffer;
  dataOffset: number;
  controlOffset: number;
  controlBytes: number;
}

/**
 * Lays out, in one block of native memory, a struct msghdr that points to one iovec, a
 * control buffer and a data buffer, so each call only fills in lengths.
 */
function allocMessage(dataBytes: number, controlBytes: number): MessageBuffers {
  const iovOffset = MSGHDR.size;
  const controlOffset = iovOffset + IOVEC_SIZE;
  const dataOffset = controlOffset + controlBytes;
  const native = allocNative(dataOffset + dataBytes);
  const { bytes, address } = native;

  bytes.writeBigUInt64LE(address + BigInt(iovOffset), MSGHDR.iov);
  bytes.writeBigUInt64LE(1n, MSGHDR.iovlen);
  bytes.writeBigUInt64LE(address + BigInt(dataOffset), iovOffset);
  return { native, dataOffset, controlOffset, controlBytes };
}

function setBuffers(message: MessageBuffers, dataBytes: number, controlBytes: number): void {
  const { bytes, address } = message.native;
  const iovOffset = MSGHDR.size;

  bytes.writeBigUInt64LE(BigInt(dataBytes), iovOffset + 8);
  const control = controlBytes === 0 ? 0n : address + BigInt(message.controlOffset);
  bytes.writeBigUInt64LE(control, MSGHDR.control);
  bytes.writeBigUInt64LE(BigInt(controlBytes), MSGHDR.controllen);
  bytes.writeInt32LE(0, MSGHDR.flags);
}

/**
 * Returns the fds of the SCM_RIGHTS messages in a received control buffer (cmsg(3) layout:
 * each header is followed by its data, padded to 8 bytes).
 */
function readPassedFds(control: Buffer, length: number): number[] {
  const fds: number[] = [];
  let offset = 0;

  while (offset + CMSGHDR.data <= length) {
    const cmsgLength = Number(control.readBigUInt64LE(offset));
    if (cmsgLength < CMSGHDR.data || offset + cmsgLength > length) break;

    const level = control.readInt32LE(offset + CMSGHDR.level);
    const type = control.readInt32LE(offset + CMSGHDR.type);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let at = offset + CMSGHDR.data; at + 4 <= offset + cmsgLength; at += 4) {
        fds.push(control.readInt32LE(at));
      }
    }
    offset += Math.ceil(cmsgLength / 8) * 8;
  }
  return fds;
}

/**
 * The socket to smtpd (fd 0, one end of an AF_UNIX stream socketpair) read with recvmsg and
 * written with sendmsg, so that file descriptors travel as SCM_RIGHTS ancillary data. Node's
 * net.Socket and process.stdin would drop them silently.
 */
export class FdTransport {
  private readonly fd: number;
  private readonly receiveBuffers = allocMessage(RECEIVE_BYTES, cmsgSpace(4 * RECEIVE_MAX_FDS));
  private readonly sendBuffers = allocMessage(SEND_BYTES, cmsgSpace(4));
  private poll: PollHandle | undefined;
  private handlers: TransportHandlers | undefined;

  constructor(fd: number) {
    this.fd = fd;
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.poll = pollReadable(this.fd, (status) => {
      if (status < 0) {
        this.fail(new TransportFault(`waiting for data on fd ${this.fd} failed (${status})`));
        return;
      }
      this.drain();
    });
  }

  stop(): void {
    this.poll?.stop();
    this.poll?.close();
    this.poll = undefined;
  }

  /** Sends one frame, with `passFd` attached to its first byte when given. */
  async send(frame: Buffer, passFd?: number): Promise<void> {
    if (frame.length > SEND_BYTES) {
      throw new TransportFault(`frame of ${frame.length} bytes exceeds ${SEND_BYTES} bytes`);
    }

    let sent = 0;
    let fd = passFd;
    while (sent < frame.length) {
      const n = this.sendOnce(frame.subarray(sent), fd);
      if (n === 'again') {
        await new Promise((resolve) => setTimeout(resolve, SEND_RETRY_MS));
        continue;
      }
      // The kernel attaches the fd to the first byte sent; the rest goes without it.
      fd = undefined;
      sent += n;
    }
  }

  private sendOnce(bytes: Buffer, passFd: number | undefined): number | 'again' {
    const message = this.sendBuffers;
    const native = message.native.bytes;
    bytes.copy(native, message.dataOffset);

    let controlBytes = 0;
    if (passFd !== undefined) {
      controlBytes = cmsgSpace(4);
      native.fill(0, message.controlOffset, message.controlOffset + controlBytes);
      native.writeBigUInt64LE(BigInt(CMSGHDR.data + 4), message.controlOffset);
      native.writeInt32LE(SOL_SOCKET, message.controlOffset + CMSGHDR.level);
      native.writeInt32LE(SCM_RIGHTS, message.controlOffset + CMSGHDR.type);
      native.writeInt32LE(passFd, message.controlOffset + CMSGHDR.data);
    }
    setBuffers(message, bytes.length, controlBytes);

    for (;;) {
      const n = Number(sendmsg(this.fd, message.native.pointer, MSG_NOSIGNAL | MSG_DONTWAIT));
      if (n >= 0) return n;

      const code = errno();
      if (code === EINTR) continue;
      if (code === EAGAIN) return 'again';
      throw new TransportFault(`sendmsg on fd ${this.fd} failed with errno ${code}`);
    }
  }

  /** Reads until the socket has nothing more, then waits for the next poll event. */
  private drain(): void {
    for (;;) {
      let result: ReturnType<FdTransport['receiveOnce']>;
      try {
        result = this.receiveOnce();
      } catch (error) {
        this.fail(error as Error);
        return;
      }

      if (result === 'again') return;
      if (result === 'end') {
        this.stop();
        this.handlers?.end();
        return;
      }
      this.handlers?.data(result.bytes, result.fds);
    }
  }

  private receiveOnce(): { bytes: Buffer; fds: number[] } | 'again' | 'end' {
    const message = this.receiveBuffers;
    setBuffers(message, RECEIVE_BYTES, message.controlBytes);

    let n: number;
    for (;;) {
      n = Number(recvmsg(this.fd, message.native.pointer, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (n >= 0) break;

      const code = errno();
      if (code === EINTR) continue;
      if (code === EAGAIN) return 'again';
      throw new TransportFault(`recvmsg on fd ${this.fd} failed with errno ${code}`);
    }

    const native = message.native.bytes;
    const controlLength = Number(native.readBigUInt64LE(MSGHDR.controllen));
    const control = native.subarray(message.controlOffset, message.controlOffset + controlLength);
    const fds = readPassedFds(control, controlLength);

    if ((native.readInt32LE(MSGHDR.flags) & MSG_CTRUNC) !== 0) {
      throw new TransportFault(
        `recvmsg on fd ${this.fd} truncated the passed fds ` +
          `(more than ${RECEIVE_MAX_FDS} in one read)`,
      );
    }
    if (n === 0 && fds.length === 0) return 'end';

    const bytes = Buffer.from(native.subarray(message.dataOffset, message.dataOffset + n));
    return { bytes, fds };
  }

  private fail(error: Error): void {
    this.stop();
    this.handlers?.error(error);
  }
}
