import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';

/** A syslog receiver on a UNIX stream socket, as glibc's syslog(3) uses when /dev/log is one. */
export interface SyslogListener {
  readonly path: string;
  /** Every message received so far, without its `<PRI>` prefix. */
  messages(): string[];
  close(): Promise<void>;
}

/**
 * Listens on `path` for syslog messages. glibc connects to /dev/log with SOCK_DGRAM first and
 * falls back to SOCK_STREAM, where each message ends with a NUL byte. Node has no UNIX datagram
 * sockets, so this is a stream listener.
 */
export async function startSyslogListener(path: string): Promise<SyslogListener> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split(/\0|\n/);
      pending = parts.pop() ?? '';
      for (const part of parts) {
        if (part.length > 0) {
          received.push(part.replace(/^<\d+>/, ''));
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });

  rmSync(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  // smtpd's processes open the log before they drop privileges, but its delivery agents and a
  // backend may run as other users.
  chmodSync(path, 0o666);

  return {
    path,
    messages: () => [...received],
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
