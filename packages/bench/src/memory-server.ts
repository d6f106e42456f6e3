#!/usr/bin/env node
import { startServer } from '@smtpq/server';
import { createQueueStore, MemoryDriver } from '@smtpq/store';

/*
 * The frontend server over a store in memory, started by the benchmark as a child process with
 * `--listen 127.0.0.1:PORT`. Its commit latency is what the server and HTTP cost without
 * storage, and the difference to the fs figure is the time spent in the store.
 */

const listen = process.argv[process.argv.indexOf('--listen') + 1] ?? '';
const match = /^127\.0\.0\.1:(\d+)$/.exec(listen);
if (match === null) {
  process.stderr.write(`memory-server: expected --listen 127.0.0.1:PORT, got ${listen}\n`);
  process.exit(2);
}

const running = await startServer({
  store: createQueueStore(new MemoryDriver()),
  host: '127.0.0.1',
  port: Number(match[1]),
  gcIntervalMs: 0,
});

process.on('SIGTERM', () => {
  running.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
