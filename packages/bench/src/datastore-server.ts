#!/usr/bin/env node
import { startTestServer } from '@smtpq/datastore-testserver';

/*
 * The project's Datastore test server in a child process of the benchmark, so that its CPU
 * time is not taken from the benchmark's clients. It sends `{type: 'listening', address}`
 * over the IPC channel once ready. For each `{type: 'counts'}` message it sends back the RPCs
 * it received since its start, by method. It exits when the channel closes or on SIGTERM.
 */

const server = await startTestServer({ host: '127.0.0.1', port: 0 });

const stop = () => {
  server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);

process.on('message', (message: { type?: string }) => {
  if (message.type === 'counts') {
    process.send?.({ type: 'counts', counts: server.counters.callCounts() });
  }
});
process.send?.({ type: 'listening', address: server.address });
