import koffi from 'koffi';

/**
 * The few libc calls that Node does not offer: sendmsg and recvmsg with SCM_RIGHTS ancillary
 * data, memfd_create, and syslog. The constants and struct layouts are those of Linux on a
 * 64-bit processor (x86-64, arm64), the only platform queue-rest supports.
 */

const libc = koffi.load('libc.so.6');

export const recvmsg = libc.func('intptr_t recvmsg(int fd, void *msg, int flags)');
export const sendmsg = libc.func('intptr_t sendmsg(int fd, void *msg, int flags)');
export const close = libc.func('int close(int fd)');
export const memfdCreate = libc.func('int memfd_create(const char *name, unsigned int flags)');
export const openlog = libc.func('void openlog(void *ident, int option, int facility)');
export const syslog = libc.func('void syslog(int priority, const char *format, ...)');

export const MSG_CTRUNC = 0x8;
export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;
export const MSG_CMSG_CLOEXEC = 0x40000000;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;
export const MFD_CLOEXEC = 1;
export const LOG_PID = 0x01;
export const LOG_NDELAY = 0x08;
export const LOG_MAIL = 2 << 3;

export const EINTR = koffi.os.errno.EINTR ?? 4;
export const EAGAIN = koffi.os.errno.EAGAIN ?? 11;

/** struct msghdr on LP64 Linux: 56 bytes. */
export const MSGHDR = {
  size: 56,
  iov: 16,
  iovlen: 24,
  control: 32,
  controllen: 40,
  flags: 48,
} as const;

/** struct iovec on LP64 Linux: base pointer and length. */
export const IOVEC_SIZE = 16;

/** struct cmsghdr on LP64 Linux: size_t cmsg_len, int cmsg_level, int cmsg_type, then data. */
export const CMSGHDR = { level: 8, type: 12, data: 16 } as const;

/** CMSG_SPACE(bytes): a header and the data rounded up to 8 bytes. */
export function cmsgSpace(bytes: number): number {
  return CMSGHDR.data + Math.ceil(bytes / 8) * 8;
}

/** Fails at start on a platform whose struct layouts differ from the ones above. */
export function checkPlatform(): void {
  if (process.platform !== 'linux' || koffi.sizeof('void *') !== 8) {
    throw new Error(
      `queue-rest runs only on 64-bit Linux, not on ${process.platform} ` +
        `with ${koffi.sizeof('void *') * 8}-bit pointers`,
    );
  }
}

export function errno(): number {
  return koffi.errno();
}

/** Native memory that never moves, with a Buffer view of it and its address. */
export interface NativeBuffer {
  pointer: unknown;
  address: bigint;
  bytes: Buffer;
}

export function allocNative(size: number): NativeBuffer {
  const pointer = koffi.alloc('uint8', size);
  const bytes = Buffer.from(koffi.view(pointer, size));
  bytes.fill(0);
  return { pointer, address: BigInt(koffi.address(pointer)), bytes };
}

/** Events of a koffi poll handle; koffi 3.3.4 calls back with (status, events). */
export interface PollEvents {
  readable: boolean;
  writable: boolean;
  disconnect: boolean;
}

export interface PollHandle {
  stop(): void;
  close(): void;
  unref(): void;
  ref(): void;
}

/**
 * Watches `fd` for readability on Node's own event loop (libuv uv_poll), so that waiting
 * for smtpd takes no thread. The reads themselves pass MSG_DONTWAIT.
 */
export function pollReadable(
  fd: number,
  callback: (status: number, events: PollEvents) => void,
): PollHandle {
  const start = koffi.node.poll as unknown as (
    fd: number,
    options: { readable: boolean },
    callback: (status: number, events: PollEvents) => void,
  ) => PollHandle;
  return start(fd, { readable: true }, callback);
}
