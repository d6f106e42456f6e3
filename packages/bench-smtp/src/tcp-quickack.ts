import type net from 'node:net';
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const setsockopt = libc.func(
  'int setsockopt(int fd, int level, int name, const void *value, uint32_t length)',
);

/** IPPROTO_TCP and TCP_QUICKACK of Linux (netinet/in.h, netinet/tcp.h). */
const IPPROTO_TCP = 6;
const TCP_QUICKACK = 12;
const ONE = Buffer.from(new Int32Array([1]).buffer);

/**
 * Sets TCP_QUICKACK on a connected socket, so that the kernel acknowledges the next segments
 * at once instead of delaying the ACK by up to 40 ms. The kernel can leave quick-ACK mode
 * again, so it is set after every read.
 *
 * smtpd's MTA writes a message and its final `.` CRLF in two writes, with Nagle's algorithm
 * on: the dot waits for the ACK of the message, which a delayed ACK holds back, and each
 * relayed message then costs about 45 ms on loopback whatever the queue does.
 * Returns false when the socket has no file descriptor to set it on.
 */
export function setQuickAck(socket: net.Socket): boolean {
  // Node keeps the descriptor of a TCP socket in its handle; it has no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return false;
  return setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, ONE, ONE.length) === 0;
}
